"""Tables, the engine and the schema upgrade of the backend database.

SQLite under ``var/`` by default, PostgreSQL by URL. The schema is owned by
the Alembic migrations in ``backend/migrations``; the models here must match
them (a test compares the two).
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import declarative_base, relationship

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Named constraints keep migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class Citizen(Base):
    """A person the platform knows, keyed by 身份证号 (fictional in the seed)."""

    __tablename__ = "citizens"

    id_number = Column(String(18), primary_key=True)
    name = Column(String(64), nullable=False)
    phone = Column(String(32), nullable=False)
    address = Column(String(256), nullable=False)
    licences = relationship("Licence", order_by="Licence.id")


class Licence(Base):
    """A licence a citizen holds: 营业执照, 食品经营许可证, ..."""

    __tablename__ = "licences"
    __table_args__ = (UniqueConstraint("kind", "number"),)

    id = Column(Integer, primary_key=True)
    citizen_id_number = Column(
        String(18), ForeignKey("citizens.id_number"), nullable=False, index=True
    )
    kind = Column(String(64), nullable=False)
    number = Column(String(64), nullable=False)
    holder = Column(String(128), nullable=False)


class Application(Base):
    """One integrated application (一表申请) covering several service items."""

    __tablename__ = "applications"

    id = Column(Integer, primary_key=True)
    application_no = Column(String(16), nullable=False, unique=True)
    # One row per key, enforced by the database: concurrent duplicates lose
    # the race on this constraint and read the winner's row. Keys are global:
    # the action server is the only caller that submits (the operator moves
    # item statuses); scope keys per caller when a second submitter exists.
    idempotency_key = Column(String(128), nullable=False, unique=True)
    request_hash = Column(String(64), nullable=False)
    scenario_id = Column(String(64), nullable=False)
    # No foreign key: a citizen the platform has no profile for may apply.
    applicant_id_number = Column(String(18), nullable=False, index=True)
    answers = Column(JSON, nullable=False)
    form = Column(JSON, nullable=False)
    # received | accepted | returned | done | cancelled, derived from the items
    # (backend.lifecycle) except cancelled, which the citizen sets.
    status = Column(String(32), nullable=False)
    created_at = Column(DateTime, nullable=False)  # UTC, stored naive
    updated_at = Column(DateTime, nullable=False)  # UTC, stored naive
    items = relationship(
        "ApplicationItem", order_by="ApplicationItem.position", cascade="all"
    )


class ApplicationItem(Base):
    """One service item inside an application, with its own status."""

    __tablename__ = "application_items"
    __table_args__ = (UniqueConstraint("application_id", "item_id"),)

    id = Column(Integer, primary_key=True)
    application_id = Column(
        Integer, ForeignKey("applications.id"), nullable=False, index=True
    )
    position = Column(Integer, nullable=False)
    item_id = Column(String(64), nullable=False)
    name = Column(String(128), nullable=False)
    department = Column(String(128), nullable=False)
    route = Column(String(32), nullable=False)
    # received -> accepted | returned -> done (backend.lifecycle.TRANSITIONS)
    status = Column(String(32), nullable=False)
    # What the citizen must fix; set only while the item is returned.
    reason = Column(String(256), nullable=True)
    # NULL until the item's status first changes after submission.
    updated_at = Column(DateTime, nullable=True)  # UTC, stored naive


class Consent(Base):
    """A citizen's consent (授权同意) to release profile fields for one form.

    Who (``citizen_id_number``), which fields, when (``granted_at``), for which
    scenario and form instance, and which caller recorded it.
    """

    __tablename__ = "consents"

    id = Column(Integer, primary_key=True)
    consent_id = Column(String(32), nullable=False, unique=True)
    # One consent per key, as for applications: a retried call replays it.
    idempotency_key = Column(String(128), nullable=False, unique=True)
    request_hash = Column(String(64), nullable=False)
    citizen_id_number = Column(String(18), nullable=False, index=True)
    fields = Column(JSON, nullable=False)  # sorted names from PROFILE_FIELDS
    scenario_id = Column(String(64), nullable=False)
    form_instance = Column(String(128), nullable=False)
    recorded_by = Column(String(64), nullable=False)
    granted_at = Column(DateTime, nullable=False)  # UTC, stored naive


class Ticket(Base):
    """A 12345 ticket (工单): a complaint, request for help or suggestion.

    The description, place and time are the citizen's own words, kept for
    the department that handles it; the phone only with the citizen's
    consent to be contacted.
    """

    __tablename__ = "tickets"

    id = Column(Integer, primary_key=True)
    ticket_no = Column(String(16), nullable=False, unique=True)
    idempotency_key = Column(String(128), nullable=False, unique=True)
    request_hash = Column(String(64), nullable=False)
    kind = Column(String(16), nullable=False)  # complaint | suggestion
    topic = Column(String(16), nullable=False)
    description = Column(String(1000), nullable=False)
    location = Column(String(256), nullable=True)
    occurred = Column(String(128), nullable=True)
    contact_consent = Column(Boolean, nullable=False)
    contact_phone = Column(String(32), nullable=True)
    channel = Column(String(16), nullable=False)
    # received -> assigned -> replied; an operator moves it (TODO(#9)).
    status = Column(String(16), nullable=False)
    created_at = Column(DateTime, nullable=False)  # UTC, stored naive
    updated_at = Column(DateTime, nullable=False)  # UTC, stored naive


class AuditEntry(Base):
    """Who did what to which record, when and why; append-only.

    The target is an id, never other data. Migration 0003 adds triggers that
    refuse UPDATE and DELETE on this table, so rows are only ever added.
    """

    __tablename__ = "audit_log"

    id = Column(Integer, primary_key=True)
    who = Column(String(64), nullable=False)
    action = Column(String(64), nullable=False)
    target = Column(String(64), nullable=False)
    request_id = Column(String(64), nullable=False)
    at = Column(DateTime, nullable=False, index=True)  # UTC, stored naive
    # The consent a profile read relied on; NULL for every other action.
    consent_id = Column(String(32), nullable=True)
    # Why: a stable word (backend.repository.REASONS) or, for a returned
    # item, the operator's note to the citizen. Rows from before 0003 read
    # ``not_recorded``.
    reason = Column(String(256), nullable=False, server_default="not_recorded")


class ReviewRecord(Base):
    """A question the assistant answered badly or not at all (the review loop).

    ``question`` is masked (``bot.privacy.redact``) before it is stored;
    ``user_hash`` is the keyed hash of the user, never the raw id. Kinds:
    ``backend.review.KINDS``.
    """

    __tablename__ = "review_records"

    id = Column(Integer, primary_key=True)
    record_id = Column(String(32), nullable=False, unique=True)
    kind = Column(String(32), nullable=False)
    question = Column(Text, nullable=False)
    # [{"doc_id": str, "score": float | None}], best first; [] for none.
    matches = Column(JSON, nullable=False)
    channel = Column(String(32), nullable=False)
    user_hash = Column(String(64), nullable=False)
    recorded_by = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False, index=True)  # UTC, stored naive


# At most one open handoff per conversation, kept by the database so two
# concurrent requests cannot both open one: a unique index over the open rows
# only (SQLite and PostgreSQL both have partial indexes).
OPEN_HANDOFF = text("status IN ('waiting', 'active')")


class Handoff(Base):
    """A conversation handed to a person (人工坐席), with what led to it.

    ``conversation`` is the channel's keyed hash of the sender, never a raw
    id; the transcript arrives masked by the assistant.
    """

    __tablename__ = "handoffs"
    __table_args__ = (
        Index(
            "uq_handoffs_open_conversation",
            "conversation",
            unique=True,
            sqlite_where=OPEN_HANDOFF,
            postgresql_where=OPEN_HANDOFF,
        ),
    )

    id = Column(Integer, primary_key=True)
    handoff_no = Column(String(16), nullable=False, unique=True)
    idempotency_key = Column(String(128), nullable=False, unique=True)
    request_hash = Column(String(64), nullable=False)
    conversation = Column(String(128), nullable=False, index=True)
    channel = Column(String(16), nullable=False)  # web | wechat | other
    # requested | repeated_failures | low_confidence_complaint
    reason = Column(String(32), nullable=False)
    topic = Column(String(16), nullable=True)  # backend.tickets.TOPICS
    transcript = Column(JSON, nullable=False)  # [{"role", "text"}], oldest first
    collected = Column(JSON, nullable=False)  # {name: value}
    # waiting -> active (an agent claimed it) -> closed
    status = Column(String(16), nullable=False)
    agent = Column(String(32), nullable=True)  # NULL until claimed
    closed_by = Column(String(16), nullable=True)  # agent | citizen
    # The last message seq the citizen has been shown (the action server says).
    delivered_seq = Column(Integer, nullable=False, server_default="0")
    created_at = Column(DateTime, nullable=False)  # UTC, stored naive
    claimed_at = Column(DateTime, nullable=True)
    closed_at = Column(DateTime, nullable=True)
    updated_at = Column(DateTime, nullable=False)


class HandoffMessage(Base):
    """One message of a handoff: the citizen's, the agent's, or a system event.

    ``seq`` counts 1, 2, 3 … per handoff; a system message has an ``event``
    (claimed | closed) and no text.
    """

    __tablename__ = "handoff_messages"
    __table_args__ = (
        UniqueConstraint("handoff_id", "seq", name="uq_handoff_messages_seq"),
        UniqueConstraint(
            "handoff_id", "idempotency_key", name="uq_handoff_messages_idempotency_key"
        ),
    )

    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id"), nullable=False)
    seq = Column(Integer, nullable=False)
    role = Column(String(16), nullable=False)  # citizen | agent | system
    text = Column(String(1000), nullable=True)
    event = Column(String(16), nullable=True)
    idempotency_key = Column(String(128), nullable=True)
    created_at = Column(DateTime, nullable=False)  # UTC, stored naive


def _tune_sqlite(dbapi_connection, _record) -> None:
    # WAL lets readers run beside the one writer; busy_timeout makes a second
    # writer wait for the lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_db_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite, creates the file's directory.

    Raises:
        sqlalchemy.exc.ArgumentError: ``url`` is not a database URL.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, future=True, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        future=True,
        # Handlers run in worker threads; each checkout is used by one thread.
        connect_args={"check_same_thread": False, "timeout": 10},
    )
    event.listen(engine, "connect", _tune_sqlite)
    return engine


def alembic_config() -> Config:
    """Alembic configuration pointing at ``backend/migrations``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade_schema(engine: Engine) -> None:
    """Bring the database schema to the newest migration (a no-op when current)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    logger.info("backend.schema.upgraded", extra={"dialect": engine.dialect.name})
