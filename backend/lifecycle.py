"""An application after submission: items moving through their statuses, cancel.

Each item goes received → accepted → done, or received → returned (with
the reason the citizen must fix) → received again once corrected. The
application's status follows its items; the citizen may cancel while no item
is accepted. Every change is audited in the same transaction.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from backend.db import Application, ApplicationItem
from backend.errors import (
    ApplicationNotFoundError,
    CancelNotAllowedError,
    InvalidTransitionError,
    ItemNotFoundError,
)
from backend.repository import (
    RECEIVED,
    WHY_CANCEL,
    WHY_PROGRESS,
    ApplicationRecord,
    Caller,
    Clock,
    application_record,
    audit,
    utc_now,
)
from backend.validation import StatusChange

logger = logging.getLogger(__name__)

ACCEPTED = "accepted"
RETURNED = "returned"
DONE = "done"
CANCELLED = "cancelled"

# Where an item may go from each status; cancelled and done are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    RECEIVED: frozenset({ACCEPTED, RETURNED}),
    RETURNED: frozenset({RECEIVED}),
    ACCEPTED: frozenset({DONE}),
    DONE: frozenset(),
    CANCELLED: frozenset(),
}
# A department has started on these: the application can no longer be cancelled.
STARTED = frozenset({ACCEPTED, DONE})


def application_status(item_statuses: list[str]) -> str:
    """The application's status from its items' statuses.

    ``done`` when every item is done; ``returned`` when any item waits for a
    correction; ``accepted`` when any item is accepted or done; else
    ``received``.
    """
    if item_statuses and all(status == DONE for status in item_statuses):
        return DONE
    if RETURNED in item_statuses:
        return RETURNED
    if STARTED & set(item_statuses):
        return ACCEPTED
    return RECEIVED


def set_item_status(
    session: Session,
    application_no: str,
    item_id: str,
    change: StatusChange,
    caller: Caller,
    clock: Clock = utc_now,
) -> ApplicationRecord:
    """Move one item to ``change.status``; the same move again changes nothing.

    Raises:
        ApplicationNotFoundError: no application with this number.
        ItemNotFoundError: the application has no such item.
        InvalidTransitionError: the item cannot go there from its status.
    """
    row = _locked_application(session, application_no)
    item = next((i for i in row.items if i.item_id == item_id), None)
    if item is None:
        raise ItemNotFoundError()
    if (item.status, item.reason) == (change.status, change.reason):
        return application_record(row)
    if change.status not in TRANSITIONS[item.status]:
        raise InvalidTransitionError(
            f"an item in status {item.status} cannot move to {change.status}"
        )

    now = clock()
    item.status, item.reason, item.updated_at = change.status, change.reason, now
    row.status = application_status([i.status for i in row.items])
    row.updated_at = now
    why = change.reason if change.status == RETURNED else WHY_PROGRESS
    audit(session, caller, f"item.{change.status}", application_no, now, reason=why)
    record = application_record(row)
    session.commit()

    logger.info(
        "backend.item.status_changed",
        extra={"status": change.status, "application_status": record.status},
    )
    return record


def cancel_application(
    session: Session, application_no: str, caller: Caller, clock: Clock = utc_now
) -> ApplicationRecord:
    """Cancel every item while none is accepted; cancelling again is a no-op.

    Raises:
        ApplicationNotFoundError: no application with this number.
        CancelNotAllowedError: an item is already accepted or done.
    """
    row = _locked_application(session, application_no)
    if row.status == CANCELLED:
        return application_record(row)
    if any(item.status in STARTED for item in row.items):
        raise CancelNotAllowedError()

    now = clock()
    for item in row.items:
        item.status, item.reason, item.updated_at = CANCELLED, None, now
    row.status, row.updated_at = CANCELLED, now
    # TODO(#8): the cancel call carries no reason; only the citizen cancels
    # (through the assistant) until an operator cancel with a note exists.
    audit(session, caller, "application.cancel", application_no, now, reason=WHY_CANCEL)
    record = application_record(row)
    session.commit()

    logger.info("backend.application.cancelled", extra={"items": len(record.items)})
    return record


def _locked_application(session: Session, application_no: str) -> Application:
    # A cancel and an acceptance must not both pass their checks. PostgreSQL:
    # FOR UPDATE on the rows. SQLite ignores FOR UPDATE, and pysqlite would
    # begin the transaction only at the first write, after the check; BEGIN
    # IMMEDIATE takes the write lock first (waiting up to busy_timeout).
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("BEGIN IMMEDIATE"))
    row = session.execute(
        select(Application)
        .where(Application.application_no == application_no)
        .with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise ApplicationNotFoundError()
    # Lock the items too: the check reads them.
    session.execute(
        select(ApplicationItem.id)
        .where(ApplicationItem.application_id == row.id)
        .with_for_update()
    )
    return row
