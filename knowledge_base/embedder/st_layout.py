"""The sentence-transformers files around the converted BERT: pooling and modules.

They mirror what sentence-transformers 5.7 writes for
Transformer -> Pooling("mean") -> Normalize, with fixed contents (no library
versions or dates) so every build gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "

_MODULES = [
    ("", "sentence_transformers.base.modules.transformer.Transformer"),
    ("1_Pooling", "sentence_transformers.sentence_transformer.modules.pooling.Pooling"),
    (
        "2_Normalize",
        "sentence_transformers.sentence_transformer.modules.normalize.Normalize",
    ),
]


def write_sentence_transformers_files(
    out_dir: Path, *, dim: int, max_length: int
) -> list[Path]:
    """Write ``modules.json`` and the per-module configs into ``out_dir``.

    Returns:
        The files written.
    """
    files = {
        "modules.json": [
            {"idx": idx, "name": str(idx), "path": path, "type": class_ref}
            for idx, (path, class_ref) in enumerate(_MODULES)
        ],
        "sentence_bert_config.json": {
            "max_seq_length": max_length,
            "transformer_task": "feature-extraction",
            "modality_config": {
                "text": {"method": "forward", "method_output_name": "last_hidden_state"}
            },
            "module_output_name": "token_embeddings",
        },
        "config_sentence_transformers.json": {
            "model_type": "SentenceTransformer",
            # encode_query()/encode_document() add these; plain encode() adds
            # nothing, which is how knowledge_base.embedder.Embedder calls it.
            "prompts": {"query": QUERY_PREFIX, "document": PASSAGE_PREFIX},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        # The engine averages every token, the prefix included.
        "1_Pooling/config.json": {
            "embedding_dimension": dim,
            "pooling_mode": "mean",
            "include_prompt": True,
        },
    }
    written = []
    for relative, data in files.items():
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    return written
