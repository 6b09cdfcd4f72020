from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from backend.db import Base, create_db_engine, upgrade_schema


def test_migrations_create_exactly_the_models_schema(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_upgrading_a_current_schema_changes_nothing(engine):
    upgrade_schema(engine)

    with engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version"))
        assert version.scalars().all() == ["0001"]


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
