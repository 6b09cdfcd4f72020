"""The audit log: append-only in the database, a reason on every row, the export."""

from __future__ import annotations

import csv
import json
import random
import stat
from datetime import datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

import backend.__main__ as cli
from backend import audit as audit_export
from backend.db import AuditEntry, alembic_config
from backend.lifecycle import cancel_application, set_item_status
from backend.repository import (
    WHY_CANCEL,
    WHY_PROGRESS,
    WHY_SUBMISSION,
    Caller,
    audit,
    submit_application,
)
from backend.validation import StatusChange, parse_submission
from tests.backend.samples import application_body

START = datetime(2026, 12, 1, 0, 0, 0)
ACTION_SERVER = Caller("action_server", "request-0001")
OPERATOR = Caller("operator_cli", "request-0002")
FOOD = "food_business_licence"
FIRE = "fire_safety_check"


def _add_entries(engine, moments: list[datetime]) -> None:
    with Session(engine, future=True) as session:
        for number, moment in enumerate(moments):
            audit(
                session,
                ACTION_SERVER,
                "application.read",
                f"ZW2026120100{number:04d}",
                moment,
                reason="status_query",
            )
        session.commit()


def _refusal(engine, statement: str) -> str:
    with pytest.raises(DBAPIError) as caught, engine.begin() as connection:
        connection.execute(text(statement))
    return str(caught.value)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET who = 'someone_else'",
        "UPDATE audit_log SET reason = 'rewritten' WHERE id = 1",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE id = 1",
    ],
)
def test_audit_log_refuses_update_and_delete(engine, statement):
    _add_entries(engine, [START])

    message = _refusal(engine, statement)

    assert "append-only" in message
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT who, reason FROM audit_log")).all()
    assert rows == [("action_server", "status_query")]


def test_audit_log_refuses_an_orm_update(engine):
    _add_entries(engine, [START])

    with Session(engine, future=True) as session:
        entry = session.execute(select(AuditEntry)).scalar_one()
        entry.target = "ZW20261201999999"
        with pytest.raises(DBAPIError, match="append-only"):
            session.commit()


def test_postgresql_refuses_truncate(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's; SQLite has only DELETE")
    _add_entries(engine, [START])

    assert "append-only" in _refusal(engine, "TRUNCATE audit_log")


def test_rows_from_before_0003_say_their_reason_was_not_recorded(engine):
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_log (who, action, target, request_id, at)"
                " VALUES ('action_server', 'application.read', 'ZW20261201000001',"
                " 'request-0001', :at)"
            ),
            {"at": START},
        )
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    with engine.connect() as connection:
        reason = connection.execute(text("SELECT reason FROM audit_log")).scalar_one()
    assert reason == "not_recorded"
    assert "append-only" in _refusal(engine, "DELETE FROM audit_log")


def _submitted(engine) -> str:
    with Session(engine, future=True) as session:
        result = submit_application(
            session,
            parse_submission(application_body()),
            "conversation-0001",
            ACTION_SERVER,
        )
    return result.application.application_no


def _reasons(engine) -> list[tuple[str, str, str]]:
    with Session(engine, future=True) as session:
        query = select(AuditEntry.action, AuditEntry.who, AuditEntry.reason)
        return [tuple(row) for row in session.execute(query.order_by(AuditEntry.id))]


def test_cancellation_is_audited_with_who_and_why(engine):
    number = _submitted(engine)

    with Session(engine, future=True) as session:
        cancel_application(session, number, ACTION_SERVER)

    assert _reasons(engine) == [
        ("application.create", "action_server", WHY_SUBMISSION),
        ("application.cancel", "action_server", WHY_CANCEL),
    ]


def test_operator_item_changes_are_audited_with_the_note_or_progress(engine):
    number = _submitted(engine)
    note = "请补充经营场所平面布局图"

    with Session(engine, future=True) as session:
        set_item_status(session, number, FIRE, StatusChange("returned", note), OPERATOR)
    with Session(engine, future=True) as session:
        set_item_status(session, number, FOOD, StatusChange("accepted", None), OPERATOR)

    assert _reasons(engine)[1:] == [
        ("item.returned", "operator_cli", note),
        ("item.accepted", "operator_cli", WHY_PROGRESS),
    ]


def test_audit_needs_a_reason():
    with pytest.raises(TypeError, match="reason"):
        audit(None, ACTION_SERVER, "application.read", "ZW20261201000001")


@pytest.fixture
def export_cli(engine, monkeypatch):
    """``python -m backend audit export`` against ``engine``."""
    monkeypatch.setenv("ZW_BACKEND_DB_URL", engine.url.render_as_string(False))
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)

    def run(*arguments: str) -> int:
        return cli.main(["audit", "export", *arguments])

    return run


