"""Review records (the review loop, docs/knowledge-base.md): check, store, list.

The action server records what the assistant answered badly or not at all;
an operator reads the records back to find the largest gaps. The question is
masked here, whatever the caller did, and every write and read is audited.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit import parse_moment
from backend.db import ReviewRecord
from backend.errors import InvalidRequestError
from backend.repository import Caller, Clock, audit, iso_utc, utc_now
from bot.privacy import redact

NO_ANSWER = "no_answer"
CLARIFY_REJECTED = "clarify_rejected"
THUMBS_DOWN = "thumbs_down"
AGENT_WRONG = "agent_wrong"
KINDS = (NO_ANSWER, CLARIFY_REJECTED, THUMBS_DOWN, AGENT_WRONG)

MAX_QUESTION = 1000
MAX_MATCHES = 10
DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
WHY_REVIEW = "review_loop"

_FIELDS = frozenset({"kind", "question", "matches", "channel", "user_hash"})
_MATCH_FIELDS = frozenset({"doc_id", "score"})
_DOC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
_CHANNEL = re.compile(r"[a-z][a-z0-9_]{0,31}")
# bot.privacy.hash_user gives 16 hex digits; a raw sender id never fits.
_USER_HASH = re.compile(r"[0-9a-f]{16,64}")


@dataclass(frozen=True)
class Match:
    """An entry the search matched; ``score`` in [0, 1], or None if unknown."""

    doc_id: str
    score: float | None


@dataclass(frozen=True)
class ReviewSubmission:
    """A checked ``POST /v1/review-records`` body, question already masked."""

    kind: str
    question: str
    matches: tuple[Match, ...]
    channel: str
    user_hash: str


@dataclass(frozen=True)
class ReviewQuery:
    """A checked ``GET /v1/review-records`` query: a window start and a page."""

    since: datetime  # UTC, naive
    after: int
    limit: int


@dataclass(frozen=True)
class ReviewEntry:
    """One stored record as the API shows it."""

    cursor: int
    record_id: str
    kind: str
    question: str
    matches: tuple[Match, ...]
    channel: str
    user_hash: str
    created_at: datetime  # UTC, naive

    def to_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "kind": self.kind,
            "question": self.question,
            "matches": [vars(match) for match in self.matches],
            "channel": self.channel,
            "user_hash": self.user_hash,
            "created_at": iso_utc(self.created_at),
        }


def parse_review_record(body: dict[str, Any]) -> ReviewSubmission:
    """Check a record body and mask its question (docs/backend-api.md).

    Raises:
        InvalidRequestError: a field is missing, unknown or malformed.
    """
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise InvalidRequestError(f"body has unknown fields: {unknown}")
    if body.get("kind") not in KINDS:
        raise InvalidRequestError(f"kind must be one of {list(KINDS)}")
    question = body.get("question")
    if not isinstance(question, str) or not question.strip():
        raise InvalidRequestError("question must be a non-empty string")
    if len(question) > MAX_QUESTION:
        raise InvalidRequestError(f"question must be at most {MAX_QUESTION} characters")
    return ReviewSubmission(
        kind=body["kind"],
        question=redact(question.strip())[:MAX_QUESTION],
        matches=_matches(body.get("matches", [])),
        channel=_matching(body, "channel", _CHANNEL, "lowercase a-z 0-9 _"),
        user_hash=_matching(body, "user_hash", _USER_HASH, "16-64 lowercase hex"),
    )


def parse_review_query(query: dict[str, str]) -> ReviewQuery:
    """Check ``since`` (ISO 8601 date or time), ``after`` and ``limit``.

    Raises:
        InvalidRequestError: ``since`` is missing or not a date, or a page
            parameter is out of range.
    """
    try:
        since = parse_moment(query.get("since", ""))
    except ValueError as exc:
        raise InvalidRequestError(
            "since must be an ISO 8601 date or date-time"
        ) from exc
    after = _whole(query.get("after"), 0, 0, 2**62, "after")
    limit = _whole(query.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT, "limit")
    return ReviewQuery(since=since, after=after, limit=limit)


def record_review(
    session: Session,
    submission: ReviewSubmission,
    caller: Caller,
    clock: Clock = utc_now,
) -> ReviewEntry:
    """Store one record and audit it in the same transaction."""
    now = clock()
    row = ReviewRecord(
        record_id=uuid.uuid4().hex,
        kind=submission.kind,
        question=submission.question,
        matches=[vars(match) for match in submission.matches],
        channel=submission.channel,
        user_hash=submission.user_hash,
        recorded_by=caller.name,
        created_at=now,
    )
    session.add(row)
    audit(session, caller, "review.record", row.record_id, now, reason=WHY_REVIEW)
    session.commit()
    return _entry(row)


def list_reviews(
    session: Session, query: ReviewQuery, caller: Caller
) -> tuple[list[ReviewEntry], int | None]:
    """Records created at or after ``since``, oldest first, one page.

    Returns:
        The page and the ``after`` value of the next page (None on the last).
    """
    rows = (
        session.execute(
            select(ReviewRecord)
            .where(
                ReviewRecord.created_at >= query.since, ReviewRecord.id > query.after
            )
            .order_by(ReviewRecord.id)
            .limit(query.limit)
        )
        .scalars()
        .all()
    )
    entries = [_entry(row) for row in rows]
    audit(
        session,
        caller,
        "review.list",
        f"since={iso_utc(query.since)}",
        reason=WHY_REVIEW,
    )
    session.commit()
    following = entries[-1].cursor if len(entries) == query.limit else None
    return entries, following


def _matches(raw: Any) -> tuple[Match, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_MATCHES:
        raise InvalidRequestError(f"matches must be a list of at most {MAX_MATCHES}")
    return tuple(_match(entry, index) for index, entry in enumerate(raw))


def _match(entry: Any, index: int) -> Match:
    where = f"matches[{index}]"
    if not isinstance(entry, dict) or set(entry) - _MATCH_FIELDS:
        raise InvalidRequestError(f"{where} must be an object with doc_id and score")
    doc_id = entry.get("doc_id")
    if not isinstance(doc_id, str) or not _DOC_ID.fullmatch(doc_id):
        raise InvalidRequestError(f"{where}.doc_id must be an entry id")
    score = entry.get("score")
    if score is not None:
        number = isinstance(score, int | float) and not isinstance(score, bool)
        if not number or not 0.0 <= score <= 1.0:
            raise InvalidRequestError(f"{where}.score must be a number in [0, 1]")
        score = float(score)
    return Match(doc_id, score)


def _matching(body: dict[str, Any], name: str, pattern: re.Pattern, what: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidRequestError(f"{name} must be {what}")
    return value


def _whole(raw: str | None, default: int, low: int, high: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidRequestError(f"{name} must be a whole number in [{low}, {high}]")
    return int(raw)


def _entry(row: ReviewRecord) -> ReviewEntry:
    return ReviewEntry(
        cursor=row.id,
        record_id=row.record_id,
        kind=row.kind,
        question=row.question,
        matches=tuple(Match(m["doc_id"], m.get("score")) for m in row.matches),
        channel=row.channel,
        user_hash=row.user_hash,
        created_at=row.created_at,
    )
