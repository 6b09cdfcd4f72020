"""Handoffs to a person (人工坐席): checking requests, and the records the API shows.

The assistant hands a conversation to the agent queue with the transcript
and what it collected; an agent claims it, the two sides exchange messages,
and either closes it. Storage is :mod:`backend.handoff_store`; this module
is pure.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from backend.errors import InvalidHandoffNoError, InvalidRequestError
from backend.repository import CHINA_TIME, iso_utc
from backend.service_hours import ServiceStatus
from backend.tickets import CHANNELS, TOPICS
from backend.validation import fingerprint

WAITING, ACTIVE, CLOSED = "waiting", "active", "closed"
STATUSES = (WAITING, ACTIVE, CLOSED)
OPEN = (WAITING, ACTIVE)
REASONS = frozenset({"requested", "repeated_failures", "low_confidence_complaint"})
CITIZEN, ASSISTANT, AGENT, SYSTEM = "citizen", "assistant", "agent", "system"
CLAIMED_EVENT, CLOSED_EVENT = "claimed", "closed"
MAX_TEXT = 1000
MAX_TRANSCRIPT = 50
MAX_COLLECTED = 30
MAX_COLLECTED_KEY = 64
MAX_COLLECTED_VALUE = 200
MAX_AFTER = 2**31 - 1
LIST_LIMIT = 50
MESSAGES_LIMIT = 100

_FIELDS = frozenset(
    {"conversation", "channel", "reason", "topic", "transcript", "collected"}
)
_HANDOFF_NO = re.compile(r"RG[0-9]{14}")  # ASCII only: \d takes any script
_CONVERSATION = re.compile(r"[A-Za-z0-9_-]{1,128}")


@dataclass(frozen=True)
class TranscriptLine:
    """One turn before the handoff: the citizen's words or the assistant's."""

    role: str  # citizen | assistant
    text: str


@dataclass(frozen=True)
class HandoffSubmission:
    """A checked ``POST /v1/handoffs`` body and its fingerprint."""

    conversation: str
    channel: str
    reason: str
    topic: str | None
    transcript: tuple[TranscriptLine, ...]
    collected: tuple[tuple[str, str], ...]
    request_hash: str


@dataclass(frozen=True)
class HandoffRecord:
    """A handoff as the API shows it.

    ``transcript`` and ``collected`` are None except in an agent's read of
    one handoff; the summary carries them only then.
    """

    handoff_no: str
    status: str
    reason: str
    channel: str
    topic: str | None
    agent: str | None
    position: int | None  # 1 = next in the waiting queue; None unless waiting
    delivered_seq: int
    last_seq: int
    created_at: datetime  # UTC, naive
    updated_at: datetime  # UTC, naive
    closed_by: str | None = None  # agent | citizen, once closed
    transcript: tuple[TranscriptLine, ...] | None = None
    collected: tuple[tuple[str, str], ...] | None = None

    def to_json(self, service: ServiceStatus) -> dict[str, Any]:
        """The summary, with the service hours ``service`` says."""
        body: dict[str, Any] = {
            "handoff_no": self.handoff_no,
            "status": self.status,
            "reason": self.reason,
            "channel": self.channel,
            "topic": self.topic,
            "agent": self.agent,
            "position": self.position,
            "delivered_seq": self.delivered_seq,
            "last_seq": self.last_seq,
            "closed_by": self.closed_by,
            "service": service.to_json(),
            "created_at": iso_utc(self.created_at),
            "updated_at": iso_utc(self.updated_at),
        }
        if self.transcript is not None and self.collected is not None:
            body["transcript"] = [vars(line) for line in self.transcript]
            body["collected"] = dict(self.collected)
        return body


@dataclass(frozen=True)
class MessageRecord:
    """One message of a handoff; a system message has an event and no text."""

    seq: int
    role: str  # citizen | agent | system
    text: str | None
    event: str | None  # claimed | closed, for system messages
    created_at: datetime  # UTC, naive

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "role": self.role,
            "text": self.text,
            "event": self.event,
            "created_at": iso_utc(self.created_at),
        }


@dataclass(frozen=True)
class HandoffResult:
    handoff: HandoffRecord
    created: bool


@dataclass(frozen=True)
class MessageResult:
    message: MessageRecord
    created: bool


def new_handoff_no(now_utc: datetime) -> str:
    """``RG`` + the date in China Standard Time + six random digits."""
    day = now_utc.replace(tzinfo=UTC).astimezone(CHINA_TIME).strftime("%Y%m%d")
    return f"RG{day}{secrets.randbelow(1_000_000):06d}"


def parse_handoff_no(raw: str) -> str:
    """Check a handoff number from the path.

    Raises:
        InvalidHandoffNoError: not ``RG`` and 14 ASCII digits.
    """
    if not _HANDOFF_NO.fullmatch(raw):
        raise InvalidHandoffNoError()
    return raw


def parse_conversation(raw: Any) -> str:
    """The channel's keyed hash of the sender (never a raw id).

    Raises:
        InvalidRequestError: not 1-128 characters from ``A-Z a-z 0-9 _ -``.
    """
    if not isinstance(raw, str) or not _CONVERSATION.fullmatch(raw):
        raise InvalidRequestError(
            "conversation must be 1-128 characters from A-Z a-z 0-9 _ -"
        )
    return raw


def parse_handoff(body: dict[str, Any]) -> HandoffSubmission:
    """Check a ``POST /v1/handoffs`` body (docs/backend-api.md).

    Raises:
        InvalidRequestError: a field is missing, unknown or malformed; the
            message names the field, never its value.
    """
    _reject_unknown(body, _FIELDS)
    topic = body.get("topic")
    if topic is not None and topic not in TOPICS:
        raise InvalidRequestError(f"topic must be null or one of {sorted(TOPICS)}")
    return HandoffSubmission(
        conversation=parse_conversation(body.get("conversation")),
        channel=_choice(body, "channel", CHANNELS),
        reason=_choice(body, "reason", REASONS),
        topic=topic,
        transcript=_transcript(body.get("transcript")),
        collected=_collected(body.get("collected")),
        request_hash=fingerprint(body),
    )


def parse_message(body: dict[str, Any]) -> str:
    """The text of a ``POST .../messages`` body, stripped.

    Raises:
        InvalidRequestError: unknown fields, or no text of 1-1000 characters.
    """
    _reject_unknown(body, frozenset({"text"}))
    return _text(body.get("text"), "text")


def parse_delivered(body: dict[str, Any]) -> int:
    """The ``seq`` of a ``POST .../delivered`` body.

    Raises:
        InvalidRequestError: unknown fields, or seq is no whole number >= 0.
    """
    _reject_unknown(body, frozenset({"seq"}))
    seq = body.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_AFTER:
        raise InvalidRequestError("seq must be a whole number >= 0")
    return seq


def parse_empty(body: dict[str, Any]) -> None:
    """A body that must carry no fields (claim, close).

    Raises:
        InvalidRequestError: the body has fields.
    """
    _reject_unknown(body, frozenset())


def parse_after(raw: str | None) -> int:
    """The ``after`` query value: a whole number >= 0, 0 by default.

    Raises:
        InvalidRequestError: anything else.
    """
    if raw is None or raw == "":
        return 0
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_AFTER:
        raise InvalidRequestError("after must be a whole number >= 0")
    return int(raw)


def parse_status_filter(raw: str | None) -> tuple[str, ...]:
    """The statuses a list asks for; the open ones (waiting, active) by default.

    Raises:
        InvalidRequestError: not one of waiting, active, closed.
    """
    if raw is None or raw == "":
        return OPEN
    if raw not in STATUSES:
        raise InvalidRequestError(f"status must be one of {list(STATUSES)}")
    return (raw,)


def _reject_unknown(body: dict[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(set(body) - known)
    if unknown:
        raise InvalidRequestError(f"body has unknown fields: {unknown}")


def _choice(body: dict[str, Any], name: str, allowed: frozenset[str]) -> str:
    value = body.get(name)
    if value not in allowed:
        raise InvalidRequestError(f"{name} must be one of {sorted(allowed)}")
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise InvalidRequestError(
            f"{name} must be a non-empty string of at most {MAX_TEXT} characters"
        )
    return value.strip()


def _transcript(raw: Any) -> tuple[TranscriptLine, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_TRANSCRIPT:
        raise InvalidRequestError(
            f"transcript must be a list of at most {MAX_TRANSCRIPT} entries"
        )
    lines = []
    for index, entry in enumerate(raw):
        where = f"transcript[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"role", "text"}:
            raise InvalidRequestError(f"{where} must be an object with role and text")
        if entry["role"] not in (CITIZEN, ASSISTANT):
            raise InvalidRequestError(f"{where}.role must be citizen or assistant")
        lines.append(TranscriptLine(entry["role"], _text(entry["text"], where)))
    return tuple(lines)


def _collected(raw: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, dict) or len(raw) > MAX_COLLECTED:
        raise InvalidRequestError(
            f"collected must be an object of at most {MAX_COLLECTED} entries"
        )
    for key, value in raw.items():
        if not key or len(key) > MAX_COLLECTED_KEY:
            raise InvalidRequestError(
                f"collected keys must be 1-{MAX_COLLECTED_KEY} characters"
            )
        if not isinstance(value, str) or len(value) > MAX_COLLECTED_VALUE:
            raise InvalidRequestError(
                f"collected values must be strings of at most"
                f" {MAX_COLLECTED_VALUE} characters"
            )
    return tuple(raw.items())