def _shuffled_moments(count: int) -> list[datetime]:
    # Inserted out of time order, with ties, so order by id alone would fail.
    moments = [START + timedelta(minutes=7 * (i // 2)) for i in range(count)]
    random.Random(8).shuffle(moments)
    return moments


def _expected(engine, since: datetime, until: datetime) -> list[tuple]:
    with Session(engine, future=True) as session:
        rows = session.execute(select(AuditEntry.id, AuditEntry.at)).all()
    window = [(row.at, row.id) for row in rows if since <= row.at < until]
    return [entry_id for _, entry_id in sorted(window)]


def test_jsonl_export_is_complete_and_ordered_within_the_window(
    engine, export_cli, tmp_path
):
    _add_entries(engine, _shuffled_moments(60))
    since, until = START + timedelta(minutes=30), START + timedelta(hours=2)
    out = tmp_path / "audit.jsonl"

    status = export_cli(
        "--since", "2026-12-01T00:30:00Z", "--until", "2026-12-01T10:00+08:00",
        "--format", "jsonl", "--out", str(out),
    )  # fmt: skip

    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert status == 0
    assert [row["id"] for row in rows] == _expected(engine, since, until)
    assert 0 < len(rows) < 60
    assert set(rows[0]) == set(audit_export.FIELDS)
    assert rows[0]["at"].endswith("Z") and rows[0]["reason"] == "status_query"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_csv_export_matches_jsonl_and_neutralises_formulas(
    engine, export_cli, tmp_path
):
    _add_entries(engine, _shuffled_moments(10))
    with Session(engine, future=True) as session:
        audit(
            session, OPERATOR, "item.returned", "ZW20261201000099", START,
            reason="=HYPERLINK(\"http://example.invalid\")",
        )  # fmt: skip
        session.commit()
    window = ("--since", "2026-12-01", "--until", "2026-12-02")

    assert export_cli(*window, "--format", "csv", "--out", str(tmp_path / "a.csv")) == 0
    assert export_cli(*window, "--out", str(tmp_path / "a.jsonl")) == 0

    with (tmp_path / "a.csv").open(encoding="utf-8", newline="") as handle:
        table = list(csv.DictReader(handle))
    lines = (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()
    assert [int(row["id"]) for row in table] == [json.loads(x)["id"] for x in lines]
    assert len(table) == 11
    returned = next(row for row in table if row["action"] == "item.returned")
    assert returned["reason"] == '\'=HYPERLINK("http://example.invalid")'


def test_an_export_is_itself_audited(engine, export_cli, tmp_path):
    out = tmp_path / "audit.jsonl"

    assert (
        export_cli("--since", "2026-12-01", "--until", "2026-12-02", "--out", str(out))
        == 0
    )

    with Session(engine, future=True) as session:
        entry = session.execute(select(AuditEntry)).scalar_one()
    assert (entry.who, entry.action, entry.reason) == (
        "audit_cli",
        "audit.export",
        "auditor_export",
    )
    assert entry.target == "2026-12-01T00:00:00Z/2026-12-02T00:00:00Z"
    assert out.read_text(encoding="utf-8") == ""


def test_export_never_overwrites_a_file(engine, export_cli, tmp_path, capsys):
    out = tmp_path / "audit.jsonl"
    out.write_text("evidence\n", encoding="utf-8")

    status = export_cli(
        "--since", "2026-12-01", "--until", "2026-12-02", "--out", str(out)
    )

    assert status == 1
    assert out.read_text(encoding="utf-8") == "evidence\n"
    assert "cannot create" in capsys.readouterr().err


def test_export_refuses_an_empty_or_reversed_window(engine, export_cli, tmp_path):
    out = tmp_path / "audit.jsonl"

    status = export_cli(
        "--since", "2026-12-02", "--until", "2026-12-01", "--out", str(out)
    )

    assert status == 1
    assert not out.exists()


def test_export_refuses_a_date_that_is_not_iso(export_cli, tmp_path):
    with pytest.raises(SystemExit) as caught:
        export_cli(
            "--since", "昨天", "--until", "2026-12-01", "--out", str(tmp_path / "x")
        )
    assert caught.value.code == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-12-01", datetime(2026, 12, 1)),
        ("2026-12-01T08:00:00+08:00", datetime(2026, 12, 1)),
        ("2026-12-01T00:00:00Z", datetime(2026, 12, 1)),
        ("2026-12-01T09:30", datetime(2026, 12, 1, 9, 30)),
    ],
)
def test_parse_moment_reads_dates_and_offsets_as_utc(raw, expected):
    assert audit_export.parse_moment(raw) == expected


def test_write_export_refuses_an_unknown_format():
    with pytest.raises(ValueError, match="format"):
        audit_export.write_export(None, START, START, "xml", None)
