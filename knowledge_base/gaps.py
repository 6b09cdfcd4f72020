"""The gap report of the review loop: group review records, suggest a fix for each.

Records (no-answers, rejected clarifications, thumbs-downs, agents' "wrong
suggestion") come from the backend (``GET /v1/review-records``) or a JSON
Lines export. Their masked questions are embedded with the knowledge base's
own model and grouped greedily by cosine; each group is searched again in
the current index, so a gap an operator has just filled reads as answered.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from tqdm import tqdm

from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.search import Searcher, SearchResult

logger = logging.getLogger(__name__)

# e5 cosines of unrelated Chinese questions sit near 0.87 (median) and
# 0.92 (99th percentile); rewordings of one question reach 0.95 and more
# (measured on the sample in docs/knowledge-base.md). The grouping compares
# a question with a group's mean, which sits a little under its best pair.
DEFAULT_SIMILARITY = 0.92
# A top match this close under the answer threshold, found again and again
# and never refused, is the right entry in other words: a synonym's job. On
# the sample, the one group within 0.1 (集体户口迁出 → 直系亲属投靠户口迁入,
# 0.311 under 0.38) was no synonym case. TODO(#9): measure the band on
# gaps an operator has labelled.
SYNONYM_BAND = 0.05
PAGE_SIZE = 1000
# Questions are shown on one line, cut to this many characters.
SHOWN_CHARS = 80
BATCH = 64
FETCH_TIMEOUT_S = 10
# Kinds where the citizen (or agent) saw the matched entries and refused them.
REFUSING_KINDS = frozenset({"clarify_rejected", "thumbs_down", "agent_wrong"})

ADD_ANSWER = "add_answer"
ADD_SYNONYM = "add_synonym"
ANSWERED_NOW = "answered_now"


class ReviewSourceError(KnowledgeBaseError):
    """The review records cannot be read (backend down, bad token, bad file)."""

    code = "review_records_unavailable"


@dataclass(frozen=True)
class GapRecord:
    """One review record as the report needs it (the question is masked)."""

    kind: str
    question: str
    matched: tuple[str, ...] = ()  # doc ids, best first


@dataclass(frozen=True)
class Group:
    """Records whose questions are near one another; ``members`` index records."""

    members: tuple[int, ...]
    representative: int


@dataclass(frozen=True)
class Gap:
    """One group with what the current index makes of it, and what to do."""

    size: int
    kinds: dict[str, int]
    question: str
    examples: tuple[str, ...]
    top_doc_id: str | None
    top_title: str | None
    top_score: float
    outcome: str
    suggestion: str


def fetch_records(
    backend_url: str, token: str, since: datetime, timeout_s: float = FETCH_TIMEOUT_S
) -> list[GapRecord]:
    """Every record created since ``since``, page by page, with the operator token.

    Raises:
        ReviewSourceError: the backend cannot be reached or refuses the call.
    """
    records: list[GapRecord] = []
    after: int | None = 0
    while after is not None:
        query = urllib.parse.urlencode(
            {"since": since.strftime("%Y-%m-%dT%H:%M:%SZ"), "after": after}
        )
        url = f"{backend_url.rstrip('/')}/v1/review-records?{query}&limit={PAGE_SIZE}"
        body = _get_json(url, token, timeout_s)
        records.extend(_record(entry) for entry in body.get("records", []))
        after = body.get("next_after")
    return records


def read_records(path: Path) -> list[GapRecord]:
    """Records from a JSON Lines file shaped like the API's records.

    Raises:
        ReviewSourceError: the file is missing or a line is not a record.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        return [_record(json.loads(line)) for line in lines if line.strip()]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReviewSourceError(f"cannot read review records from {path}") from exc


