from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import repository
from backend.db import Application
from backend.errors import BackendError, IdempotencyConflictError
from backend.repository import Caller, new_application_no, submit_application
from backend.validation import parse_submission
from tests.backend.samples import application_body

CALLER = Caller(name="action_server", request_id="test-request-0001")
TAKEN = "ZW20261203000001"


def _submit(engine, key: str, body: dict | None = None):
    with Session(engine, future=True) as session:
        return submit_application(
            session, parse_submission(body or application_body()), key, CALLER
        )


def _numbers(*numbers: str):
    queue = list(numbers)
    return lambda now: queue.pop(0)


@pytest.mark.parametrize(
    ("now_utc", "day"),
    [
        (datetime(2026, 12, 3, 15, 59, 59), "20261203"),
        # 16:00 UTC is midnight in China: the number carries the new day.
        (datetime(2026, 12, 3, 16, 0, 0), "20261204"),
    ],
)
def test_application_no_carries_the_date_in_china(now_utc, day):
    number = new_application_no(now_utc)

    assert number.startswith(f"ZW{day}")
    assert len(number) == 16 and number[2:].isdigit()


def test_a_colliding_number_is_drawn_again(engine, monkeypatch):
    monkeypatch.setattr(repository, "new_application_no", _numbers(TAKEN, TAKEN))
    first = _submit(engine, "key-first-0001")
    monkeypatch.setattr(
        repository, "new_application_no", _numbers(TAKEN, "ZW20261203000002")
    )

    second = _submit(engine, "key-second-0002")

    assert first.application.application_no == TAKEN
    assert second.created
    assert second.application.application_no == "ZW20261203000002"


def test_no_free_number_after_several_draws_is_an_internal_error(engine, monkeypatch):
    monkeypatch.setattr(repository, "new_application_no", lambda now: TAKEN)
    _submit(engine, "key-first-0001")

    with pytest.raises(BackendError) as raised:
        _submit(engine, "key-second-0002")

    assert raised.value.code == "internal_error"
    with Session(engine, future=True) as session:
        count = session.execute(select(func.count()).select_from(Application))
        assert count.scalar_one() == 1


def test_replay_reports_not_created_and_conflict_raises(engine):
    created = _submit(engine, "key-first-0001")
    replayed = _submit(engine, "key-first-0001")

    assert (created.created, replayed.created) == (True, False)
    assert replayed.application == created.application
    with pytest.raises(IdempotencyConflictError):
        _submit(engine, "key-first-0001", application_body(scenario_id="other"))


def test_created_at_comes_from_the_clock(engine):
    moment = datetime(2026, 12, 3, 6, 30, 15, 123456)
    with Session(engine, future=True) as session:
        result = submit_application(
            session,
            parse_submission(application_body()),
            "key-clock-0001",
            CALLER,
            clock=lambda: moment,
        )

    assert result.application.to_json()["created_at"] == "2026-12-03T06:30:15Z"
    assert result.application.application_no.startswith("ZW20261203")
