"""Answering a query from the index: fused scores, ranking and the outcome.

A query goes through the synonym table first (``knowledge_base.synonyms``).
Then a candidate pool is scored: the ``pool_size`` nearest documents by
title + body vector (one faiss search, ``KbIndex.combined``), the
``pool_size`` best BM25 documents, and any document whose
identifier the query quotes. Only the pool gets a fused score, so the cost
past the two legs does not grow with the index (benchmarks/kb.py measures
it at 100,000 entries). A document outside both pools is below both legs'
cut-offs, so it cannot outrank the pool's best by much; ``pool_size`` ≥ 50
made no difference to any eval number.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from knowledge_base.encoder import Encoder
from knowledge_base.errors import DocumentNotFoundError, IndexMismatchError
from knowledge_base.fields import Field, detect_field
from knowledge_base.index import KbIndex
from knowledge_base.schema import Document, DocumentKind
from knowledge_base.scoring import (
    Outcome,
    ScoreConfig,
    Thresholds,
    decide,
    fuse,
)
from knowledge_base.synonyms import Expansion, SynonymTable
from knowledge_base.variants import unasked

logger = logging.getLogger(__name__)


DEFAULT_POOL_SIZE = 100


@dataclass(frozen=True)
class Why:
    """What a hit's score is made of (``python -m knowledge_base query``).

    Attributes:
        cosine: the raw cosine of query and document vectors.
        dense: the cosine on the model's [0, 1] scale.
        keyword: the scaled BM25 score, in [0, 1].
        identifier: the query quotes one of the document's identifiers.
    """

    cosine: float
    dense: float
    keyword: float
    identifier: bool


@dataclass(frozen=True)
class SearchHit:
    """One document as the service returns it (docs/interfaces.md).

    ``score`` is the fused score in [0, 1], higher is better. ``field`` and
    ``field_answer`` are set when the query asks for one fact the document
    holds (its materials, time, place, fee, online service or conditions).
    """

    doc_id: str
    kind: DocumentKind
    title: str
    answer: str
    department: str | None
    source_url: str | None
    score: float
    field: Field | None = None
    field_answer: str | None = None
    why: Why | None = None

    @classmethod
    def from_document(
        cls,
        doc: Document,
        score: float,
        field: Field | None = None,
        why: Why | None = None,
    ) -> SearchHit:
        field_answer = doc.fields.get(field) if field else None
        return cls(
            doc_id=doc.doc_id,
            kind=doc.kind,
            title=doc.title,
            answer=doc.answer,
            department=doc.department,
            source_url=doc.source_url,
            score=round(float(score), 4),
            field=field if field_answer else None,
            field_answer=field_answer,
            why=why,
        )

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class SearchResult:
    """The outcome and the best hits, best first.

    For ``no_answer`` the hits are the nearest entries, for logs only.
    ``rewrites`` lists the synonyms applied; ``field`` the fact asked for.
    """

    outcome: Outcome
    hits: tuple[SearchHit, ...]
    expansion: Expansion | None = None
    field: Field | None = None

    @property
    def top_score(self) -> float:
        return self.hits[0].score if self.hits else 0.0


@dataclass(frozen=True)
class Pool:
    """The candidate rows of one query with each leg's score."""

    rows: np.ndarray
    cosines: np.ndarray
    body_cosines: np.ndarray
    keyword: np.ndarray
    boosted: frozenset[int] = field(default_factory=frozenset)


