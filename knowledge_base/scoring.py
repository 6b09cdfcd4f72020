"""One score in [0, 1] per document, and the outcome it leads to.

The fused score (docs/knowledge-base.md, "Scores"):

    scaled(c) = clip((c - dense_floor) / (dense_ceiling - dense_floor), 0, 1)
    dense   = (1 - body_weight) * scaled(title cosine)
              + body_weight * scaled(body cosine)
    fused   = (dense_weight * dense + keyword_weight * bm25_scaled)
              / (dense_weight + keyword_weight)
    score   = min(1, fused + identifier_boost)   if the query quotes a rare
                                                 identifier of the document
            = fused                              otherwise
    score   = max(0, score - variant_penalty)    if the title names a variant
                                                 the query does not ask about

``dense_floor`` is measured per model (the cosine of an unrelated pair), so
0 means "no closer than an unrelated entry" whatever the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np

Outcome = Literal["answer", "clarify", "no_answer"]


@dataclass(frozen=True)
class ScoreConfig:
    """How the two legs and the identifier boost combine into one score.

    Attributes:
        dense_weight: weight of the scaled cosine.
        keyword_weight: weight of the scaled BM25 score.
        identifier_boost: added when the query quotes a document's identifier.
        body_weight: share of the body vector's cosine in the dense leg (the
            rest is the title vector's).
        variant_penalty: taken off a document whose title names a variant
            (progress query, extension, …) the query does not ask about
            (``knowledge_base.variants``).
        dense_floor: cosine of an unrelated query and document (maps to 0).
        dense_ceiling: cosine that maps to 1 (1.0: the same text).
    """

    dense_weight: float = 0.75
    keyword_weight: float = 0.25
    identifier_boost: float = 0.3
    body_weight: float = 0.0
    variant_penalty: float = 0.0
    dense_floor: float = 0.8
    dense_ceiling: float = 1.0

    def __post_init__(self) -> None:
        if self.dense_weight < 0 or self.keyword_weight < 0:
            raise ValueError("weights must not be negative")
        if self.dense_weight + self.keyword_weight == 0:
            raise ValueError("at least one weight must be positive")
        if not 0.0 <= self.body_weight <= 1.0:
            raise ValueError("body_weight must be from 0 to 1")
        if not self.dense_floor < self.dense_ceiling:
            raise ValueError("dense_floor must be below dense_ceiling")


@dataclass(frozen=True)
class Thresholds:
    """Cut-offs on the fused score that choose the outcome.

    Attributes:
        answer: the top score must reach this to answer.
        clarify: below this there is no answer at all.
        margin: the top must lead the second by this much to answer.
    """

    answer: float = 0.6
    clarify: float = 0.4
    margin: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.clarify <= self.answer <= 1.0:
            raise ValueError("need 0 <= clarify <= answer <= 1")
        if self.margin < 0:
            raise ValueError("margin must not be negative")


def scale_dense(cosines: np.ndarray, config: ScoreConfig) -> np.ndarray:
    """Map cosine similarities onto [0, 1] with the model's floor and ceiling."""
    span = config.dense_ceiling - config.dense_floor
    return np.clip((cosines - config.dense_floor) / span, 0.0, 1.0)


def fuse(
    cosines: np.ndarray,
    keyword: np.ndarray,
    boosted_rows: Sequence[int],
    config: ScoreConfig,
    body_cosines: np.ndarray | None = None,
) -> np.ndarray:
    """The fused score of every document (see the module docstring).

    Args:
        cosines: cosine similarity of the query with each title vector.
        body_cosines: the same with each body vector (``None``: titles only).
        keyword: scaled BM25 score of each document, in [0, 1].
        boosted_rows: documents sharing a rare identifier with the query.
        config: weights, boost and the model's cosine scale.

    Returns:
        float64 scores in [0, 1], higher is better.
    """
    total = config.dense_weight + config.keyword_weight
    dense = scale_dense(cosines, config)
    if body_cosines is not None and config.body_weight > 0:
        dense = (1 - config.body_weight) * dense + config.body_weight * scale_dense(
            body_cosines, config
        )
    fused = (config.dense_weight * dense + config.keyword_weight * keyword) / total
    if len(boosted_rows):
        fused[np.asarray(boosted_rows)] += config.identifier_boost
    return np.clip(fused, 0.0, 1.0)


def decide(top_scores: Sequence[float], thresholds: Thresholds) -> Outcome:
    """Choose answer / clarify / no_answer from the best scores, best first.

    Never a guess: below ``thresholds.clarify`` the outcome is ``no_answer``
    whatever the ranking; a top that does not clear ``thresholds.answer`` by
    itself, or leads the runner-up by less than ``thresholds.margin``, asks.
    """
    if not top_scores or top_scores[0] < thresholds.clarify:
        return "no_answer"
    runner_up = top_scores[1] if len(top_scores) > 1 else 0.0
    if (
        top_scores[0] >= thresholds.answer
        and top_scores[0] - runner_up >= thresholds.margin
    ):
        return "answer"
    return "clarify"


def from_mapping(cls: type, raw: Mapping[str, Any]) -> Any:
    """Build ``ScoreConfig`` or ``Thresholds`` from a mapping, ignoring extra keys."""
    names = {f.name for f in fields(cls)}
    return cls(**{key: float(value) for key, value in raw.items() if key in names})


def to_dict(record: ScoreConfig | Thresholds) -> dict[str, float]:
    return asdict(record)
