"""Alembic environment for the backend database.

``backend.db.upgrade_schema`` passes an open connection in
``config.attributes["connection"]``; the ``alembic`` command line (see
docs/backend-api.md) connects to ``load_settings().backend_database_url``.
"""

from __future__ import annotations

from alembic import context

from backend.db import Base, create_db_engine
from bot.settings import load_settings

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_db_engine(load_settings().backend_database_url)
    try:
        with engine.begin() as own_connection:
            _run(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them online")
run_migrations()
