"""Retrieval numbers on labelled query sets (../shared/eval/*.jsonl).

Ranking metrics (hit@1, hit@3, MRR over the top 10) count answerable queries
only; outcome counts say how often the right thing happened: answerable
queries answered correctly, asked back, or wrongly refused, and unanswerable
ones refused, asked back or (worst) answered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from knowledge_base.documents import guide_doc_id
from knowledge_base.errors import InvalidDataError
from knowledge_base.input_files import read_json_lines
from knowledge_base.search import Searcher, SearchResult

RANK_DEPTH = 10


@dataclass(frozen=True)
class EvalQuery:
    """A labelled query; ``gold`` is a document id, or ``None`` if unanswerable."""

    query: str
    gold: str | None
    kind: str = ""


@dataclass(frozen=True)
class QueryOutcome:
    """What the searcher did with one query."""

    query: EvalQuery
    result: SearchResult
    gold_rank: int | None  # 1-based within the top RANK_DEPTH, None if absent


@dataclass(frozen=True)
class EvalReport:
    """Counts and rates for one run; rates are over the answerable queries."""

    answerable: int
    unanswerable: int
    hit_at_1: float
    hit_at_3: float
    mrr: float
    answered_right: int
    answered_wrong: int
    clarified: int
    wrongly_refused: int
    unanswerable_refused: int
    unanswerable_clarified: int
    unanswerable_answered: int
    hit_at_1_by_kind: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def load_queries(path: Path, guide_golds: bool = False) -> list[EvalQuery]:
    """Read ``{"query", "gold", "kind"}`` lines.

    Args:
        path: the JSON Lines file.
        guide_golds: golds are guide ids (task codes), not document ids.

    Raises:
        InvalidDataError: naming the line of a malformed query.
    """
    queries = []
    for number, raw in read_json_lines(path):
        try:
            gold = raw["gold"]
            query = EvalQuery(query=raw["query"], gold=gold, kind=raw.get("kind", ""))
        except (KeyError, TypeError) as exc:
            raise InvalidDataError(
                f"{path.name}:{number}: not a labelled query"
            ) from exc
        if guide_golds and gold is not None:
            query = EvalQuery(query.query, guide_doc_id(gold), query.kind)
        queries.append(query)
    return queries


def run_queries(searcher: Searcher, queries: Sequence[EvalQuery]) -> list[QueryOutcome]:
    """Search every query (one model call) and note where the gold ranked."""
    results = searcher.search_many([q.query for q in queries], top_k=RANK_DEPTH)
    outcomes = []
    for query, result in zip(queries, results, strict=True):
        ids = [hit.doc_id for hit in result.hits]
        rank = ids.index(query.gold) + 1 if query.gold in ids else None
        outcomes.append(QueryOutcome(query, result, rank))
    return outcomes


def summarise(outcomes: Sequence[QueryOutcome]) -> EvalReport:
    """Ranking metrics and outcome counts for a run."""
    answerable = [o for o in outcomes if o.query.gold is not None]
    unanswerable = [o for o in outcomes if o.query.gold is None]
    n = max(len(answerable), 1)
    kinds = Counter(o.query.kind for o in answerable)
    kind_hits = Counter(o.query.kind for o in answerable if o.gold_rank == 1)

    def count(group: Sequence[QueryOutcome], outcome: str) -> int:
        return sum(1 for o in group if o.result.outcome == outcome)

    answered = [o for o in answerable if o.result.outcome == "answer"]
    return EvalReport(
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        hit_at_1=sum(o.gold_rank == 1 for o in answerable) / n,
        hit_at_3=sum(o.gold_rank is not None and o.gold_rank <= 3 for o in answerable)
        / n,
        mrr=sum(1 / o.gold_rank for o in answerable if o.gold_rank) / n,
        answered_right=sum(o.gold_rank == 1 for o in answered),
        answered_wrong=sum(o.gold_rank != 1 for o in answered),
        clarified=count(answerable, "clarify"),
        wrongly_refused=count(answerable, "no_answer"),
        unanswerable_refused=count(unanswerable, "no_answer"),
        unanswerable_clarified=count(unanswerable, "clarify"),
        unanswerable_answered=count(unanswerable, "answer"),
        hit_at_1_by_kind={k: f"{kind_hits[k]}/{kinds[k]}" for k in sorted(kinds)},
    )


def format_report(report: EvalReport) -> str:
    """A few aligned lines for the terminal."""
    lines = [
        f"answerable queries     {report.answerable}",
        f"hit@1                  {report.hit_at_1:.3f}",
        f"hit@3                  {report.hit_at_3:.3f}",
        f"MRR@{RANK_DEPTH:<2}                 {report.mrr:.3f}",
        f"answered right/wrong   {report.answered_right}/{report.answered_wrong}",
        f"clarified              {report.clarified}",
        f"wrongly refused        {report.wrongly_refused}",
        f"unanswerable queries   {report.unanswerable}",
        f"  refused (no_answer)  {report.unanswerable_refused}",
        f"  clarified            {report.unanswerable_clarified}",
        f"  answered             {report.unanswerable_answered}",
        "hit@1 by kind          "
        + ", ".join(f"{k} {v}" for k, v in report.hit_at_1_by_kind.items()),
    ]
    return "\n".join(lines)
