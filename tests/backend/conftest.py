"""Fixtures for the backend tests: a migrated database, the app, a client.

The ``engine`` fixture runs every test that uses it twice: on a fresh SQLite
file and, when PostgreSQL answers on 127.0.0.1:5432 (database ``test``), in a
fresh schema there; otherwise the PostgreSQL run skips, saying why.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import replace

import psycopg2
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from backend.app import create_app
from backend.db import create_db_engine, upgrade_schema
from backend.seed import seed
from bot.settings import load_settings
from tests.backend.samples import consent_body

TOKEN = "test-backend-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OPERATOR_TOKEN = "test-operator-token"
OPERATOR_AUTH = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
AGENT_TOKENS = (("li", "test-agent-li-token"), ("wang", "test-agent-wang-token"))
AGENT_AUTH = {"Authorization": "Bearer test-agent-li-token"}
OTHER_AGENT_AUTH = {"Authorization": "Bearer test-agent-wang-token"}
POSTGRES_USERS = ("postgres", "root")


def postgres_url() -> str | None:
    """A URL for the local test database, or None when none answers."""
    for user in POSTGRES_USERS:
        try:
            psycopg2.connect(
                host="127.0.0.1", dbname="test", user=user, connect_timeout=2
            ).close()
        except psycopg2.OperationalError:
            continue
        return f"postgresql+psycopg2://{user}@127.0.0.1:5432/test"
    return None


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    url = postgres_url()
    if url is None:
        pytest.skip(
            "PostgreSQL is not reachable on 127.0.0.1:5432 (database test,"
            f" users {', '.join(POSTGRES_USERS)}, trust auth)"
        )
    return url


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory):
    """One migrated SQLite file per session; tests get copies (faster)."""
    path = tmp_path_factory.mktemp("template") / "backend.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_engine(tmp_path, migrated_sqlite_file):
    path = tmp_path / "var" / "backend.db"
    path.parent.mkdir()
    shutil.copyfile(migrated_sqlite_file, path)
    engine = create_db_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def postgresql_engine(postgres_base_url):
    schema = f"backend_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_base_url, future=True)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_db_engine(f"{postgres_base_url}?options=-csearch_path%3D{schema}")
    try:
        upgrade_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def engine(request):
    """A migrated, empty database: SQLite, then PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def settings():
    return replace(
        load_settings({}),
        backend_token=TOKEN,
        operator_token=OPERATOR_TOKEN,
        agent_tokens=AGENT_TOKENS,
    )


@pytest.fixture
def app(settings, engine):
    """The backend over ``engine``, seeded with the fictional citizens."""
    with Session(engine, future=True) as session:
        seed(session)
    return create_app(settings, engine)


async def start_server(app) -> TestServer:
    """Serve ``app`` on a free port as `python -m backend serve` does.

    No aiohttp access log: its lines would carry the 身份证号 in the path.
    """
    server = TestServer(app)
    await server.start_server(access_log=None)
    return server


@pytest.fixture
async def client(aiohttp_client, app):
    return await aiohttp_client(await start_server(app))


async def record_consent(client, id_number: str, key: str = "consent-0001", **body):
    """Record a consent through the API; returns its ``consent_id``."""
    response = await client.post(
        "/v1/consents",
        json=consent_body(id_number, **body),
        headers={**AUTH, "Idempotency-Key": key},
    )
    assert response.status in (200, 201), await response.text()
    return (await response.json())["consent_id"]
