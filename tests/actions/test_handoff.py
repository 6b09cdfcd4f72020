"""action_request_agent and the hand-offs the answer action starts on its own."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rasa_sdk import Tracker

from actions import handoff, review
from actions.answer import ActionAnswerQuestion
from actions.backend_client import BackendUnavailable
from actions.handoff import (
    ActionRequestAgent,
    ActionRequestAgentInScenario,
    china_time_text,
)
from actions.kb_client import KbSearchResult
from tests.actions.conftest import make_tracker, responses, slot_events


def said(dispatcher) -> list[str]:
    """The responses sent, without the custom payload for the channel."""
    return [name for name in responses(dispatcher) if name]


def conversation_tracker(
    events, slots=None, message_id="m-3", channel="web", active_loop=None
):
    latest = {
        "text": events[-1]["text"],
        "intent": {"name": "request_agent", "confidence": 0.95},
        "entities": [],
        "message_id": message_id,
    }
    events = [{**event, "input_channel": channel} for event in events]
    loop = {"name": active_loop} if active_loop else {}
    return Tracker(
        "citizen-1", slots or {}, latest, events, False, None, loop, "action_listen"
    )


TURNS = [
    {"event": "user", "text": "我的手机13000000001丢了身份证怎么办"},
    {"event": "bot", "text": "抱歉，知识库里没有找到……"},
    {"event": "user", "text": "/request_agent"},
    {"event": "user", "text": "转人工"},
]


async def test_the_citizen_is_queued_and_told_their_place(backend, dispatcher):
    events = await ActionRequestAgent().run(dispatcher, conversation_tracker(TURNS), {})
    assert said(dispatcher) == ["utter_handoff_queued"]
    assert dispatcher.messages[0]["handoff_position"] == 1
    assert slot_events(events)[handoff.HANDOFF_NO_SLOT] == "RG20261204000001"
    # The channel learns a handoff began from the custom payload.
    custom = [m["custom"] for m in dispatcher.messages if m.get("custom")]
    assert custom == [{handoff.HANDOFF_STARTED: "RG20261204000001"}]

    ((request, _),) = backend.handoffs.values()
    assert request.reason == "requested" and request.channel == "web"
    # The agent reads the turns masked, without button payloads.
    assert request.transcript == [
        ("citizen", "我的手机[手机号]丢了身份证怎么办"),
        ("assistant", "抱歉，知识库里没有找到……"),
        ("citizen", "转人工"),
    ]
    assert request.conversation != "citizen-1" and len(request.conversation) == 16


async def test_a_retried_action_does_not_queue_twice(backend, dispatcher):
    tracker = conversation_tracker(TURNS)
    await ActionRequestAgent().run(dispatcher, tracker, {})
    await ActionRequestAgent().run(dispatcher, tracker, {})
    assert len(backend.handoffs) == 1


async def test_outside_service_hours_the_citizen_is_told_when(backend, dispatcher):
    backend.desk_open = False
    await ActionRequestAgent().run(dispatcher, conversation_tracker(TURNS), {})
    assert said(dispatcher) == ["utter_handoff_after_hours"]
    message = dispatcher.messages[0]
    assert message["service_hours"] == "工作日 9:00-18:00"
    assert message["next_open"] == "12月7日（周一）9:00"


async def test_a_queue_that_cannot_be_reached_points_to_12345(backend, dispatcher):
    backend.error = BackendUnavailable("backend_unavailable")
    events = await ActionRequestAgent().run(dispatcher, conversation_tracker(TURNS), {})
    assert said(dispatcher) == ["utter_handoff_unavailable"]
    assert handoff.HANDOFF_NO_SLOT not in slot_events(events)


def loop_events(events) -> list:
    return [event["name"] for event in events if event["event"] == "active_loop"]


async def test_a_scenario_pauses_with_its_answers_kept(backend, dispatcher):
    """Found by testers: the form's question came right under "your messages
    now go to an agent", and the typed answer went to the agent."""
    slots = {"scenario": "restaurant", "venue_area": 200, "requested_slot": "x"}
    tracker = conversation_tracker(TURNS, slots, active_loop="scenario_form")
    events = await ActionRequestAgentInScenario().run(dispatcher, tracker, {})

    assert said(dispatcher) == ["utter_handoff_queued", "utter_handoff_scenario_kept"]
    assert loop_events(events) == [None]
    kept = slot_events(events)
    # The answers and the run stay; only the pending question is dropped.
    assert "venue_area" not in kept and "scenario" not in kept
    assert kept["requested_slot"] is None
    assert kept[handoff.HANDOFF_NO_SLOT] == "RG20261204000001"


