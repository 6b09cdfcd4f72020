"""Fixtures for the privacy tests: the project's domain and tracker databases.

``tracker_db`` runs each test that uses it on a fresh SQLite file and, when
PostgreSQL answers on 127.0.0.1:5432 (database ``test``), in a fresh schema
there; otherwise the PostgreSQL run skips, saying why.
"""

from __future__ import annotations

import uuid

import psycopg2
import pytest
from sqlalchemy import create_engine, text

from bot.settings import PROJECT_ROOT

POSTGRES_USERS = ("postgres", "root")


@pytest.fixture(scope="session")
def domain():
    """The project's domain.yml, as Rasa loads it."""
    from rasa.shared.core.domain import Domain

    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


def _postgres_user() -> str | None:
    for user in POSTGRES_USERS:
        try:
            psycopg2.connect(
                host="127.0.0.1", dbname="test", user=user, connect_timeout=2
            ).close()
        except psycopg2.OperationalError:
            continue
        return user
    return None


@pytest.fixture
def sqlite_tracker_db(tmp_path) -> dict:
    return {"dialect": "sqlite", "db": str(tmp_path / "tracker.db")}


@pytest.fixture
def postgresql_tracker_db() -> dict:
    user = _postgres_user()
    if user is None:
        pytest.skip(
            "PostgreSQL is not reachable on 127.0.0.1:5432 (database test,"
            f" users {', '.join(POSTGRES_USERS)}, trust auth)"
        )
    schema = f"tracker_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"postgresql+psycopg2://{user}@127.0.0.1:5432/test")
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield {
            "dialect": "postgresql",
            "host": "127.0.0.1",
            "port": 5432,
            "db": "test",
            "username": user,
            "query": {"options": f"-csearch_path={schema}"},
        }
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def tracker_db(request) -> dict:
    """SQLTrackerStore keyword arguments: SQLite, then PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_tracker_db")
