"""The triage classifier: what kind of message this is, and about what.

Two linear heads over one sparse feature space (jieba words and character
bigrams, TF-IDF with sublinear counts, unit length). Training uses
scikit-learn's logistic regression; the trained weights are saved as plain
arrays (``model.npz`` and ``model.json``), and prediction is a few lines of
numpy, so loading runs no pickled code.
"""

from __future__ import annotations

import io
import json
import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge_base.errors import InvalidDataError
from knowledge_base.lifecycle import write_atomically
from knowledge_base.tokenizer import KbTokenizer

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.npz"
META_FILE = "model.json"
HEADS = ("kind", "topic")
# The publishers mask names and places with runs of *; they carry no meaning.
_MASK_CHARS = str.maketrans("", "", "*＊")


@dataclass(frozen=True)
class Triage:
    """The classifier's reading of one message; scores are probabilities."""

    kind: str
    kind_score: float
    topic: str
    topic_score: float


def features(tokenizer: KbTokenizer, text: str) -> list[str]:
    """Word tokens plus ``#``-prefixed character bigrams of ``text``."""
    text = text.translate(_MASK_CHARS)
    chars = [ch for ch in text.lower() if not ch.isspace()]
    bigrams = ["#" + a + b for a, b in zip(chars, chars[1:], strict=False)]
    return tokenizer.tokens(text) + bigrams


@dataclass(frozen=True)
class _Head:
    classes: tuple[str, ...]
    coef: np.ndarray  # (classes, features), float32
    intercept: np.ndarray  # (classes,)

    def probabilities(self, vector: dict[int, float]) -> np.ndarray:
        scores = self.intercept.astype(np.float64).copy()
        if vector:
            columns = np.fromiter(vector.keys(), dtype=np.int64)
            weights = np.fromiter(vector.values(), dtype=np.float64)
            scores += self.coef[:, columns].astype(np.float64) @ weights
        if len(self.classes) == 2:  # scikit-learn keeps one row for two classes
            positive = 1.0 / (1.0 + math.exp(-scores[0]))
            return np.array([1.0 - positive, positive])
        scores -= scores.max()
        exp = np.exp(scores)
        return exp / exp.sum()


class TriageModel:
    """Predicts a message's kind and topic from the saved weights."""

    def __init__(
        self,
        tokenizer: KbTokenizer,
        vocabulary: dict[str, int],
        idf: np.ndarray,
        heads: dict[str, _Head],
        meta: dict,
    ):
        self._tokenizer = tokenizer
        self._vocabulary = vocabulary
        self._idf = idf
        self._heads = heads
        self.meta = meta

    def vector(self, text: str) -> dict[int, float]:
        """TF-IDF weights of ``text`` by feature column, unit length."""
        counts = Counter(
            column
            for token in features(self._tokenizer, text)
            if (column := self._vocabulary.get(token)) is not None
        )
        weights = {
            column: (1.0 + math.log(count)) * float(self._idf[column])
            for column, count in counts.items()
        }
        norm = math.sqrt(sum(value * value for value in weights.values()))
        return (
            {column: value / norm for column, value in weights.items()} if norm else {}
        )

    def predict(self, text: str) -> Triage:
        """The most likely kind and topic of ``text`` with their probabilities."""
        vector = self.vector(text)
        kind, kind_score = self._best("kind", vector)
        topic, topic_score = self._best("topic", vector)
        return Triage(kind, kind_score, topic, topic_score)

    def probabilities(self, head: str, text: str) -> dict[str, float]:
        """Every class of ``head`` with its probability."""
        probs = self._heads[head].probabilities(self.vector(text))
        return dict(zip(self._heads[head].classes, map(float, probs), strict=True))

    def _best(self, head: str, vector: dict[int, float]) -> tuple[str, float]:
        model = self._heads[head]
        probs = model.probabilities(vector)
        best = int(np.argmax(probs))
        return model.classes[best], round(float(probs[best]), 4)

    def save(self, folder: Path) -> None:
        """Write ``model.npz`` and ``model.json`` into ``folder``, atomically."""
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {"idf": self._idf.astype(np.float32)}
        for name, head in self._heads.items():
            arrays[f"{name}_coef"] = head.coef.astype(np.float32)
            arrays[f"{name}_intercept"] = head.intercept.astype(np.float32)
        meta = {
            **self.meta,
            "format": FORMAT_VERSION,
            "vocabulary": self._vocabulary,
            "classes": {name: list(head.classes) for name, head in self._heads.items()},
        }
        weights = io.BytesIO()
        np.savez_compressed(weights, **arrays)
        write_atomically(folder / WEIGHTS_FILE, weights.getvalue())
        write_atomically(folder / META_FILE, json.dumps(meta, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path, tokenizer: KbTokenizer) -> TriageModel:
        """Read a model written by :meth:`save`.

        Raises:
            FileNotFoundError: the folder holds no model (run ``make triage``).
            InvalidDataError: the files are from another format or broken.
        """
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as arrays:
                loaded = {key: arrays[key] for key in arrays.files}
        except (ValueError, OSError, KeyError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise InvalidDataError(f"triage model in {folder} is unreadable") from exc
        if meta.get("format") != FORMAT_VERSION:
            raise InvalidDataError(f"triage model in {folder}: unknown format")
        heads = {
            name: _Head(
                tuple(meta["classes"][name]),
                loaded[f"{name}_coef"],
                loaded[f"{name}_intercept"],
            )
            for name in HEADS
        }
        vocabulary = {
            str(token): int(column) for token, column in meta.pop("vocabulary").items()
        }
        logger.info(
            "triage.model.loaded",
            extra={"features": len(vocabulary), "trained_on": meta.get("trained_on")},
        )
        return cls(tokenizer, vocabulary, loaded["idf"], heads, meta)


def train(
    tokenizer: KbTokenizer,
    labelled: dict[str, tuple[Sequence[str], Sequence[str]]],
    *,
    c: float = 1.0,
    meta: dict | None = None,
) -> TriageModel:
    """Fit the feature space on every text and one logistic head per label.

    Args:
        labelled: ``{"kind": (texts, labels), "topic": (texts, labels)}``.
        c: inverse regularisation strength (scikit-learn's ``C``).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    all_texts = sorted({text for texts, _ in labelled.values() for text in texts})
    vectorizer = TfidfVectorizer(
        analyzer=lambda text: features(tokenizer, text),
        sublinear_tf=True,
        min_df=2,
        dtype=np.float32,
    )
    vectorizer.fit(all_texts)
    heads = {}
    for name in HEADS:
        texts, labels = labelled[name]
        classifier = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
        classifier.fit(vectorizer.transform(texts), labels)
        heads[name] = _Head(
            tuple(str(label) for label in classifier.classes_),
            classifier.coef_.astype(np.float32),
            classifier.intercept_.astype(np.float32),
        )
    vocabulary = {
        str(token): int(column) for token, column in vectorizer.vocabulary_.items()
    }
    return TriageModel(tokenizer, vocabulary, vectorizer.idf_, heads, dict(meta or {}))
