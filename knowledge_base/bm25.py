"""Okapi BM25 over pre-tokenised documents, with scores scaled into [0, 1].

The weights follow Robertson and Zaragoza, "The Probabilistic Relevance
Framework: BM25 and Beyond" (2009), with Lucene's non-negative idf
``log(1 + (N - df + 0.5) / (df + 0.5))``. Query terms count once each.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import sparse


class Bm25:
    """A BM25 scorer over a fixed list of token lists.

    Args:
        documents: one token list per document, in index order.
        k1: term-frequency saturation.
        b: document-length normalisation (0 = none, 1 = full).
    """

    def __init__(
        self, documents: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75
    ):
        self.k1, self.b = k1, b
        self.doc_count = len(documents)
        self.vocabulary: dict[str, int] = {}
        lengths = np.array([len(doc) for doc in documents], dtype=np.float64)
        self.average_length = float(lengths.mean()) if len(documents) else 0.0
        rows, cols, counts = self._term_counts(documents)
        frequency = (
            np.bincount(cols, minlength=len(self.vocabulary)) if cols else np.zeros(0)
        )
        self.idf = np.log1p((self.doc_count - frequency + 0.5) / (frequency + 0.5))
        self.unseen_idf = math.log1p((self.doc_count + 0.5) / 0.5)
        self._weights = self._weight_matrix(rows, cols, counts, lengths)

    @classmethod
    def load(cls, path: Path) -> Bm25:
        """Read what :meth:`save` wrote (no tokenising: loading stays fast).

        Raises:
            OSError, ValueError, KeyError: the file is missing or damaged.
        """
        with np.load(path, allow_pickle=False) as data:
            bm25 = cls.__new__(cls)
            bm25.k1, bm25.b, bm25.average_length, bm25.unseen_idf = (
                float(x) for x in data["params"]
            )
            bm25.doc_count = int(data["shape"][0])
            terms = [str(term) for term in data["terms"]]
            bm25.vocabulary = {term: col for col, term in enumerate(terms)}
            bm25.idf = data["idf"]
            bm25._weights = sparse.csc_matrix(
                (data["data"], data["indices"], data["indptr"]),
                shape=tuple(int(x) for x in data["shape"]),
            )
        return bm25

    def save(self, path: Path) -> None:
        """Write the statistics and weights, so a load needs no tokenising."""
        terms = np.array(list(self.vocabulary), dtype=np.str_)
        weights = self._weights
        with path.open("wb") as handle:
            np.savez(
                handle,
                params=np.array(
                    [self.k1, self.b, self.average_length, self.unseen_idf]
                ),
                terms=terms,
                idf=self.idf,
                data=weights.data,
                indices=weights.indices,
                indptr=weights.indptr,
                shape=np.array(weights.shape),
            )

    def _term_counts(
        self, documents: Sequence[Sequence[str]]
    ) -> tuple[list[int], list[int], list[int]]:
        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        for row, doc in enumerate(documents):
            for term, count in Counter(doc).items():
                col = self.vocabulary.setdefault(term, len(self.vocabulary))
                rows.append(row)
                cols.append(col)
                counts.append(count)
        return rows, cols, counts

    def _weight_matrix(
        self, rows: list[int], cols: list[int], counts: list[int], lengths: np.ndarray
    ) -> sparse.csc_matrix:
        shape = (self.doc_count, len(self.vocabulary))
        if not rows:
            return sparse.csc_matrix(shape, dtype=np.float64)
        tf = np.array(counts, dtype=np.float64)
        row_index = np.array(rows)
        length_norm = 1 - self.b + self.b * lengths[row_index] / self.average_length
        saturated = tf * (self.k1 + 1) / (tf + self.k1 * length_norm)
        values = saturated * self.idf[np.array(cols)]
        return sparse.csc_matrix((values, (row_index, np.array(cols))), shape=shape)

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """Raw BM25 score of every document for the query tokens (float64)."""
        ids = sorted({self.vocabulary[t] for t in query if t in self.vocabulary})
        if not ids or self.doc_count == 0:
            return np.zeros(self.doc_count)
        return np.asarray(self._weights[:, ids].sum(axis=1)).ravel()

    def query_weight(self, query: Sequence[str]) -> float:
        """The idf mass of the query: what one occurrence of every term scores.

        Terms never seen in the index count with the largest idf, so a query
        whose words are mostly unknown cannot reach a high scaled score.
        """
        return sum(
            float(self.idf[self.vocabulary[t]])
            if t in self.vocabulary
            else self.unseen_idf
            for t in set(query)
        )

    def scaled_scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 divided by ``query_weight`` and clipped to [0, 1].

        1.0 means every query term occurs in the document at least about as
        strongly as one occurrence in an average-length document.
        """
        weight = self.query_weight(query)
        if weight == 0.0:
            return np.zeros(self.doc_count)
        return np.clip(self.scores(query) / weight, 0.0, 1.0)
