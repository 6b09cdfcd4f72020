"""action_check_application_status: one number, or the conversation's applications."""

from __future__ import annotations

import pytest

from actions.backend_client import (
    ApplicationReceipt,
    ApplicationRequest,
    BackendRejected,
    BackendUnavailable,
    ReceiptItem,
    RequestedItem,
)
from actions.delivery import deliver
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


FULL_DOMAIN = {
    "responses": {
        name: [{"text": "…"}]
        for name in (
            "utter_application_status_received",
            "utter_application_status_returned",
            "utter_application_item_received",
            "utter_application_item_returned",
        )
    }
}
RETURNED = ApplicationReceipt(
    "ZW20261203000002",
    "restaurant",
    "returned",
    (
        ReceiptItem(
            "food_business_licence",
            "食品经营许可",
            "县级市场监督管理局",
            "normal",
            "returned",
            "请补充平面图",
        ),
        ReceiptItem(
            "fire_safety_check",
            "消防安全检查",
            "县级消防救援机构",
            "commitment",
            "received",
        ),
    ),
    "2026-12-03T10:00:00Z",
)


def _request():
    return ApplicationRequest(
        "restaurant",
        "990101198503120117",
        {"venue_area": 80},
        (
            RequestedItem(
                "food_business_licence", "食品经营许可", "县级市场监督管理局", "normal"
            ),
        ),
        {},
    )


async def test_a_returned_item_says_what_to_fix(dispatcher, backend):
    backend.applications["returned"] = RETURNED

    await check(dispatcher, RETURNED.application_no, domain=FULL_DOMAIN)

    assert responses(dispatcher) == [
        "utter_application_status_returned",
        "utter_application_item_returned",
        "utter_application_item_received",
    ]
    assert dispatcher.messages[1]["reason"] == "请补充平面图"
    assert dispatcher.messages[1]["department"] == "县级市场监督管理局"


async def test_an_item_status_without_its_own_wording_uses_the_generic_line(
    dispatcher, backend
):
    backend.applications["returned"] = RETURNED

    await check(dispatcher, RETURNED.application_no, domain={"responses": {}})

    assert responses(dispatcher) == [
        "utter_application_status",
        "utter_application_item",
        "utter_application_item",
    ]


async def test_without_a_number_every_application_of_the_conversation_is_listed(
    dispatcher, backend, outbox, services
):
    backend.applications.clear()  # the fake numbers from ...0001, like NUMBER
    sender = services.sender_hash("citizen-1")
    for key in ("key-0001", "key-0002"):
        outbox.put(key, sender, _request())
        await deliver(outbox, backend, outbox.get(key))
        outbox.mark_told(key)
    outbox.put("key-other", services.sender_hash("someone-else"), _request())

    events = await check(dispatcher, "我的申请到哪一步了", domain=FULL_DOMAIN)

    assert responses(dispatcher) == [
        "utter_application_list_intro",
        "utter_application_status_received",
        "utter_application_item_received",
        "utter_application_status_received",
        "utter_application_item_received",
    ]
    assert dispatcher.messages[0]["count"] == 2
    numbers = [m.get("application_no") for m in dispatcher.messages[1::2]]
    assert len(set(numbers)) == 2
    assert slot_events(events)["application_no"] == numbers[-1]


async def test_a_queued_application_is_delivered_on_the_status_check_and_numbered(
    dispatcher, backend, outbox, services
):
    backend.applications.clear()  # the fake numbers from ...0001, like NUMBER
    key = "key-0001"
    backend.error = BackendUnavailable("backend_unreachable")
    outbox.put(key, services.sender_hash("citizen-1"), _request())
    await deliver(outbox, backend, outbox.get(key))
    backend.error = None

    await check(dispatcher, "我的申请进度", domain=FULL_DOMAIN)
    again = type(dispatcher)()
    await check(again, "我的申请进度", domain=FULL_DOMAIN)

    assert responses(dispatcher) == [
        "utter_queued_application_submitted",
        "utter_application_status_received",
        "utter_application_item_received",
    ]
    number = dispatcher.messages[0]["application_no"]
    assert dispatcher.messages[0]["scenario_name"] == "开餐馆"
    assert responses(again)[0] == "utter_application_status_received"
    assert [key for _, key in backend.submissions] == ["key-0001", "key-0001"]
    assert outbox.get(key).application_no == number


async def test_a_still_queued_application_is_reported_as_queued(
    dispatcher, backend, outbox, services
):
    backend.error = BackendUnavailable("backend_unreachable")
    outbox.put("key-0001", services.sender_hash("citizen-1"), _request())

    await check(dispatcher, "我的申请进度", domain=FULL_DOMAIN)

    assert responses(dispatcher) == ["utter_application_queued"]
    assert outbox.get("key-0001").attempts == 1


async def test_a_refused_queued_application_is_told_once(
    dispatcher, backend, outbox, services
):
    backend.error = BackendRejected("invalid_request", status=400)
    outbox.put("key-0001", services.sender_hash("citizen-1"), _request())

    await check(dispatcher, "我的申请进度", domain=FULL_DOMAIN)
    again = type(dispatcher)()
    await check(again, "我的申请进度", domain=FULL_DOMAIN)

    assert responses(dispatcher) == ["utter_queued_application_rejected"]
    assert responses(again) == ["utter_ask_application_no"]


async def test_the_platform_down_on_a_list_says_unavailable_once(
    dispatcher, backend, outbox, services
):
    sender = services.sender_hash("citizen-1")
    for key in ("key-0001", "key-0002"):
        outbox.put(key, sender, _request())
        await deliver(outbox, backend, outbox.get(key))
        outbox.mark_told(key)
    backend.error = BackendUnavailable("backend_unreachable")

    await check(dispatcher, "我的申请进度", domain=FULL_DOMAIN)

    assert responses(dispatcher) == [
        "utter_application_list_intro",
        "utter_service_unavailable",
    ]
