"""Answering a query from the index: fused scores, ranking and the outcome.

Every document is scored (the index is small enough that an exact scan
costs a few milliseconds), then the best few are returned with answer /
clarify / no_answer. TODO(#3): past ~100,000 documents, score a candidate
pool from both legs instead; add a synonym table (良民证 → 无犯罪记录证明)
before both legs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from knowledge_base.encoder import Encoder
from knowledge_base.errors import DocumentNotFoundError, IndexMismatchError
from knowledge_base.index import KbIndex
from knowledge_base.schema import Document, DocumentKind
from knowledge_base.scoring import Outcome, ScoreConfig, Thresholds, decide, fuse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchHit:
    """One document as the service returns it (docs/interfaces.md).

    ``score`` is the fused score in [0, 1], higher is better.
    """

    doc_id: str
    kind: DocumentKind
    title: str
    answer: str
    department: str | None
    source_url: str | None
    score: float

    @classmethod
    def from_document(cls, doc: Document, score: float) -> SearchHit:
        return cls(
            doc_id=doc.doc_id,
            kind=doc.kind,
            title=doc.title,
            answer=doc.answer,
            department=doc.department,
            source_url=doc.source_url,
            score=round(float(score), 4),
        )

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class SearchResult:
    """The outcome and the best hits, best first.

    For ``no_answer`` the hits are the nearest entries, for logs only.
    """

    outcome: Outcome
    hits: tuple[SearchHit, ...]

    @property
    def top_score(self) -> float:
        return self.hits[0].score if self.hits else 0.0


class Searcher:
    """Scores queries against one index with one embedding model.

    Args:
        index: the loaded index.
        encoder: the model the index was built with.
        score_config: overrides the index's own (used when tuning).
        thresholds: overrides the index's own (used when calibrating).

    Raises:
        IndexMismatchError: ``encoder`` is not the model the index was built with.
    """

    def __init__(
        self,
        index: KbIndex,
        encoder: Encoder,
        score_config: ScoreConfig | None = None,
        thresholds: Thresholds | None = None,
    ):
        manifest = index.manifest
        if encoder.model_id != manifest.model_id or encoder.dim != manifest.dim:
            raise IndexMismatchError(
                f"index built with {manifest.model_id} ({manifest.dim}d), model "
                f"loaded is {encoder.model_id} ({encoder.dim}d); rebuild it: "
                "python -m knowledge_base build"
            )
        self.index = index
        self.encoder = encoder
        self.score_config = score_config or manifest.score_config
        self.thresholds = thresholds or manifest.thresholds

    def search(self, query: str, top_k: int = 3) -> SearchResult:
        """Search one query; see :meth:`search_many`."""
        return self.search_many([query], top_k)[0]

    def search_many(self, queries: Sequence[str], top_k: int = 3) -> list[SearchResult]:
        """Search several queries with one model call.

        Returns:
            One result per query, with at most ``top_k`` hits each.
        """
        if not queries:
            return []
        vectors = self.encoder.encode_queries(list(queries))
        cosines = self.cosines(vectors)
        return [
            self._result(self.scores(query, row_cosines), top_k)
            for query, row_cosines in zip(queries, cosines, strict=True)
        ]

    def scores(self, query: str, cosines: np.ndarray) -> np.ndarray:
        """The fused score of every document for ``query``, given its cosines."""
        keyword = self.index.bm25.scaled_scores(self.index.tokenizer.tokens(query))
        boosted = self.index.identifiers.matching_rows(query)
        return fuse(cosines, keyword, boosted, self.score_config)

    def cosines(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine of each query with every document, in document order."""
        total = self.index.dense.ntotal
        cosines = np.zeros((len(vectors), total), dtype=np.float64)
        if total == 0:
            return cosines
        values, rows = self.index.dense.search(
            np.ascontiguousarray(vectors, np.float32), total
        )
        np.put_along_axis(cosines, rows, values, axis=1)
        return cosines

    def _result(self, scores: np.ndarray, top_k: int) -> SearchResult:
        # Rank by score, then by index order so that ties are stable.
        order = np.lexsort((np.arange(len(scores)), -scores))
        ranked = order[: max(top_k, 2)]
        outcome = decide([float(scores[row]) for row in ranked], self.thresholds)
        hits = tuple(
            SearchHit.from_document(self.index.documents[row], scores[row])
            for row in ranked[:top_k]
        )
        return SearchResult(outcome=outcome, hits=hits)

    def document(self, doc_id: str) -> SearchHit:
        """One document by id, as a hit with score 1.0.

        Raises:
            DocumentNotFoundError: no document has this id.
        """
        row = self.index.rows.get(doc_id)
        if row is None:
            raise DocumentNotFoundError(f"no document {doc_id!r}")
        return SearchHit.from_document(self.index.documents[row], 1.0)
