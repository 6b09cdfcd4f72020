"""action_check_application_status: number from entity, text or slot."""

from __future__ import annotations

import pytest

from actions.backend_client import ApplicationReceipt, BackendUnavailable
from actions.status import ActionCheckApplicationStatus
from tests.actions.conftest import make_tracker, responses, slot_events

NUMBER = "ZW20261203000001"
DOMAIN = {"responses": {"utter_application_status_received": [{"text": "…"}]}}


@pytest.fixture(autouse=True)
def one_application(backend):
    backend.applications["key"] = ApplicationReceipt(
        NUMBER, "restaurant", "received", (), "2026-12-03T10:00:00Z"
    )


async def check(dispatcher, text="", entities=None, slots=None, domain=DOMAIN):
    tracker = make_tracker(text, intent="check_status", entities=entities, slots=slots)
    return await ActionCheckApplicationStatus().run(dispatcher, tracker, domain)


@pytest.mark.parametrize(
    ("text", "entities", "slots"),
    [
        ("查进度", [{"entity": "application_no", "value": NUMBER}], None),
        (f"{NUMBER.lower()}办好了吗", None, None),
        ("我的申请进度", None, {"application_no": NUMBER}),
    ],
)
async def test_status_is_found_from_entity_text_or_slot(
    dispatcher, text, entities, slots
):
    events = await check(dispatcher, text, entities, slots)
    assert responses(dispatcher) == ["utter_application_status_received"]
    assert dispatcher.messages[0]["created_at"] == "2026-12-03"
    assert slot_events(events) == {
        "application_no": NUMBER,
        "application_status": "received",
    }


async def test_a_status_without_its_own_wording_uses_the_generic_reply(dispatcher):
    await check(dispatcher, NUMBER, domain={"responses": {}})
    assert responses(dispatcher) == ["utter_application_status"]


async def test_no_number_asks_for_it(dispatcher, backend):
    await check(dispatcher, "我的申请进度")
    assert responses(dispatcher) == ["utter_ask_application_no"]


async def test_unknown_number_says_not_found(dispatcher):
    events = await check(dispatcher, "ZW20990101000009")
    assert responses(dispatcher) == ["utter_application_not_found"]
    assert slot_events(events) == {"application_no": None}


async def test_backend_down_says_service_unavailable(dispatcher, backend):
    backend.error = BackendUnavailable("backend_unreachable")
    await check(dispatcher, NUMBER)
    assert responses(dispatcher) == ["utter_service_unavailable"]


async def test_a_malformed_number_is_named_not_replaced_by_the_last_one(dispatcher):
    events = await check(
        dispatcher, "查询申请进度ZW123", slots={"application_no": NUMBER}
    )

    assert responses(dispatcher) == ["utter_invalid_application_no"]
    assert events == []


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2026-12-03T10:00:00Z", "2026-12-03"),
        ("2026-12-03T16:30:00Z", "2026-12-04"),
        ("2026-12-03T16:30:00+00:00", "2026-12-04"),
        ("2026-12-03T16:30:00", "2026-12-04"),
        ("not a time", "not a time"),
    ],
)
def test_dates_are_shown_in_china_time_like_the_application_number(timestamp, expected):
    from actions.status import china_date

    assert china_date(timestamp) == expected
