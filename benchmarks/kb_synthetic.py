"""Large synthetic knowledge bases for the speed benchmark (benchmark-only).

Copies of the real Guangdong guide documents, each with a district and year
after its title, its body sentences in another order and its own ids, stand
in for a 20,000- or 100,000-entry catalogue. Embedding 100,000 texts would
take hours on two cores, so ``NoisyCopyEncoder`` gives each copy its
original's real vector plus seeded gaussian noise instead.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from knowledge_base.encoder import Encoder
from knowledge_base.schema import Document

DISTRICTS = (
    "越秀区",
    "海珠区",
    "荔湾区",
    "天河区",
    "白云区",
    "黄埔区",
    "番禺区",
    "花都区",
    "南沙区",
    "从化区",
    "增城区",
)
FIRST_YEAR, YEARS = 2015, 10
# Item codes are at least 20 characters (knowledge_base.identifiers); a copy
# gets its own, or every code would be shared and dropped as not rare.
_ITEM_CODE_CHARS = 20
_SENTENCE_END = re.compile(r"[；。\n]")
# The document texts a search leg reads; each copy gets its own version.
SEARCHED_TEXTS = ("text", "body_text", "keyword_text")

# The noise on each vector component. 384 components of 0.01 give a noise
# norm near 0.2: a copy keeps a cosine of about 0.98 with its original,
# about as close as a real guide's nearest real neighbour (median 0.984 on
# the Guangdong guides: e5 puts all these texts in a narrow cone).
NOISE_SIGMA = 0.01


@dataclass(frozen=True)
class SyntheticCorpus:
    """Documents for one benchmark size.

    Attributes:
        documents: the real documents first, then copies up to the size.
        originals: each searched text of a copy → the original's text.
    """

    documents: list[Document]
    originals: dict[str, str]


def synthesise(real: Sequence[Document], size: int, seed: int = 0) -> SyntheticCorpus:
    """``size`` documents: all of ``real`` (or its first ``size``), then copies.

    Copy ``k`` of a document is numbered from 1; with 11 districts and 10
    years, titles repeat only past 110 copies of one document.
    """
    rng = np.random.default_rng(seed)
    documents = list(real[:size])
    originals: dict[str, str] = {}
    copy = 0
    while len(documents) < size:
        copy += 1
        for doc in real[: size - len(documents)]:
            varied = vary(doc, copy, rng)
            documents.append(varied)
            originals.update(
                (getattr(varied, name), getattr(doc, name))
                for name in _text_fields(doc)
            )
    return SyntheticCorpus(documents, originals)


def vary(doc: Document, copy: int, rng: np.random.Generator) -> Document:
    """Copy number ``copy`` of ``doc``: new title suffix, ids and sentence order."""
    district = DISTRICTS[(copy - 1) % len(DISTRICTS)]
    year = FIRST_YEAR + ((copy - 1) // len(DISTRICTS)) % YEARS
    title = f"{doc.title}（{district}{year}年）"
    texts = {
        name: _retitle(getattr(doc, name), doc.title, title, rng)
        for name in _text_fields(doc)
    }
    return dataclasses.replace(
        doc,
        doc_id=f"{doc.doc_id}-copy{copy}",
        title=title,
        answer=doc.answer.replace(doc.title, title, 1),
        identifiers=tuple(_own_code(code, copy) for code in doc.identifiers),
        **texts,
    )


def _text_fields(doc: Document) -> list[str]:
    """The searchable texts ``doc`` fills in (``text``, ``body_text``, …)."""
    return [
        name
        for name in SEARCHED_TEXTS
        if isinstance(getattr(doc, name, None), str) and getattr(doc, name)
    ]


def _own_code(identifier: str, copy: int) -> str:
    if len(identifier) < _ITEM_CODE_CHARS:
        return identifier
    return f"{identifier}C{copy}"


def _retitle(
    text: str, old_title: str, new_title: str, rng: np.random.Generator
) -> str:
    """``text`` under ``new_title``, with its body sentences shuffled."""
    body = text.removeprefix(old_title)
    sentences = [part for part in _SENTENCE_END.split(body) if part.strip()]
    rng.shuffle(sentences)
    return "\n".join([new_title, "；".join(sentences)]) if sentences else new_title


class NoisyCopyEncoder:
    """An ``Encoder`` whose passage vectors for copies are noisy real vectors.

    A text found in ``originals`` gets its original's vector from ``encoder``
    (normally a warm ``CachedEncoder``) plus gaussian noise, re-normalised;
    any other text is passed to ``encoder`` as is. Query vectors are kept in
    memory after the first call. ``passage_seconds`` and ``query_seconds``
    add up the time spent here, so that what calls it can be timed without.

    Args:
        encoder: the real model, ideally behind its cache.
        originals: searched text of a copy → text of its original.
        sigma: standard deviation of the noise on each component.
        seed: seeds the noise; the same calls in the same order give the
            same vectors.
    """

    def __init__(
        self,
        encoder: Encoder,
        originals: dict[str, str],
        sigma: float = NOISE_SIGMA,
        seed: int = 0,
    ):
        self.model_id = encoder.model_id
        self.dim = encoder.dim
        self._encoder = encoder
        self._originals = originals
        self._sigma = sigma
        self._rng = np.random.default_rng(seed)
        self._queries: dict[str, np.ndarray] = {}
        self.passage_seconds = 0.0
        self.query_seconds = 0.0

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        missing = [text for text in dict.fromkeys(texts) if text not in self._queries]
        if missing:
            vectors = self._encoder.encode_queries(missing)
            self._queries.update(zip(missing, vectors, strict=True))
        if texts:
            found = np.stack([self._queries[text] for text in texts])
        else:
            found = np.zeros((0, self.dim), dtype=np.float32)
        self.query_seconds += time.perf_counter() - started
        return found

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        sources = [self._originals.get(text, text) for text in texts]
        unique = list(dict.fromkeys(sources))
        real = self._encoder.encode_passages(unique)
        position = {text: row for row, text in enumerate(unique)}
        vectors = real[[position[source] for source in sources]].astype(np.float32)
        copies = np.array([text in self._originals for text in texts], dtype=bool)
        if copies.any():
            noise = self._rng.normal(0.0, self._sigma, (int(copies.sum()), self.dim))
            noisy = vectors[copies] + noise.astype(np.float32)
            vectors[copies] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
        self.passage_seconds += time.perf_counter() - started
        return vectors
