"""Reading and writing applications, one function per use; the audit helper.

Every function takes an open :class:`~sqlalchemy.orm.Session` and returns
frozen records, never ORM objects, so callers cannot lazy-load after the
session is closed. Each write also appends to the audit log in the same
transaction.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db import Application, ApplicationItem, AuditEntry
from backend.errors import (
    ApplicationNotFoundError,
    BackendError,
    IdempotencyConflictError,
)
from backend.validation import Submission

logger = logging.getLogger(__name__)

RECEIVED = "received"
# Application numbers carry the date in China Standard Time (no DST).
CHINA_TIME = timezone(timedelta(hours=8), "CST")
NUMBER_ATTEMPTS = 5

Clock = Callable[[], datetime]

# Why an audited action happened, in stable words an auditor can filter on.
# A returned item records the operator's note to the citizen instead.
WHY_SUBMISSION = "citizen_submission"
WHY_RETRY = "idempotent_retry"
WHY_STATUS_QUERY = "status_query"
WHY_CANCEL = "citizen_request"
WHY_CONSENT = "citizen_consent"
WHY_PREFILL = "prefill_under_consent"
WHY_PROGRESS = "department_progress"


def utc_now() -> datetime:
    """The current time in UTC, naive, as the tables store it."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Caller:
    """Who is calling (a token's name) and under which request id."""

    name: str
    request_id: str


@dataclass(frozen=True)
class ItemRecord:
    item_id: str
    name: str
    department: str
    route: str
    status: str
    reason: str | None = None  # what to fix, while the item is returned


@dataclass(frozen=True)
class ApplicationRecord:
    """An application as the API shows it (no applicant data)."""

    application_no: str
    scenario_id: str
    status: str
    items: tuple[ItemRecord, ...]
    created_at: datetime  # UTC, naive
    updated_at: datetime  # UTC, naive

    def to_json(self) -> dict[str, Any]:
        return {
            "application_no": self.application_no,
            "scenario_id": self.scenario_id,
            "status": self.status,
            "items": [vars(item) for item in self.items],
            "created_at": iso_utc(self.created_at),
            "updated_at": iso_utc(self.updated_at),
        }


def iso_utc(moment: datetime) -> str:
    """A naive UTC time as ``2026-12-03T06:12:45Z`` (seconds precision)."""
    return moment.replace(tzinfo=UTC, microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class SubmitResult:
    """The application for a key, and whether this call created it."""

    application: ApplicationRecord
    created: bool


def get_application(
    session: Session, application_no: str, caller: Caller
) -> ApplicationRecord:
    """The application with this number and its current status; audited.

    Raises:
        ApplicationNotFoundError: no application with this number.
    """
    row = session.execute(
        select(Application).where(Application.application_no == application_no)
    ).scalar_one_or_none()
    if row is None:
        raise ApplicationNotFoundError()
    record = application_record(row)
    audit(session, caller, "application.read", application_no, reason=WHY_STATUS_QUERY)
    session.commit()
    return record


def submit_application(
    session: Session,
    submission: Submission,
    idempotency_key: str,
    caller: Caller,
    clock: Clock = utc_now,
) -> SubmitResult:
    """Create the application for ``idempotency_key``, or return the one it made.

    Two concurrent calls with one key both try to insert; the unique constraint
    lets one win and the other reads the winner's row.

    Raises:
        IdempotencyConflictError: the key was used with a different body.
        BackendError: no free application number after several tries.
    """
    existing = _replay(session, submission, idempotency_key, caller)
    if existing is not None:
        return existing
    for _ in range(NUMBER_ATTEMPTS):
        now = clock()
        row = _new_application(
            submission, idempotency_key, new_application_no(now), now
        )
        session.add(row)
        audit(
            session,
            caller,
            "application.create",
            row.application_no,
            now,
            reason=WHY_SUBMISSION,
        )
        record = application_record(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            existing = _replay(session, submission, idempotency_key, caller)
            if existing is not None:
                # A concurrent call with this key inserted first.
                logger.info("backend.application.race_lost")
                return existing
            # Not the key, so the random number collided: draw another.
            logger.warning("backend.application.number_collision")
            continue
        return SubmitResult(record, created=True)
    raise BackendError("no free application number")


def new_application_no(now_utc: datetime) -> str:
    """``ZW`` + the date in China Standard Time + six random digits."""
    day = now_utc.replace(tzinfo=UTC).astimezone(CHINA_TIME).strftime("%Y%m%d")
    return f"ZW{day}{secrets.randbelow(1_000_000):06d}"


def row_for_key(
    session: Session, model: Any, idempotency_key: str, request_hash: str
) -> Any | None:
    """The row an earlier call with this key made (applications, consents,
    tickets), or None.

    Raises:
        IdempotencyConflictError: the key came before with another body.
    """
    row = session.execute(
        select(model).where(model.idempotency_key == idempotency_key)
    ).scalar_one_or_none()
    if row is not None and row.request_hash != request_hash:
        raise IdempotencyConflictError()
    return row


def _replay(
    session: Session, submission: Submission, idempotency_key: str, caller: Caller
) -> SubmitResult | None:
    row = row_for_key(session, Application, idempotency_key, submission.request_hash)
    if row is None:
        return None
    record = application_record(row)
    audit(session, caller, "application.replay", row.application_no, reason=WHY_RETRY)
    session.commit()
    return SubmitResult(record, created=False)


def _new_application(
    submission: Submission, idempotency_key: str, application_no: str, now: datetime
) -> Application:
    return Application(
        application_no=application_no,
        idempotency_key=idempotency_key,
        request_hash=submission.request_hash,
        scenario_id=submission.scenario_id,
        applicant_id_number=submission.applicant_id_number,
        answers=submission.answers,
        form=submission.form,
        status=RECEIVED,
        created_at=now,
        updated_at=now,
        items=[
            ApplicationItem(
                position=position,
                item_id=item.item_id,
                name=item.name,
                department=item.department,
                route=item.route,
                status=RECEIVED,
            )
            for position, item in enumerate(submission.items)
        ],
    )


def application_record(row: Application) -> ApplicationRecord:
    """The frozen record of an application row (read inside its session)."""
    return ApplicationRecord(
        application_no=row.application_no,
        scenario_id=row.scenario_id,
        status=row.status,
        items=tuple(
            ItemRecord(
                item.item_id,
                item.name,
                item.department,
                item.route,
                item.status,
                item.reason,
            )
            for item in row.items
        ),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def audit(
    session: Session,
    caller: Caller,
    action: str,
    target: str,
    at: datetime | None = None,
    consent_id: str | None = None,
    *,
    reason: str,
) -> None:
    """Add an audit row to the session; the caller's commit makes it stick.

    Args:
        reason: why (one of the ``WHY_*`` words, or a returned item's note);
            required, so no new action can be audited without one.
    """
    session.add(
        AuditEntry(
            who=caller.name,
            action=action,
            target=target,
            request_id=caller.request_id,
            at=at or utc_now(),
            consent_id=consent_id,
            reason=reason,
        )
    )
