from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from backend.db import (
    Application,
    ApplicationItem,
    Base,
    alembic_config,
    create_db_engine,
    upgrade_schema,
)
from backend.repository import Caller, submit_application
from backend.validation import parse_submission
from tests.backend.samples import application_body


def test_migrations_create_exactly_the_models_schema(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_upgrading_a_current_schema_changes_nothing(engine):
    upgrade_schema(engine)

    with engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version"))
        assert version.scalars().all() == ["0006"]


def test_sqlite_engine_creates_the_var_directory_and_uses_wal(tmp_path):
    path = tmp_path / "deep" / "var" / "backend.db"
    engine = create_db_engine(f"sqlite:///{path}")
    try:
        upgrade_schema(engine)
        with engine.connect() as connection:
            mode = connection.execute(text("PRAGMA journal_mode")).scalar_one()
            foreign_keys = connection.execute(text("PRAGMA foreign_keys")).scalar_one()
        tables = inspect(engine).get_table_names()
    finally:
        engine.dispose()

    assert path.exists()
    assert (mode, foreign_keys) == ("wal", 1)
    assert "applications" in tables


def _migrate(engine, revision: str, direction=command.upgrade) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        direction(config, revision)


def test_0002_keeps_applications_made_before_it(engine):
    with Session(engine, future=True) as session:
        submit_application(
            session,
            parse_submission(application_body()),
            "conversation-0001",
            Caller("action_server", "request-0001"),
        )

    _migrate(engine, "0001", command.downgrade)
    assert "consents" not in inspect(engine).get_table_names()
    _migrate(engine, "head")

    with Session(engine, future=True) as session:
        items = session.query(ApplicationItem).all()
        assert session.query(Application).count() == 1
    assert [(item.status, item.reason, item.updated_at) for item in items] == [
        ("received", None, None),
        ("received", None, None),
    ]
    assert "consents" in inspect(engine).get_table_names()
