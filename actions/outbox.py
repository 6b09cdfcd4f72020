"""The durable outbox: every confirmed application, on disk before it is sent.

One row per idempotency key in a SQLite file under ``var/`` (``outbox.db``).
The submit action writes the row first and then tries to deliver it, so a
platform that is down, or an action server killed mid-call, loses nothing:
:mod:`actions.delivery` sends what is pending, and the backend's idempotency
key makes a second delivery of the same row return the same application.
The rows also say which applications a conversation made (for status).

SECURITY: the rows hold the application body, 身份证号 included, like the
tracker store beside them; encryption and retention are TODO(#8).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from actions.backend_client import ApplicationRequest

logger = logging.getLogger(__name__)

PENDING = "pending"
DELIVERED = "delivered"
REJECTED = "rejected"
# A failing row waits longer after each try, up to a minute.
FIRST_RETRY_S = 5
MAX_RETRY_S = 60

_metadata = MetaData()
outbox_table = Table(
    "outbox",
    _metadata,
    Column("idempotency_key", String(128), primary_key=True),
    # bot.privacy.hash_user of the sender: finds a conversation's rows
    # without storing its id.
    Column("sender_hash", String(32), nullable=False, index=True),
    Column("scenario_id", String(64), nullable=False),
    Column("request", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", String(64), nullable=True),
    Column("application_no", String(16), nullable=True),
    Column("created_at", DateTime, nullable=False),  # UTC, naive
    Column("next_attempt_at", DateTime, nullable=False),  # UTC, naive
    Column("delivered_at", DateTime, nullable=True),
    # When the citizen was told the outcome (number or refusal).
    Column("told_at", DateTime, nullable=True),
)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class OutboxEntry:
    """One confirmed application and how far its delivery got."""

    idempotency_key: str
    sender_hash: str
    scenario_id: str
    request: ApplicationRequest
    status: str  # pending | delivered | rejected
    attempts: int
    last_error: str | None
    application_no: str | None
    created_at: datetime
    told: bool

    @property
    def body(self) -> dict[str, Any]:
        return self.request.to_json()


class OutboxConflict(Exception):
    """The key already holds a different application (answers changed after it)."""

    code = "outbox_conflict"

    def __init__(self, entry: OutboxEntry) -> None:
        super().__init__(self.code)
        self.entry = entry


class Outbox:
    """The outbox file; every method is blocking (call it in a worker thread)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._engine = _sqlite_engine(path)
        _metadata.create_all(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def put(
        self, key: str, sender_hash: str, request: ApplicationRequest
    ) -> OutboxEntry:
        """Keep ``request`` under ``key``; the same request again keeps the row.

        Raises:
            OutboxConflict: ``key`` already holds a different request.
        """
        now = utc_now()
        row = {
            "idempotency_key": key,
            "sender_hash": sender_hash,
            "scenario_id": request.scenario_id,
            "request": request.to_json(),
            "status": PENDING,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(outbox_table).values(**row))
            logger.info(
                "actions.outbox.stored", extra={"scenario": request.scenario_id}
            )
        except IntegrityError:
            pass  # the row is there already: a repeated 确认提交
        entry = self.get(key)
        if entry.body != request.to_json():
            raise OutboxConflict(entry)
        return entry

    def get(self, key: str) -> OutboxEntry:
        """The row for ``key``.

        Raises:
            KeyError: no such row.
        """
        with self._engine.connect() as connection:
            row = connection.execute(
                select(outbox_table).where(outbox_table.c.idempotency_key == key)
            ).one_or_none()
        if row is None:
            raise KeyError(key)
        return _entry(row)

    def due(self, now: datetime | None = None, limit: int = 20) -> list[OutboxEntry]:
        """Pending rows whose next try is due, oldest first."""
        query = (
            select(outbox_table)
            .where(outbox_table.c.status == PENDING)
            .where(outbox_table.c.next_attempt_at <= (now or utc_now()))
            .order_by(outbox_table.c.created_at)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return [_entry(row) for row in connection.execute(query)]

    def for_sender(self, sender_hash: str) -> list[OutboxEntry]:
        """A conversation's rows, oldest first."""
        query = (
            select(outbox_table)
            .where(outbox_table.c.sender_hash == sender_hash)
            .order_by(outbox_table.c.created_at)
        )
        with self._engine.connect() as connection:
            return [_entry(row) for row in connection.execute(query)]

    def mark_delivered(self, key: str, application_no: str) -> None:
        """The platform has it under ``application_no``."""
        self._update(
            key,
            status=DELIVERED,
            application_no=application_no,
            delivered_at=utc_now(),
            last_error=None,
        )

    def mark_failed(self, key: str, code: str) -> None:
        """No answer this time; try again later (backing off)."""
        entry = self.get(key)
        wait = min(MAX_RETRY_S, FIRST_RETRY_S * 2**entry.attempts)
        self._update(
            key,
            attempts=entry.attempts + 1,
            last_error=code,
            next_attempt_at=utc_now() + timedelta(seconds=wait),
        )

    def mark_rejected(self, key: str, code: str) -> None:
        """The platform refused it; sending it again would not help."""
        self._update(key, status=REJECTED, last_error=code)

    def mark_told(self, key: str) -> None:
        """The citizen has been told the outcome."""
        self._update(key, told_at=utc_now())

    def _update(self, key: str, **values: Any) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                update(outbox_table)
                .where(outbox_table.c.idempotency_key == key)
                .values(**values)
            )


def _entry(row: Any) -> OutboxEntry:
    return OutboxEntry(
        idempotency_key=row.idempotency_key,
        sender_hash=row.sender_hash,
        scenario_id=row.scenario_id,
        request=ApplicationRequest.from_json(row.request),
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        application_no=row.application_no,
        created_at=row.created_at,
        told=row.told_at is not None,
    )


def _tune_sqlite(dbapi_connection, _record) -> None:
    # WAL and a full sync: a confirmed application survives a crash or a
    # power cut once put() returns; a second writer waits for the lock.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_engine(path: Path) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}",
        future=True,
        connect_args={"check_same_thread": False, "timeout": 10},
    )
    event.listen(engine, "connect", _tune_sqlite)
    return engine
