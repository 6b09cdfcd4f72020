"""Okapi BM25 over pre-tokenised documents, with scores scaled into [0, 1].

The weights follow Robertson and Zaragoza, "The Probabilistic Relevance
Framework: BM25 and Beyond" (2009), with Lucene's non-negative idf
``log(1 + (N - df + 0.5) / (df + 0.5))``. Query terms count once each.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

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
