"""Fixtures for the knowledge-base tests: a small model double and a layout.

``HashingEncoder`` stands in for the e5 model: it hashes character bigrams
into a normalised vector, so texts sharing words are near each other, and it
counts how many texts it was asked to encode.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from bot.settings import PROJECT_ROOT
from knowledge_base.pipeline import Layout
from knowledge_base.tokenizer import KbTokenizer

DATA_DIR = PROJECT_ROOT / "knowledge_base" / "data"
DICT_DIR = DATA_DIR / "dict"


class HashingEncoder:
    """Character-bigram hashing: deterministic, fast, roughly topical."""

    def __init__(self, dim: int = 64, model_id: str = "test/hashing-64"):
        self.dim = dim
        self.model_id = model_id
        self.encoded = 0

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        grams = [text[i : i + 2] for i in range(max(len(text) - 1, 1))]
        for gram in grams:
            digest = hashlib.md5(gram.encode()).digest()
            vector[int.from_bytes(digest[:4], "little") % self.dim] += 1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.encoded += len(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(text) for text in texts])

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)


class TableEncoder:
    """Returns the vector the test put in ``table`` for each text."""

    def __init__(self, table: dict[str, np.ndarray], model_id: str = "test/table"):
        self.table = table
        self.dim = len(next(iter(table.values())))
        self.model_id = model_id

    def _encode(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.table[text] for text in texts]).astype(np.float32)

    encode_queries = _encode
    encode_passages = _encode


@pytest.fixture(scope="session")
def tokenizer() -> KbTokenizer:
    return KbTokenizer.load(DICT_DIR)


@pytest.fixture
def encoder() -> HashingEncoder:
    return HashingEncoder()


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    """A layout with the real dictionary and empty build and data folders."""
    data = tmp_path / "data"
    (data / "guides").mkdir(parents=True)
    (data / "dict").symlink_to(DICT_DIR)
    (data / "stopwords.txt").symlink_to(DICT_DIR.parent / "stopwords.txt")
    return Layout(
        data_dir=data,
        embedder_dir=tmp_path / "build" / "embedder",
        index_dir=tmp_path / "build" / "index",
        cache_dir=tmp_path / "build" / "cache",
    )