class Searcher:
    """Scores queries against one index with one embedding model.

    Args:
        index: the loaded index.
        encoder: the model the index was built with.
        score_config: overrides the index's own (used when tuning).
        thresholds: overrides the index's own (used when calibrating).
        synonyms: overrides the index's table (an empty one for baselines).
        pool_size: candidates taken from each leg.

    Raises:
        IndexMismatchError: ``encoder`` is not the model the index was built with.
    """

    def __init__(
        self,
        index: KbIndex,
        encoder: Encoder,
        score_config: ScoreConfig | None = None,
        thresholds: Thresholds | None = None,
        synonyms: SynonymTable | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
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
        self.synonyms = index.synonyms if synonyms is None else synonyms
        self.pool_size = pool_size
        # The dense leg alone on its [0, 1] scale, for ``Why.dense``.
        self.dense_only = replace(
            self.score_config,
            dense_weight=1.0,
            keyword_weight=0.0,
            identifier_boost=0.0,
        )

    def with_index(self, index: KbIndex) -> Searcher:
        """The same model and overrides over a newly loaded index."""
        return Searcher(index, self.encoder, pool_size=self.pool_size)

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
        expansions = [self.synonyms.expand(query) for query in queries]
        # A rewritten query is embedded beside the original and each document
        # keeps the closer of the two: a synonym may only help the dense leg.
        texts = list(queries)
        rewritten = {}
        for position, expansion in enumerate(expansions):
            if expansion.rewrites:
                rewritten[position] = len(texts)
                texts.append(expansion.text)
        vectors = self.encoder.encode_queries(texts)
        return [
            self._result(
                query,
                expansion,
                vectors[sorted({position, rewritten.get(position, position)})],
                top_k,
            )
            for position, (query, expansion) in enumerate(
                zip(queries, expansions, strict=True)
            )
        ]

    def pool(self, query: str, expansion: Expansion, vectors: np.ndarray) -> Pool:
        """The candidates of one query: each leg's best, and quoted identifiers.

        ``vectors`` holds the query's embedding and its rewritten one's.
        """
        total = self.index.dense.ntotal
        if total == 0:
            empty = np.zeros(0)
            return Pool(empty.astype(np.int64), empty, empty, empty)
        size = min(self.pool_size, total)
        query_vectors = np.ascontiguousarray(vectors, np.float32)
        _, dense_rows = self.index.combined.search(query_vectors, size)
        keyword_all = self.keyword_scores(query, expansion)
        if size < total:
            keyword_rows = np.argpartition(-keyword_all, size - 1)[:size]
            keyword_rows = keyword_rows[keyword_all[keyword_rows] > 0]
        else:
            keyword_rows = np.arange(total)
        boosted = frozenset(self.index.identifiers.matching_rows(query))
        rows = np.unique(
            np.concatenate(
                [
                    dense_rows.ravel(),
                    keyword_rows,
                    np.fromiter(boosted, dtype=np.int64, count=len(boosted)),
                ]
            )
        )
        rows = rows[rows >= 0].astype(np.int64)
        cosines = (self.index.dense.reconstruct_batch(rows) @ query_vectors.T).max(1)
        body_cosines = (self.index.body.reconstruct_batch(rows) @ query_vectors.T).max(
            1
        )
        return Pool(
            rows,
            cosines.astype(np.float64),
            body_cosines.astype(np.float64),
            keyword_all[rows],
            boosted,
        )

    def keyword_scores(self, query: str, expansion: Expansion) -> np.ndarray:
        """Scaled BM25 of every document: the better of the query as written
        and the query with its aliases rewritten to their terms."""
        bm25, tokenizer = self.index.bm25, self.index.tokenizer
        scores = bm25.scaled_scores(tokenizer.tokens(query))
        if expansion.rewrites:
            rewritten = bm25.scaled_scores(tokenizer.tokens(expansion.text))
            scores = np.maximum(scores, rewritten)
        return scores

    def cosines(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine of each query with every document, in document order."""
        total = self.index.dense.ntotal
        if total == 0:
            return np.zeros((len(vectors), 0))
        stored = self.index.dense.reconstruct_n(0, total)
        return np.asarray(vectors, np.float32) @ stored.T

    def _result(
        self, query: str, expansion: Expansion, vectors: np.ndarray, top_k: int
    ) -> SearchResult:
        pool = self.pool(query, expansion, vectors)
        boosted_positions = [
            position for position, row in enumerate(pool.rows) if row in pool.boosted
        ]
        scores = fuse(
            pool.cosines,
            pool.keyword,
            boosted_positions,
            self.score_config,
            pool.body_cosines,
        )
        penalty = self.score_config.variant_penalty
        if penalty:
            demoted = [
                position
                for position, row in enumerate(pool.rows)
                if self.index.documents[row].kind == "guide"
                and unasked(self.index.documents[row].title, query)
            ]
            scores[demoted] = np.maximum(scores[demoted] - penalty, 0.0)
        # Rank by score, then by index order so that ties are stable.
        order = np.lexsort((pool.rows, -scores))
        ranked = order[: max(top_k, 2)]
        outcome = decide([float(scores[p]) for p in ranked], self.thresholds)
        wanted = detect_field(query)
        dense = fuse(
            pool.cosines,
            np.zeros(len(pool.rows)),
            [],
            self.dense_only,
            pool.body_cosines,
        )
        hits = tuple(
            SearchHit.from_document(
                self.index.documents[pool.rows[p]],
                scores[p],
                wanted,
                Why(
                    cosine=round(float(pool.cosines[p]), 4),
                    dense=round(float(dense[p]), 4),
                    keyword=round(float(pool.keyword[p]), 4),
                    identifier=bool(pool.rows[p] in pool.boosted),
                ),
            )
            for p in ranked[:top_k]
        )
        return SearchResult(
            outcome=outcome, hits=hits, expansion=expansion, field=wanted
        )

    def document(self, doc_id: str) -> SearchHit:
        """One document by id, as a hit with score 1.0.

        Raises:
            DocumentNotFoundError: no document has this id.
        """
        row = self.index.rows.get(doc_id)
        if row is None:
            raise DocumentNotFoundError(f"no document {doc_id!r}")
        return SearchHit.from_document(self.index.documents[row], 1.0)


def baseline(searcher: Searcher, leg: str) -> Searcher:
    """The same index searched by one leg alone: no synonyms, no identifier
    boost, no variant penalty.

    ``leg`` is ``dense`` or ``keyword``; the benchmark's baselines.
    """
    weights = {"dense": (1.0, 0.0), "keyword": (0.0, 1.0)}[leg]
    config = replace(
        searcher.score_config,
        dense_weight=weights[0],
        keyword_weight=weights[1],
        identifier_boost=0.0,
        variant_penalty=0.0,
    )
    return Searcher(
        searcher.index,
        searcher.encoder,
        config,
        searcher.thresholds,
        synonyms=SynonymTable(),
        pool_size=searcher.pool_size,
    )
