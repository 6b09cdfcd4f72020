"""The 👍/👎 under a knowledge-base answer on the chat page: ids, votes, memory.

Each answer the page may rate gets a random feedback id; the channel keeps,
in memory and for a while, what a thumbs-down on it must record (the
question, masked, and the entry with its score). The page only ever holds
the id. Ids are forgotten after one vote, after ``ttl_s`` or when the book
is full (oldest first), so a vote on an old answer is refused, not guessed.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.privacy import redact
from channels import errors
from channels.errors import InvalidRequestError
from channels.web_protocol import SENDER_PATTERN, check_envelope, decode_json

VOTES = ("up", "down")
MAX_ENTRIES = 10_000
TTL_S = 2 * 60 * 60
MAX_QUESTION = 1000
_FEEDBACK_ID = re.compile(r"[A-Za-z0-9_-]{22}")


@dataclass(frozen=True)
class Rated:
    """What a vote on one answer refers to."""

    user: str  # keyed hash of the sender
    question: str  # masked
    doc_id: str
    score: float | None


@dataclass(frozen=True)
class Vote:
    """A checked feedback body."""

    sender_id: str
    feedback_id: str
    vote: str


class FeedbackBook:
    """Feedback ids of recent answers, and each user's last typed question."""

    def __init__(
        self,
        max_entries: int = MAX_ENTRIES,
        ttl_s: float = TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max = max_entries
        self._ttl_s = ttl_s
        self._clock = clock
        self._rated: OrderedDict[str, tuple[float, Rated]] = OrderedDict()
        self._questions: OrderedDict[str, str] = OrderedDict()

    def note_message(self, user: str, text: str) -> None:
        """Keep ``text`` (masked) as the user's question unless it is a payload.

        A click on a clarification button sends ``/choose_candidate{…}``; the
        answer it brings is rated against the question typed before it.
        """
        if text.startswith("/"):
            return
        self._questions[user] = redact(text)[:MAX_QUESTION]
        self._questions.move_to_end(user)
        while len(self._questions) > self._max:
            self._questions.popitem(last=False)

    def issue(self, user: str, payload: Mapping[str, Any]) -> str | None:
        """A feedback id for an answer with this ``kb_feedback`` payload.

        Returns:
            None when the payload names no entry or no question is known.
        """
        doc_id, score = payload.get("doc_id"), payload.get("score")
        question = self._questions.get(user)
        if not isinstance(doc_id, str) or not doc_id or not question:
            return None
        if not isinstance(score, int | float) or isinstance(score, bool):
            score = None
        feedback_id = secrets.token_urlsafe(16)
        self._rated[feedback_id] = (
            self._clock(),
            Rated(user, question, doc_id, score),
        )
        while len(self._rated) > self._max:
            self._rated.popitem(last=False)
        return feedback_id

    def take(self, feedback_id: str, user: str) -> Rated | None:
        """What the id refers to, once; None if unknown, expired or another's."""
        found = self._rated.get(feedback_id)
        if found is None:
            return None
        issued, rated = found
        if rated.user != user:
            return None
        del self._rated[feedback_id]
        if self._clock() - issued > self._ttl_s:
            return None
        return rated


def parse_vote(raw: bytes | None, content_type: str | None) -> Vote:
    """Check a body ``{"sender": str, "feedback_id": str, "vote": "up"|"down"}``.

    Raises:
        InvalidRequestError: not such a body; ``code`` says why.
    """
    check_envelope(raw, content_type)
    body = decode_json(raw or b"")
    sender = body.get("sender")
    if not isinstance(sender, str) or not SENDER_PATTERN.fullmatch(sender):
        raise InvalidRequestError(
            errors.INVALID_SENDER, "会话标识无效，请刷新页面后重试。"
        )
    feedback_id, vote = body.get("feedback_id"), body.get("vote")
    if not isinstance(feedback_id, str) or not _FEEDBACK_ID.fullmatch(feedback_id):
        raise InvalidRequestError(errors.INVALID_FEEDBACK, "评价无效。")
    if vote not in VOTES:
        raise InvalidRequestError(errors.INVALID_FEEDBACK, "评价无效。")
    return Vote(sender, feedback_id, vote)
