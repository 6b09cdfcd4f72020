from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import backend.__main__ as cli
from backend.db import Citizen, create_db_engine
from backend.seed import SAMPLE_CITIZENS


@pytest.fixture
def var_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ZW_VAR_DIR", str(tmp_path))
    for name in ("ZW_BACKEND_DB_URL", "ZW_BACKEND_PORT", "ZW_HOST"):
        monkeypatch.delenv(name, raising=False)
    # configure_logging replaces the root handlers, pytest's capture among them.
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)
    return tmp_path


@pytest.fixture
def served(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.web, "run_app", lambda app, **kwargs: calls.append(kwargs))
    return calls


def _citizens(var_dir) -> int:
    engine = create_db_engine(f"sqlite:///{var_dir / 'backend.db'}")
    try:
        with Session(engine, future=True) as session:
            return session.execute(
                select(func.count()).select_from(Citizen)
            ).scalar_one()
    finally:
        engine.dispose()


def test_migrate_creates_the_database_under_var(var_dir):
    assert cli.main(["migrate"]) == 0
    assert (var_dir / "backend.db").exists()
    assert _citizens(var_dir) == 0


def test_seed_twice_leaves_one_copy_of_each_citizen(var_dir):
    assert cli.main(["seed"]) == 0
    assert cli.main(["seed"]) == 0
    assert _citizens(var_dir) == len(SAMPLE_CITIZENS)


def test_serve_seeds_and_runs_without_aiohttp_access_log(var_dir, served):
    assert cli.main(["serve", "--host", "127.0.0.1", "--port", "18071"]) == 0

    assert served == [
        {"host": "127.0.0.1", "port": 18071, "access_log": None, "print": None}
    ]
    assert _citizens(var_dir) == len(SAMPLE_CITIZENS)


def test_serve_no_seed_leaves_the_database_empty(var_dir, served):
    assert cli.main(["serve", "--no-seed"]) == 0

    assert served[0]["port"] == 5070
    assert _citizens(var_dir) == 0


def test_unreachable_database_stops_start_up_with_a_message(
    var_dir, monkeypatch, capsys
):
    monkeypatch.setenv(
        "ZW_BACKEND_DB_URL", "postgresql+psycopg2://postgres@127.0.0.1:1/test"
    )

    assert cli.main(["migrate"]) == 2
    assert "cannot reach the backend database" in capsys.readouterr().err


def test_malformed_setting_stops_start_up(var_dir, monkeypatch, capsys):
    monkeypatch.setenv("ZW_BACKEND_PORT", "five")

    assert cli.main(["migrate"]) == 2
    assert "ZW_BACKEND_PORT" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "ZW_BACKEND_TOKEN is the development default"),
        ({"ZW_BACKEND_TOKEN": ""}, "ZW_BACKEND_TOKEN is empty"),
        ({"ZW_BACKEND_TOKEN": "a-real-backend-token-0"}, "ZW_OPERATOR_TOKEN is the"),
        (
            {
                "ZW_BACKEND_TOKEN": "a-real-backend-token-0",
                "ZW_OPERATOR_TOKEN": "short",
            },
            "ZW_OPERATOR_TOKEN is shorter than 16",
        ),
        (
            {
                "ZW_BACKEND_TOKEN": "a-real-backend-token-0",
                "ZW_OPERATOR_TOKEN": "a-real-operator-token-0",
            },
            "ZW_AGENT_TOKENS is the development default (agent demo)",
        ),
    ],
)
def test_serve_in_production_mode_refuses_dev_or_empty_tokens(
    var_dir, served, monkeypatch, capsys, env, named
):
    monkeypatch.setenv("ZW_MODE", "production")
    for name in ("ZW_BACKEND_TOKEN", "ZW_OPERATOR_TOKEN", "ZW_AGENT_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert cli.main(["serve"]) == 2
    assert named in capsys.readouterr().err
    assert served == []


def test_serve_in_production_mode_starts_with_real_tokens(var_dir, served, monkeypatch):
    monkeypatch.setenv("ZW_MODE", "production")
    monkeypatch.setenv("ZW_BACKEND_TOKEN", "a-real-backend-token-0")
    monkeypatch.setenv("ZW_OPERATOR_TOKEN", "a-real-operator-token-0")
    monkeypatch.setenv("ZW_METRICS_TOKEN", "a-real-metrics-token-0")
    monkeypatch.setenv("ZW_AGENT_TOKENS", "li:a-real-agent-token-00")

    assert cli.main(["serve", "--no-seed"]) == 0
    assert len(served) == 1


def test_serve_refuses_malformed_service_hours(var_dir, served, monkeypatch, capsys):
    monkeypatch.setenv("ZW_SERVICE_HOURS", "weekdays 9-6")

    assert cli.main(["serve"]) == 2
    assert "ZW_SERVICE_HOURS" in capsys.readouterr().err
    assert served == []