def group_questions(
    vectors: np.ndarray, threshold: float = DEFAULT_SIMILARITY
) -> list[Group]:
    """Greedy grouping: each question joins the closest group, or starts one.

    A question's closeness to a group is its mean cosine with the members
    (average linkage). The cosine with the normalised centroid would not do:
    the mean of many questions drifts towards "any question" and swallows
    everything. Groups come back largest first (ties: first seen first);
    each names the member nearest its centroid as the representative.

    Args:
        vectors: one L2-normalised row per question, in record order.
        threshold: the mean cosine at which a question joins a group.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    sums = np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0), np.float32)
    members: list[list[int]] = []
    for row, vector in enumerate(vectors):
        sizes = np.array([len(rows) for rows in members], dtype=np.float32)
        closeness = (sums @ vector) / sizes if len(members) else np.zeros(0)
        best = int(np.argmax(closeness)) if len(members) else -1
        if best < 0 or closeness[best] < threshold:
            sums = np.vstack([sums, vector])
            members.append([row])
        else:
            sums[best] += vector
            members[best].append(row)
    groups = [Group(tuple(rows), _representative(vectors, rows)) for rows in members]
    return sorted(groups, key=lambda group: (-len(group.members), group.members[0]))


def find_gaps(
    records: Sequence[GapRecord],
    searcher: Searcher,
    threshold: float = DEFAULT_SIMILARITY,
    progress: bool | None = None,
) -> list[Gap]:
    """Group the records and read each group against the current index.

    ``progress`` shows a bar on a terminal (None: only when stderr is one).
    """
    if not records:
        return []
    questions = [record.question for record in records]
    vectors = _embed(searcher, questions, progress)
    groups = group_questions(vectors, threshold)
    results = _search(searcher, [questions[g.representative] for g in groups], progress)
    return [
        _gap(records, group, result, searcher)
        for group, result in zip(groups, results, strict=True)
    ]


def suggest(
    records: Iterable[GapRecord], result: SearchResult, answer_threshold: float
) -> str:
    """What would close the gap, judged on the current index.

    ``answered_now`` when the index now answers with an entry nobody refused;
    ``add_synonym`` when the top entry scores just under the answer threshold,
    was already the nearest entry for most of the records, and no record
    refused it (the entry is right, the citizens' words miss its words);
    ``add_answer`` otherwise.
    """
    records = list(records)
    if not result.hits:
        return ADD_ANSWER
    top = result.hits[0]
    refused = {
        doc_id
        for record in records
        if record.kind in REFUSING_KINDS
        for doc_id in record.matched
    }
    if top.doc_id in refused:
        return ADD_ANSWER
    if result.outcome == "answer":
        return ANSWERED_NOW
    nearest = sum(1 for r in records if r.matched[:1] == (top.doc_id,))
    steady = nearest * 2 > len(records)
    if steady and top.score >= answer_threshold - SYNONYM_BAND:
        return ADD_SYNONYM
    return ADD_ANSWER


def since_days(days: float, now: datetime | None = None) -> datetime:
    """The moment ``days`` before ``now`` (UTC)."""
    return (now or datetime.now(UTC)) - timedelta(days=days)


def _get_json(url: str, token: str, timeout_s: float) -> dict:
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {token}"}, method="GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise ReviewSourceError(
            f"the backend refused the call (HTTP {exc.code})"
        ) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ReviewSourceError(
            f"the backend at {url.split('/v1/')[0]} is unreachable"
        ) from exc
    except ValueError as exc:
        raise ReviewSourceError("the backend's answer is not JSON") from exc
    if not isinstance(body, dict):
        raise ReviewSourceError("the backend's answer is not a page of records")
    return body


def _record(entry: dict) -> GapRecord:
    matches = entry.get("matches") or []
    return GapRecord(
        kind=str(entry["kind"]),
        question=str(entry["question"]),
        matched=tuple(str(match["doc_id"]) for match in matches),
    )


def _representative(vectors: np.ndarray, rows: list[int]) -> int:
    centroid = vectors[rows].sum(axis=0)
    return rows[int(np.argmax(vectors[rows] @ centroid))]


def _embed(searcher: Searcher, texts: list[str], progress: bool | None) -> np.ndarray:
    parts = []
    with tqdm(
        total=len(texts), desc="embedding", unit="q", disable=_quiet(progress)
    ) as bar:
        for start in range(0, len(texts), BATCH):
            batch = texts[start : start + BATCH]
            parts.append(searcher.encoder.encode_queries(batch))
            bar.update(len(batch))
    return np.concatenate(parts)


def _search(
    searcher: Searcher, texts: list[str], progress: bool | None
) -> list[SearchResult]:
    results: list[SearchResult] = []
    with tqdm(
        total=len(texts), desc="searching", unit="group", disable=_quiet(progress)
    ) as bar:
        for start in range(0, len(texts), BATCH):
            batch = texts[start : start + BATCH]
            results.extend(searcher.search_many(batch, top_k=1))
            bar.update(len(batch))
    return results


def _quiet(progress: bool | None) -> bool | None:
    # tqdm: disable=None turns the bar off when stderr is not a terminal.
    return None if progress is None else not progress


def _gap(
    records: Sequence[GapRecord], group: Group, result: SearchResult, searcher: Searcher
) -> Gap:
    members = [records[row] for row in group.members]
    question = records[group.representative].question
    top = result.hits[0] if result.hits else None
    others = dict.fromkeys(m.question for m in members if m.question != question)
    return Gap(
        size=len(members),
        kinds=dict(Counter(member.kind for member in members).most_common()),
        question=question,
        examples=tuple(others)[:3],
        top_doc_id=top.doc_id if top else None,
        top_title=top.title if top else None,
        top_score=top.score if top else 0.0,
        outcome=result.outcome,
        suggestion=suggest(members, result, searcher.thresholds.answer),
    )


_ADVICE = {
    ADD_ANSWER: "add an answer (python -m knowledge_base add FILE)",
    ADD_SYNONYM: (
        "add a synonym: the citizens' words for 「{title}」 to data/synonyms.yml,"
        " then python -m knowledge_base build"
    ),
    ANSWERED_NOW: "answered now by {doc_id}: check the answer fits",
}


def format_report(gaps: Sequence[Gap], records: int, top: int, since: str) -> str:
    """The report: a summary line, then the ``top`` largest gaps."""
    kinds = Counter()
    for gap in gaps:
        kinds.update(gap.kinds)
    summary = ", ".join(f"{kind} {count}" for kind, count in kinds.most_common())
    lines = [
        f"gap report: {records} records since {since} ({summary or 'none'})"
        f" in {len(gaps)} groups; the {min(top, len(gaps))} largest:",
    ]
    for rank, gap in enumerate(gaps[:top], start=1):
        lines.extend(_gap_lines(rank, gap))
    return "\n".join(lines)


def _gap_lines(rank: int, gap: Gap) -> list[str]:
    kinds = ", ".join(f"{kind} {count}" for kind, count in gap.kinds.items())
    match = (
        f"{gap.top_doc_id} 「{gap.top_title}」 score {gap.top_score:.3f}"
        f" ({gap.outcome})"
        if gap.top_doc_id
        else "none"
    )
    advice = _ADVICE[gap.suggestion].format(
        title=gap.top_title or "", doc_id=gap.top_doc_id or ""
    )
    lines = [
        "",
        f"#{rank}  {gap.size} records  [{kinds}]",
        f"    question:   {_one_line(gap.question)}",
    ]
    lines.extend(f"    also:       {_one_line(example)}" for example in gap.examples)
    lines.append(f"    top match:  {match}")
    lines.append(f"    suggestion: {advice}")
    return lines


def _one_line(text: str, limit: int = SHOWN_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
