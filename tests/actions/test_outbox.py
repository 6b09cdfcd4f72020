"""The durable outbox and its delivery: on disk first, sent once, retried later."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta

import pytest

from actions import services as services_module
from actions.backend_client import (
    ApplicationRequest,
    BackendRejected,
    BackendUnavailable,
    RequestedItem,
)
from actions.delivery import DeliveryLoop, deliver, deliver_due
from actions.outbox import (
    DELIVERED,
    PENDING,
    REJECTED,
    Outbox,
    OutboxConflict,
    utc_now,
)
from actions.services import get_services, use_services

REQUEST = ApplicationRequest(
    "restaurant",
    "990101198503120117",
    {"venue_area": 80.0, "has_entertainment": False},
    (
        RequestedItem(
            "food_business_licence", "食品经营许可", "县级市场监督管理局", "normal"
        ),
    ),
    {"answers_display": {"经营场所面积": "80平方米"}},
)


def test_a_confirmed_application_survives_reopening_the_file(tmp_path):
    path = tmp_path / "outbox.db"
    first = Outbox(path)
    first.put("key-0001", "sender-a", REQUEST)
    first.close()

    reopened = Outbox(path)
    entry = reopened.get("key-0001")
    reopened.close()

    assert (entry.status, entry.request, entry.told) == (PENDING, REQUEST, False)


def test_the_same_request_twice_is_one_row(outbox):
    outbox.put("key-0001", "sender-a", REQUEST)
    outbox.put("key-0001", "sender-a", REQUEST)

    assert len(outbox.for_sender("sender-a")) == 1


def test_another_request_under_a_used_key_is_a_conflict(outbox):
    outbox.put("key-0001", "sender-a", REQUEST)

    with pytest.raises(OutboxConflict) as raised:
        outbox.put("key-0001", "sender-a", replace(REQUEST, answers={"venue_area": 1}))

    assert raised.value.entry.request == REQUEST


def test_an_unknown_key_is_a_key_error(outbox):
    with pytest.raises(KeyError):
        outbox.get("key-none")


def test_a_failed_try_waits_longer_each_time(outbox):
    outbox.put("key-0001", "sender-a", REQUEST)
    assert [e.idempotency_key for e in outbox.due()] == ["key-0001"]

    outbox.mark_failed("key-0001", "backend_unreachable")

    assert outbox.due() == []
    later = utc_now() + timedelta(seconds=6)
    assert [e.attempts for e in outbox.due(later)] == [1]
    outbox.mark_failed("key-0001", "backend_unreachable")
    assert outbox.due(later) == []


def test_rows_are_found_by_sender_only(outbox):
    outbox.put("key-0001", "sender-a", REQUEST)
    outbox.put("key-0002", "sender-b", REQUEST)

    assert [e.idempotency_key for e in outbox.for_sender("sender-b")] == ["key-0002"]


async def test_delivery_records_the_number_and_a_second_one_sends_nothing(
    outbox, backend
):
    outbox.put("key-0001", "sender-a", REQUEST)

    first = await deliver(outbox, backend, outbox.get("key-0001"))
    second = await deliver(outbox, backend, outbox.get("key-0001"))

    assert first == second
    assert first.status == DELIVERED
    assert outbox.get("key-0001").application_no == first.application_no
    assert len(backend.submissions) == 1


async def test_a_refused_row_is_not_sent_again(outbox, backend):
    outbox.put("key-0001", "sender-a", REQUEST)
    backend.error = BackendRejected("invalid_request", status=400)

    first = await deliver(outbox, backend, outbox.get("key-0001"))
    backend.error = None
    second = await deliver(outbox, backend, outbox.get("key-0001"))

    assert (first.status, second.status) == (REJECTED, REJECTED)
    assert second.code == "invalid_request"
    assert len(backend.submissions) == 1
    assert outbox.due() == []


async def test_deliver_due_sends_what_is_pending(outbox, backend):
    outbox.put("key-0001", "sender-a", REQUEST)
    outbox.put("key-0002", "sender-b", REQUEST)
    backend.error = BackendUnavailable("backend_unreachable")
    assert await deliver_due(outbox, backend) == 0

    backend.error = None
    outbox._update("key-0001", next_attempt_at=utc_now())
    outbox._update("key-0002", next_attempt_at=utc_now())

    assert await deliver_due(outbox, backend) == 2
    assert await deliver_due(outbox, backend) == 0


async def test_the_loop_keeps_running_after_a_broken_round(outbox, backend, caplog):
    outbox.put("key-0001", "sender-a", REQUEST)
    real_due = outbox.due
    calls = []

    def flaky_due(*args):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk busy")
        return real_due(*args)

    outbox.due = flaky_due
    loop = DeliveryLoop(outbox, backend, interval_s=0.01)
    caplog.set_level(logging.ERROR)

    loop.start()
    loop.start()  # a second start is a no-op
    for _ in range(200):
        if outbox.get("key-0001").status == DELIVERED:
            break
        await asyncio.sleep(0.01)
    await loop.stop()

    assert outbox.get("key-0001").status == DELIVERED
    assert "actions.delivery.round_failed" in caplog.text
    assert not loop.running


async def test_the_action_server_starts_the_delivery_loop_with_its_services(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("ZW_VAR_DIR", str(tmp_path))
    use_services(None)

    services = get_services()

    try:
        assert services.outbox.path == tmp_path / "outbox.db"
        assert services_module._delivery.running
    finally:
        await services_module._delivery.stop()
        services.outbox.close()
        use_services(None)


def test_services_built_outside_an_event_loop_start_no_loop(tmp_path, monkeypatch):
    monkeypatch.setenv("ZW_VAR_DIR", str(tmp_path))
    monkeypatch.setattr(services_module, "_delivery", None)
    use_services(None)

    services = get_services()

    assert services_module._delivery is None
    services.outbox.close()
    use_services(None)
