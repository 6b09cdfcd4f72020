"""Choosing the score scale and the outcome thresholds from labelled queries.

Two steps, both per embedding model (docs/knowledge-base.md, "Outcomes and
calibration"):

1. the cosine scale: ``dense_floor`` is the median cosine between a query
   and the documents (an unrelated pair); the ceiling stays 1.0 (the same
   text), so the order of the closest entries is never cut off;
2. the thresholds: a grid search that maximises the utility table below,
   with unanswerable queries weighed as ``UNANSWERABLE_SHARE`` of traffic
   whatever their share of the labelled set.

The result is kept in ``knowledge_base/data/calibration.json`` keyed by
model id; ``build`` copies it into the index manifest.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from knowledge_base.errors import CalibrationError
from knowledge_base.evaluate import EvalQuery, QueryOutcome
from knowledge_base.scoring import ScoreConfig, Thresholds, from_mapping, to_dict
from knowledge_base.search import Searcher

logger = logging.getLogger(__name__)

# Value of each outcome. A wrong answer shown with confidence is the worst
# case; a refusal hands over to an agent, which costs but misleads nobody;
# asking back is useful only when the right entry is among the options.
UTILITY = {
    "right_answer": 1.0,
    "wrong_answer": -1.0,
    "useful_clarify": 0.5,
    "useless_clarify": -0.25,
    "refused_answerable": -0.25,
    "refused_unanswerable": 1.0,
    "clarify_unanswerable": -0.25,
    "answer_unanswerable": -1.0,
}
CLARIFY_OPTIONS = 3
# The share of citizen questions the knowledge base cannot answer. Not
# measured: a planning figure for a government chat service; the eval sets
# hold 17%, which would let refusals count too little. TODO(#9): take it,
# and the cost of a handoff, from the hotline's real traffic.
UNANSWERABLE_SHARE = 0.3
ANSWER_GRID = np.round(np.arange(0.30, 0.96, 0.01), 2)
MARGIN_GRID = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.16)


def measure_floor(searcher: Searcher, queries: Sequence[EvalQuery]) -> float:
    """``dense_floor`` for the searcher's model: the median over queries of
    the median cosine between the query and every document.

    Raises:
        CalibrationError: no queries, or an empty index.
    """
    if not queries or not searcher.index.documents:
        raise CalibrationError("calibration needs labelled queries and documents")
    vectors = searcher.encoder.encode_queries([q.query for q in queries])
    cosines = searcher.cosines(vectors)
    return round(float(np.median(np.median(cosines, axis=1))), 4)


@dataclasses.dataclass(frozen=True)
class _Table:
    """The per-query facts the utility depends on, as arrays."""

    top: np.ndarray
    runner_up: np.ndarray
    answerable: np.ndarray
    right_first: np.ndarray
    right_in_options: np.ndarray

    @classmethod
    def of(cls, outcomes: Sequence[QueryOutcome]) -> _Table:
        def scores(o: QueryOutcome, i: int) -> float:
            return o.result.hits[i].score if len(o.result.hits) > i else 0.0

        ranks = [o.gold_rank for o in outcomes]
        return cls(
            top=np.array([scores(o, 0) for o in outcomes]),
            runner_up=np.array([scores(o, 1) for o in outcomes]),
            answerable=np.array([o.query.gold is not None for o in outcomes]),
            right_first=np.array([r == 1 for r in ranks]),
            right_in_options=np.array(
                [r is not None and r <= CLARIFY_OPTIONS for r in ranks]
            ),
        )


def _utilities(table: _Table, thresholds: Thresholds) -> np.ndarray:
    """Utility of each query's outcome (the same rule as ``decide``)."""
    refused = table.top < thresholds.clarify
    answered = (
        ~refused
        & (table.top >= thresholds.answer)
        & (table.top - table.runner_up >= thresholds.margin)
    )
    clarified = ~refused & ~answered
    u = UTILITY
    for_answerable = np.select(
        [
            answered & table.right_first,
            answered,
            clarified & table.right_in_options,
            clarified,
        ],
        [
            u["right_answer"],
            u["wrong_answer"],
            u["useful_clarify"],
            u["useless_clarify"],
        ],
        u["refused_answerable"],
    )
    for_unanswerable = np.select(
        [answered, clarified],
        [u["answer_unanswerable"], u["clarify_unanswerable"]],
        u["refused_unanswerable"],
    )
    return np.where(table.answerable, for_answerable, for_unanswerable)


def expected_utility(outcomes: Sequence[QueryOutcome], thresholds: Thresholds) -> float:
    """Mean utility per question, answerable and unanswerable weighed by
    ``1 - UNANSWERABLE_SHARE`` and ``UNANSWERABLE_SHARE``."""
    return _expected(_Table.of(outcomes), thresholds)


def _expected(table: _Table, thresholds: Thresholds) -> float:
    values = _utilities(table, thresholds)
    groups = [
        (values[mask], weight)
        for mask, weight in (
            (table.answerable, 1 - UNANSWERABLE_SHARE),
            (~table.answerable, UNANSWERABLE_SHARE),
        )
        if mask.any()
    ]
    total_weight = sum(weight for _, weight in groups)
    return sum(float(v.mean()) * weight for v, weight in groups) / total_weight


def choose_thresholds(outcomes: Sequence[QueryOutcome]) -> tuple[Thresholds, float]:
    """The grid point with the best expected utility, and that utility.

    Ties go to the higher thresholds (more cautious).

    Raises:
        CalibrationError: no outcomes to calibrate on.
    """
    if not outcomes:
        raise CalibrationError("no labelled queries to calibrate on")
    table = _Table.of(outcomes)
    best_value, best = -np.inf, Thresholds()
    for answer in ANSWER_GRID:
        for clarify in ANSWER_GRID[answer >= ANSWER_GRID]:
            for margin in MARGIN_GRID:
                candidate = Thresholds(float(answer), float(clarify), margin)
                value = round(_expected(table, candidate), 6)
                if value >= best_value:
                    best_value, best = value, candidate
    return best, float(best_value)


def load_calibration(
    path: Path, model_id: str
) -> tuple[ScoreConfig, Thresholds] | None:
    """The calibrated score configuration and thresholds for ``model_id``.

    Returns:
        ``None`` when the file has no entry for the model.

    Raises:
        CalibrationError: the file exists but cannot be read.
    """
    if not path.is_file():
        return None
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))["models"].get(model_id)
        if entry is None:
            return None
        return from_mapping(ScoreConfig, entry["score"]), from_mapping(
            Thresholds, entry["thresholds"]
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CalibrationError(f"{path}: not a calibration file ({exc})") from exc


def save_calibration(
    path: Path,
    model_id: str,
    config: ScoreConfig,
    thresholds: Thresholds,
    measured: dict[str, object],
) -> None:
    """Store the calibration for ``model_id``, keeping other models' entries."""
    data: dict[str, dict[str, object]] = {"models": {}}
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
    data["models"][model_id] = {
        "score": to_dict(config),
        "thresholds": to_dict(thresholds),
        "measured": measured,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(
        json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    tmp.replace(path)
    logger.info("kb.calibration.saved", extra={"model": model_id})


def with_floor(config: ScoreConfig, floor: float) -> ScoreConfig:
    """``config`` on the calibrated scale: ``floor`` maps to 0, the same text to 1."""
    return dataclasses.replace(config, dense_floor=floor, dense_ceiling=1.0)
