"""The audit log says why, is indexed by time and refuses UPDATE and DELETE.

Triggers refuse every UPDATE and DELETE (and TRUNCATE on PostgreSQL), whoever
runs it, so an auditor can trust that a row once written still reads as it
did. Only DDL gets round them (dropping the triggers or the table, as the
downgrade does); production should run the backend as a database role that
does not own the table (docs/backend-api.md).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Rows written before 0003 recorded no reason; they say so instead of NULL.
NOT_RECORDED = "not_recorded"
REFUSAL = "audit_log is append-only"

_SQLITE_TRIGGERS = {
    "audit_log_no_update": "UPDATE",
    "audit_log_no_delete": "DELETE",
}
_POSTGRES_FUNCTION = "audit_log_refuse_change"


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(
            sa.Column(
                "reason",
                sa.String(256),
                nullable=False,
                server_default=NOT_RECORDED,
            )
        )
        batch.create_index("ix_audit_log_at", ["at"])
    # After the column: SQLite's batch mode may copy the table, which would
    # drop triggers created before it.
    if op.get_bind().dialect.name == "postgresql":
        _create_postgres_triggers()
    else:
        _create_sqlite_triggers()


def _create_sqlite_triggers() -> None:
    for name, statement in _SQLITE_TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {statement} ON audit_log "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        )


def _create_postgres_triggers() -> None:
    # Unqualified names: the function lands in the first schema of the
    # search path, beside the table (the tests use one schema per test).
    op.execute(
        f"CREATE FUNCTION {_POSTGRES_FUNCTION}() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        f"RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = 'insufficient_privilege'; "
        "END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
        f"FOR EACH ROW EXECUTE FUNCTION {_POSTGRES_FUNCTION}()"
    )
    # TRUNCATE fires no row trigger; a statement trigger catches it.
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_POSTGRES_FUNCTION}()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER audit_log_no_change ON audit_log")
        op.execute(f"DROP FUNCTION {_POSTGRES_FUNCTION}()")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_log_at")
        batch.drop_column("reason")