async def test_a_scenario_without_answers_just_stops(backend, dispatcher):
    slots = {"scenario": "restaurant", "requested_slot": "venue_area"}
    tracker = conversation_tracker(TURNS, slots, active_loop="scenario_form")
    events = await ActionRequestAgentInScenario().run(dispatcher, tracker, {})

    assert said(dispatcher) == ["utter_handoff_queued"]
    assert loop_events(events) == [None]
    assert slot_events(events)["scenario"] is None


async def test_other_forms_go_on_after_the_handoff(backend, dispatcher):
    tracker = conversation_tracker(TURNS, {}, active_loop="ticket_form")
    events = await ActionRequestAgent().run(dispatcher, tracker, {})
    assert loop_events(events) == []


async def test_the_agent_gets_what_the_forms_collected_but_no_id_or_phone(
    backend, dispatcher
):
    slots = {
        "scenario": "restaurant",
        "venue_area": 300,
        "id_number": "990101198503120117",
        "ticket_kind": "complaint",
        "ticket_description": "小区门口路灯坏了一个月",
        "ticket_location": "示范区人民路18号",
        "ticket_occurred": "未说明",
        "ticket_phone": "13000000001",
    }
    await ActionRequestAgent().run(dispatcher, conversation_tracker(TURNS, slots), {})
    ((request, _),) = backend.handoffs.values()
    collected = request.collected
    assert collected["一件事"] == "开餐馆"
    assert collected["工单类型"] == "投诉/求助"
    assert collected["反映内容"] == "小区门口路灯坏了一个月"
    assert "时间" not in collected
    values = " ".join(collected.values())
    assert "990101198503120117" not in values and "13000000001" not in values


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 12, 7, 1, 0, tzinfo=UTC), "12月7日（周一）9:00"),
        (datetime(2026, 12, 5, 16, 30, tzinfo=UTC), "12月6日（周日）0:30"),
        (None, "下一个服务时段"),
    ],
)
def test_times_are_said_in_china_time(moment, text):
    assert china_time_text(moment) == text


async def test_a_second_miss_in_a_row_hands_off(kb, backend, dispatcher):
    kb.result = KbSearchResult("no_answer", ())
    first = make_tracker("失叶金怎么领", intent="ask_question")
    events = await ActionAnswerQuestion().run(dispatcher, first, {})
    assert said(dispatcher) == ["utter_kb_no_answer"]
    assert slot_events(events)[handoff.MISSES_SLOT] == 1
    assert backend.handoffs == {}

    dispatcher.messages.clear()
    second = make_tracker(
        "那失叶保险呢", intent="ask_question", slots={handoff.MISSES_SLOT: 1}
    )
    events = await ActionAnswerQuestion().run(dispatcher, second, {})
    assert said(dispatcher) == ["utter_handoff_after_misses", "utter_handoff_queued"]
    ((request, _),) = backend.handoffs.values()
    assert request.reason == "repeated_failures"
    assert slot_events(events)[handoff.MISSES_SLOT] == 0
    # Both misses are still recorded for the review loop.
    await review.drain()
    assert [record.kind for record in backend.reviews] == ["no_answer", "no_answer"]


async def test_an_answer_forgets_earlier_misses(kb, dispatcher):
    from tests.actions.test_answer import GUIDE

    kb.result = KbSearchResult("answer", (GUIDE,))
    tracker = make_tracker(
        "第一次办身份证", intent="ask_question", slots={handoff.MISSES_SLOT: 1}
    )
    events = await ActionAnswerQuestion().run(dispatcher, tracker, {})
    assert slot_events(events)[handoff.MISSES_SLOT] == 0


async def test_a_miss_inside_a_form_does_not_count(kb, backend, dispatcher):
    kb.result = KbSearchResult("no_answer", ())
    tracker = make_tracker(
        "失叶金怎么领",
        intent="ask_question",
        slots={handoff.MISSES_SLOT: 1},
        active_loop="ticket_form",
    )
    events = await ActionAnswerQuestion().run(dispatcher, tracker, {})
    assert said(dispatcher) == ["utter_kb_no_answer"]
    assert events == [] and backend.handoffs == {}
