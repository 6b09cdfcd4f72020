"""Reading and writing handoffs and their messages; every call audited.

Like :mod:`backend.repository`: each function takes a session, returns
frozen records, and writes the audit row in the same transaction. A change
to one handoff (claim, message, close, delivered) locks its row first, so
two agents cannot both claim it and message numbers never repeat.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.auth import agent_name
from backend.db import Handoff, HandoffMessage
from backend.errors import (
    BackendError,
    HandoffClosedError,
    HandoffNotFoundError,
    HandoffNotYoursError,
    HandoffTakenError,
    IdempotencyConflictError,
)
from backend.handoffs import (
    ACTIVE,
    AGENT,
    CITIZEN,
    CLAIMED_EVENT,
    CLOSED,
    CLOSED_EVENT,
    LIST_LIMIT,
    MESSAGES_LIMIT,
    OPEN,
    SYSTEM,
    WAITING,
    HandoffRecord,
    HandoffResult,
    HandoffSubmission,
    MessageRecord,
    MessageResult,
    TranscriptLine,
    new_handoff_no,
)
from backend.repository import (
    NUMBER_ATTEMPTS,
    Caller,
    Clock,
    audit,
    row_for_key,
    utc_now,
)

logger = logging.getLogger(__name__)

# Every handoff audit row gives this reason (docs/backend-api.md).
WHY_HANDOFF = "handoff"


def create_handoff(
    session: Session,
    submission: HandoffSubmission,
    idempotency_key: str,
    caller: Caller,
    clock: Clock = utc_now,
) -> HandoffResult:
    """Open a handoff for the key, or return the one the key or conversation has.

    A second key while the conversation has an open handoff returns that
    one, not created; the unique partial index on open conversations makes
    a concurrent second insert fail, and it then reads the winner's row.

    Raises:
        IdempotencyConflictError: the key was used with a different body.
        BackendError: no free handoff number after several tries.
    """
    existing = _existing(session, submission, idempotency_key, caller)
    if existing is not None:
        return existing
    for _ in range(NUMBER_ATTEMPTS):
        now = clock()
        row = _new_handoff(submission, idempotency_key, new_handoff_no(now), now)
        session.add(row)
        audit(
            session, caller, "handoff.create", row.handoff_no, now, reason=WHY_HANDOFF
        )
        try:
            session.flush()
            record = _record(session, row)
            session.commit()
        except IntegrityError:
            session.rollback()
            existing = _existing(session, submission, idempotency_key, caller)
            if existing is not None:
                logger.info("backend.handoff.race_lost")
                return existing
            logger.warning("backend.handoff.number_collision")
            continue
        return HandoffResult(record, created=True)
    raise BackendError("no free handoff number")


def open_handoff(session: Session, conversation: str, caller: Caller) -> HandoffRecord:
    """The conversation's open (waiting or active) handoff; audited.

    Raises:
        HandoffNotFoundError: the conversation has none open.
    """
    row = _open_row(session, conversation)
    if row is None:
        raise HandoffNotFoundError()
    return _read(session, row, caller, details=False)


def latest_handoff(session: Session, conversation: str) -> HandoffRecord:
    """The conversation's newest handoff, open or closed.

    The channels ask this before every message and while a page waits for
    agent replies, to route the message; the summary holds no personal data,
    so the read is not audited (the messages' reads are).

    Raises:
        HandoffNotFoundError: the conversation has never been handed off.
    """
    row = session.execute(
        select(Handoff)
        .where(Handoff.conversation == conversation)
        .order_by(Handoff.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        raise HandoffNotFoundError()
    record = _record(session, row)
    session.commit()
    return record


def get_handoff(
    session: Session, handoff_no: str, caller: Caller, *, details: bool = False
) -> HandoffRecord:
    """The handoff with this number; with ``details``, its transcript too.

    Raises:
        HandoffNotFoundError: no handoff has this number.
    """
    return _read(session, _row(session, handoff_no), caller, details=details)


def list_handoffs(
    session: Session, statuses: tuple[str, ...], caller: Caller
) -> list[HandoffRecord]:
    """Up to 50 handoffs in these statuses, oldest first; audited."""
    rows = session.execute(
        select(Handoff)
        .where(Handoff.status.in_(statuses))
        .order_by(Handoff.created_at, Handoff.id)
        .limit(LIST_LIMIT)
    ).scalars()
    positions = _positions(session)
    rows = list(rows)
    last = _last_seqs(session, [row.id for row in rows])
    records = [_record(session, row, positions, last) for row in rows]
    audit(
        session,
        caller,
        "handoff.list",
        f"status={','.join(statuses)}",
        reason=WHY_HANDOFF,
    )
    session.commit()
    return records


def claim_handoff(
    session: Session, handoff_no: str, caller: Caller, clock: Clock = utc_now
) -> HandoffRecord:
    """The calling agent takes a waiting handoff; claiming it again is a no-op.

    Raises:
        HandoffNotFoundError: no handoff has this number.
        HandoffClosedError: it is closed.
        HandoffTakenError: another agent has claimed it.
    """
    agent = agent_name(caller.name)
    row = _locked(session, handoff_no)
    if row.status == CLOSED:
        raise HandoffClosedError()
    if row.status == ACTIVE:
        if row.agent != agent:
            raise HandoffTakenError()
        record = _record(session, row)
        session.rollback()
        return record

    now = clock()
    row.status, row.agent, row.claimed_at, row.updated_at = ACTIVE, agent, now, now
    _append(session, row, SYSTEM, None, now, event=CLAIMED_EVENT)
    audit(session, caller, "handoff.claim", handoff_no, now, reason=WHY_HANDOFF)
    record = _record(session, row)
    session.commit()

    logger.info("backend.handoff.claimed", extra={"handoff_no": handoff_no})
    return record


def post_message(
    session: Session,
    handoff_no: str,
    message: str,
    idempotency_key: str | None,
    caller: Caller,
    clock: Clock = utc_now,
) -> MessageResult:
    """Append the citizen's (action server) or the agent's message.

    With a key, the same key again returns the message it made.

    Raises:
        HandoffNotFoundError: no handoff has this number.
        IdempotencyConflictError: the key came with another text or side.
        HandoffClosedError: it is closed.
        HandoffNotYoursError: an agent who has not claimed it.
    """
    agent = agent_name(caller.name)
    role = CITIZEN if agent is None else AGENT
    row = _locked(session, handoff_no)
    if idempotency_key is not None:
        earlier = _message_for_key(session, row, idempotency_key)
        if earlier is not None:
            if (earlier.role, earlier.text) != (role, message):
                raise IdempotencyConflictError()
            audit(session, caller, "handoff.replay", handoff_no, reason=WHY_HANDOFF)
            session.commit()
            return MessageResult(_message(earlier), created=False)
    _check_writable(row, agent)

    now = clock()
    added = _append(session, row, role, message, now, key=idempotency_key)
    row.updated_at = now
    audit(session, caller, "handoff.message", handoff_no, now, reason=WHY_HANDOFF)
    record = _message(added)
    session.commit()
    return MessageResult(record, created=True)


def list_messages(
    session: Session, handoff_no: str, after: int, caller: Caller
) -> tuple[str, list[MessageRecord]]:
    """The handoff's status and up to 100 messages with ``seq > after``.

    Audited only when messages come back: an empty poll reads nothing.

    Raises:
        HandoffNotFoundError: no handoff has this number.
    """
    row = _row(session, handoff_no)
    messages = session.execute(
        select(HandoffMessage)
        .where(HandoffMessage.handoff_id == row.id, HandoffMessage.seq > after)
        .order_by(HandoffMessage.seq)
        .limit(MESSAGES_LIMIT)
    ).scalars()
    records = [_message(message) for message in messages]
    status = row.status
    if records:
        audit(session, caller, "handoff.read", handoff_no, reason=WHY_HANDOFF)
        session.commit()
    return status, records


def close_handoff(
    session: Session, handoff_no: str, caller: Caller, clock: Clock = utc_now
) -> HandoffRecord:
    """Close for the citizen (action server) or the agent who owns it.

    Closing a closed handoff returns it unchanged.

    Raises:
        HandoffNotFoundError: no handoff has this number.
        HandoffNotYoursError: an agent who has not claimed it.
    """
    agent = agent_name(caller.name)
    row = _locked(session, handoff_no)
    if row.status == CLOSED:
        record = _record(session, row)
        session.rollback()
        return record
    _check_writable(row, agent)

    now = clock()
    row.status, row.closed_at, row.updated_at = CLOSED, now, now
    row.closed_by = CITIZEN if agent is None else AGENT
    _append(session, row, SYSTEM, None, now, event=CLOSED_EVENT)
    audit(session, caller, "handoff.close", handoff_no, now, reason=WHY_HANDOFF)
    record = _record(session, row)
    session.commit()

    logger.info(
        "backend.handoff.closed",
        extra={"handoff_no": handoff_no, "closed_by": row.closed_by},
    )
    return record


def mark_delivered(
    session: Session, handoff_no: str, seq: int, caller: Caller
) -> HandoffRecord:
    """Record that the citizen has been shown every message up to ``seq``.

    The mark never moves back and never passes the last message.

    Raises:
        HandoffNotFoundError: no handoff has this number.
    """
    row = _locked(session, handoff_no)
    last = _last_seqs(session, [row.id]).get(row.id, 0)
    row.delivered_seq = max(row.delivered_seq, min(seq, last))
    audit(session, caller, "handoff.delivered", handoff_no, reason=WHY_HANDOFF)
    record = _record(session, row)
    session.commit()
    return record


def count_waiting(session: Session) -> int:
    """How many handoffs wait for an agent (the metrics gauge)."""
    query = select(func.count()).select_from(Handoff).where(Handoff.status == WAITING)
    return session.execute(query).scalar_one()


def _existing(
    session: Session,
    submission: HandoffSubmission,
    idempotency_key: str,
    caller: Caller,
) -> HandoffResult | None:
    row = row_for_key(session, Handoff, idempotency_key, submission.request_hash)
    if row is None:
        row = _open_row(session, submission.conversation)
    if row is None:
        return None
    audit(session, caller, "handoff.replay", row.handoff_no, reason=WHY_HANDOFF)
    record = _record(session, row)
    session.commit()
    return HandoffResult(record, created=False)


def _new_handoff(
    submission: HandoffSubmission, idempotency_key: str, handoff_no: str, now
) -> Handoff:
    return Handoff(
        handoff_no=handoff_no,
        idempotency_key=idempotency_key,
        request_hash=submission.request_hash,
        conversation=submission.conversation,
        channel=submission.channel,
        reason=submission.reason,
        topic=submission.topic,
        transcript=[vars(line) for line in submission.transcript],
        collected=dict(submission.collected),
        status=WAITING,
        delivered_seq=0,
        created_at=now,
        updated_at=now,
    )


def _open_row(session: Session, conversation: str) -> Handoff | None:
    return session.execute(
        select(Handoff).where(
            Handoff.conversation == conversation, Handoff.status.in_(OPEN)
        )
    ).scalar_one_or_none()


def _row(session: Session, handoff_no: str) -> Handoff:
    row = session.execute(
        select(Handoff).where(Handoff.handoff_no == handoff_no)
    ).scalar_one_or_none()
    if row is None:
        raise HandoffNotFoundError()
    return row


def _locked(session: Session, handoff_no: str) -> Handoff:
    # As backend.lifecycle: FOR UPDATE on PostgreSQL; on SQLite, BEGIN
    # IMMEDIATE takes the write lock before the checks read the row.
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("BEGIN IMMEDIATE"))
    row = session.execute(
        select(Handoff).where(Handoff.handoff_no == handoff_no).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise HandoffNotFoundError()
    return row


def _read(
    session: Session, row: Handoff, caller: Caller, *, details: bool
) -> HandoffRecord:
    record = _record(session, row, details=details)
    audit(session, caller, "handoff.read", row.handoff_no, reason=WHY_HANDOFF)
    session.commit()
    return record


def _check_writable(row: Handoff, agent: str | None) -> None:
    if row.status == CLOSED:
        raise HandoffClosedError()
    if agent is not None and (row.status != ACTIVE or row.agent != agent):
        raise HandoffNotYoursError()


def _message_for_key(
    session: Session, row: Handoff, idempotency_key: str
) -> HandoffMessage | None:
    return session.execute(
        select(HandoffMessage).where(
            HandoffMessage.handoff_id == row.id,
            HandoffMessage.idempotency_key == idempotency_key,
        )
    ).scalar_one_or_none()


def _append(
    session: Session,
    row: Handoff,
    role: str,
    message: str | None,
    now,
    *,
    event: str | None = None,
    key: str | None = None,
) -> HandoffMessage:
    """Add the next message; the caller holds the handoff's row lock."""
    seq = _last_seqs(session, [row.id]).get(row.id, 0) + 1
    added = HandoffMessage(
        handoff_id=row.id,
        seq=seq,
        role=role,
        text=message,
        event=event,
        idempotency_key=key,
        created_at=now,
    )
    session.add(added)
    session.flush()
    return added


def _positions(session: Session) -> dict[int, int]:
    """Place in the waiting queue by handoff id: 1 = the oldest waiting."""
    ids = session.execute(
        select(Handoff.id)
        .where(Handoff.status == WAITING)
        .order_by(Handoff.created_at, Handoff.id)
    ).scalars()
    return {handoff_id: place for place, handoff_id in enumerate(ids, start=1)}


def _position(session: Session, row: Handoff) -> int | None:
    if row.status != WAITING:
        return None
    ahead = session.execute(
        select(func.count())
        .select_from(Handoff)
        .where(
            Handoff.status == WAITING,
            or_(
                Handoff.created_at < row.created_at,
                and_(Handoff.created_at == row.created_at, Handoff.id < row.id),
            ),
        )
    ).scalar_one()
    return ahead + 1


def _last_seqs(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(HandoffMessage.handoff_id, func.max(HandoffMessage.seq))
        .where(HandoffMessage.handoff_id.in_(ids))
        .group_by(HandoffMessage.handoff_id)
    )
    return {handoff_id: last for handoff_id, last in rows}


def _record(
    session: Session,
    row: Handoff,
    positions: dict[int, int] | None = None,
    last_seqs: dict[int, int] | None = None,
    *,
    details: bool = False,
) -> HandoffRecord:
    """The frozen record of a row (read inside its session)."""
    if positions is None:
        positions = {row.id: _position(session, row)}
    if last_seqs is None:
        last_seqs = _last_seqs(session, [row.id])
    record = HandoffRecord(
        handoff_no=row.handoff_no,
        status=row.status,
        reason=row.reason,
        channel=row.channel,
        topic=row.topic,
        agent=row.agent,
        position=positions.get(row.id),
        delivered_seq=row.delivered_seq,
        last_seq=last_seqs.get(row.id, 0),
        created_at=row.created_at,
        updated_at=row.updated_at,
        closed_by=row.closed_by,
    )
    if not details:
        return record
    return replace(
        record,
        transcript=tuple(TranscriptLine(**line) for line in row.transcript),
        collected=tuple(row.collected.items()),
    )


def _message(row: HandoffMessage) -> MessageRecord:
    return MessageRecord(
        seq=row.seq,
        role=row.role,
        text=row.text,
        event=row.event,
        created_at=row.created_at,
    )
