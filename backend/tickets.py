"""12345 tickets (工单): complaints, requests for help and suggestions.

The assistant files a ticket when triage reads a message as a complaint or
a suggestion and the citizen agrees; the citizen gets a number to ask
about. ``POST /v1/tickets`` is idempotent on its key like applications;
``GET /v1/tickets/{ticket_no}`` shows the status. Every read and write is
audited.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db import Ticket
from backend.errors import (
    BackendError,
    InvalidRequestError,
    InvalidTicketNoError,
    TicketNotFoundError,
)
from backend.repository import (
    CHINA_TIME,
    NUMBER_ATTEMPTS,
    WHY_RETRY,
    WHY_STATUS_QUERY,
    Caller,
    Clock,
    audit,
    iso_utc,
    row_for_key,
    utc_now,
)
from backend.validation import fingerprint

logger = logging.getLogger(__name__)

KINDS = frozenset({"complaint", "suggestion"})
# The platform's own list (an integrator's may differ); it matches what the
# assistant's triage gives, plus 其他 (a test keeps the two equal).
TOPICS = frozenset(
    {
        "城建",
        "交通",
        "教育",
        "社保就业",
        "医疗卫生",
        "环保",
        "企业商贸",
        "文旅",
        "政务",
        "治安",
        "三农",
        "其他",
    }
)
CHANNELS = frozenset({"web", "wechat", "other"})
RECEIVED = "received"
WHY_TICKET = "citizen_report"
MAX_DESCRIPTION = 1000
MAX_LOCATION = 256
MAX_OCCURRED = 128
_FIELDS = frozenset(
    {
        "kind",
        "topic",
        "description",
        "location",
        "occurred",
        "contact_consent",
        "contact_phone",
        "channel",
    }
)
_TICKET_NO = re.compile(r"GD[0-9]{14}")  # ASCII only: \d takes any script
_PHONE = re.compile(r"1[3-9][0-9]{9}")


@dataclass(frozen=True)
class TicketSubmission:
    """A checked ``POST /v1/tickets`` body."""

    kind: str
    topic: str
    description: str
    location: str | None
    occurred: str | None
    contact_consent: bool
    contact_phone: str | None
    channel: str
    request_hash: str


@dataclass(frozen=True)
class TicketRecord:
    """A ticket as the API shows it: no description, place or phone."""

    ticket_no: str
    kind: str
    topic: str
    status: str
    created_at: datetime  # UTC, naive
    updated_at: datetime  # UTC, naive

    def to_json(self) -> dict[str, Any]:
        return {
            "ticket_no": self.ticket_no,
            "kind": self.kind,
            "topic": self.topic,
            "status": self.status,
            "created_at": iso_utc(self.created_at),
            "updated_at": iso_utc(self.updated_at),
        }


@dataclass(frozen=True)
class TicketResult:
    ticket: TicketRecord
    created: bool


def parse_ticket_no(raw: str) -> str:
    """Check a ticket number from the path.

    Raises:
        InvalidTicketNoError: not ``GD`` and 14 ASCII digits.
    """
    if not _TICKET_NO.fullmatch(raw):
        raise InvalidTicketNoError()
    return raw


def parse_ticket(body: dict[str, Any]) -> TicketSubmission:
    """Check a ``POST /v1/tickets`` body (docs/backend-api.md).

    Raises:
        InvalidRequestError: a field is missing, unknown or malformed; the
            message names the field, never its value.
    """
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise InvalidRequestError(f"body has unknown fields: {unknown}")
    kind = _choice(body, "kind", KINDS)
    topic = _choice(body, "topic", TOPICS)
    channel = _choice(body, "channel", CHANNELS)
    consent = body.get("contact_consent")
    if not isinstance(consent, bool):
        raise InvalidRequestError("contact_consent must be true or false")
    phone = body.get("contact_phone")
    if consent != (phone is not None):
        raise InvalidRequestError("contact_phone is given exactly when contact_consent")
    if phone is not None and (
        not isinstance(phone, str) or not _PHONE.fullmatch(phone)
    ):
        raise InvalidRequestError("contact_phone must be an 11-digit mobile number")
    return TicketSubmission(
        kind=kind,
        topic=topic,
        description=_text(body, "description", MAX_DESCRIPTION, required=True),
        location=_text(body, "location", MAX_LOCATION),
        occurred=_text(body, "occurred", MAX_OCCURRED),
        contact_consent=consent,
        contact_phone=phone,
        channel=channel,
        request_hash=fingerprint(body),
    )


def _choice(body: dict[str, Any], name: str, allowed: frozenset[str]) -> str:
    value = body.get(name)
    if value not in allowed:
        raise InvalidRequestError(f"{name} must be one of {sorted(allowed)}")
    return value


def _text(
    body: dict[str, Any], name: str, limit: int, *, required: bool = False
) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidRequestError(
            f"{name} must be a non-empty string of at most {limit} characters"
        )
    return value.strip()


def create_ticket(
    session: Session,
    submission: TicketSubmission,
    idempotency_key: str,
    caller: Caller,
    clock: Clock = utc_now,
) -> TicketResult:
    """File the ticket for ``idempotency_key``, or return the one it filed.

    Raises:
        IdempotencyConflictError: the key was used with a different body.
        BackendError: no free ticket number after several tries.
    """
    existing = _replay(session, submission, idempotency_key, caller)
    if existing is not None:
        return existing
    for _ in range(NUMBER_ATTEMPTS):
        now = clock()
        row = _new_ticket(submission, idempotency_key, new_ticket_no(now), now)
        session.add(row)
        audit(session, caller, "ticket.create", row.ticket_no, now, reason=WHY_TICKET)
        record = ticket_record(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            existing = _replay(session, submission, idempotency_key, caller)
            if existing is not None:
                logger.info("backend.ticket.race_lost")
                return existing
            logger.warning("backend.ticket.number_collision")
            continue
        return TicketResult(record, created=True)
    raise BackendError("no free ticket number")


def get_ticket(session: Session, ticket_no: str, caller: Caller) -> TicketRecord:
    """The ticket with this number; audited.

    Raises:
        TicketNotFoundError: no ticket has this number.
    """
    row = session.execute(
        select(Ticket).where(Ticket.ticket_no == ticket_no)
    ).scalar_one_or_none()
    if row is None:
        raise TicketNotFoundError()
    record = ticket_record(row)
    audit(session, caller, "ticket.read", ticket_no, reason=WHY_STATUS_QUERY)
    session.commit()
    return record


def new_ticket_no(now_utc: datetime) -> str:
    """``GD`` + the date in China Standard Time + six random digits."""
    day = now_utc.replace(tzinfo=UTC).astimezone(CHINA_TIME).strftime("%Y%m%d")
    return f"GD{day}{secrets.randbelow(1_000_000):06d}"


def _replay(
    session: Session,
    submission: TicketSubmission,
    idempotency_key: str,
    caller: Caller,
) -> TicketResult | None:
    row = row_for_key(session, Ticket, idempotency_key, submission.request_hash)
    if row is None:
        return None
    audit(session, caller, "ticket.replay", row.ticket_no, reason=WHY_RETRY)
    record = ticket_record(row)
    session.commit()
    return TicketResult(record, created=False)


def _new_ticket(
    submission: TicketSubmission, idempotency_key: str, ticket_no: str, now: datetime
) -> Ticket:
    return Ticket(
        ticket_no=ticket_no,
        idempotency_key=idempotency_key,
        request_hash=submission.request_hash,
        kind=submission.kind,
        topic=submission.topic,
        description=submission.description,
        location=submission.location,
        occurred=submission.occurred,
        contact_consent=submission.contact_consent,
        contact_phone=submission.contact_phone,
        channel=submission.channel,
        status=RECEIVED,
        created_at=now,
        updated_at=now,
    )


def ticket_record(row: Ticket) -> TicketRecord:
    return TicketRecord(
        ticket_no=row.ticket_no,
        kind=row.kind,
        topic=row.topic,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
