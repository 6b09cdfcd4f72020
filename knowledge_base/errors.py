"""Exceptions raised by the knowledge base, each with a stable ``code``.

Callers branch on the class or on ``code``; the service maps them to HTTP
status codes in one place (``knowledge_base.service``).
"""

from __future__ import annotations


class KnowledgeBaseError(Exception):
    """Base class: something in the knowledge base cannot be used as it is."""

    code = "kb_error"


class InvalidDataError(KnowledgeBaseError):
    """A guide or FAQ file breaks the schema in docs/knowledge-base.md."""

    code = "kb_invalid_data"


class DictionaryMissingError(KnowledgeBaseError):
    """The 政务 user dictionary or the stop-word list is not where it should be."""

    code = "kb_dictionary_missing"


class ModelMissingError(KnowledgeBaseError):
    """The embedding model has not been built (``make setup`` builds it)."""

    code = "kb_model_missing"


class IndexMissingError(KnowledgeBaseError):
    """No index at the given directory, or one that cannot be read."""

    code = "kb_index_missing"


class IndexMismatchError(KnowledgeBaseError):
    """The index was built with another embedding model than the one loaded."""

    code = "kb_index_mismatch"


class CalibrationError(KnowledgeBaseError):
    """The calibration file is malformed or the eval data cannot calibrate."""

    code = "kb_calibration_invalid"


class InvalidQueryError(KnowledgeBaseError):
    """A search request the service cannot answer as asked (HTTP 400)."""

    code = "invalid_query"


class DocumentNotFoundError(KnowledgeBaseError):
    """No document with the requested id (HTTP 404)."""

    code = "doc_not_found"
