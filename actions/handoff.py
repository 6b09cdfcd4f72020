"""Handing a conversation to a person (转人工) through the backend's agent queue.

Three things start a handoff: the citizen asks (转人工), the knowledge base
fails them twice in a row, or triage reads a complaint it is unsure of. The
action puts the conversation in the queue with the recent turns and what
the forms collected, both masked, and says where the citizen stands: their
place in the queue, or, outside service hours, when someone will reply.
From then on the channels hand the citizen's messages to the agent instead
of to Rasa until the agent or the citizen ends it (channels/handoff.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import metrics
from actions.backend_client import (
    BackendClientError,
    HandoffReceipt,
    HandoffRequest,
    make_idempotency_key,
)
from actions.errors import UnknownScenario
from actions.scenario_flow import pause_events
from actions.scenario_form import current_scenario
from actions.services import get_services
from actions.ticket import KIND_LABELS, NOT_GIVEN
from bot.privacy import redact

logger = logging.getLogger(__name__)

REQUESTED = "requested"
REPEATED_FAILURES = "repeated_failures"
LOW_CONFIDENCE_COMPLAINT = "low_confidence_complaint"
# Consecutive knowledge-base misses, reset by an answer or a clarification.
MISSES_SLOT = "kb_misses"
MISSES_BEFORE_HANDOFF = 2
HANDOFF_NO_SLOT = "handoff_no"
# The custom payload that carries the queued handoff's number to the channel.
HANDOFF_STARTED = "handoff_started"

MAX_TURNS = 20
MAX_TEXT = 1000
MAX_VALUE = 200
CHINA_TIME = timezone(timedelta(hours=8))
WEEKDAYS = "一二三四五六日"
# What the agent sees first, before the turns, for each reason.
REASON_LEADS = {
    REPEATED_FAILURES: "utter_handoff_after_misses",
    LOW_CONFIDENCE_COMPLAINT: "utter_handoff_for_complaint",
}


class ActionRequestAgent(Action):
    """转人工: put the conversation in the agent queue and say where it stands."""

    def name(self) -> str:
        return "action_request_agent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # The ticket and application forms go on after the handoff.
        return await hand_off(dispatcher, tracker, REQUESTED)


class ActionRequestAgentInScenario(Action):
    """转人工 during a scenario's questions: queue, then pause the run.

    The answers stay for 继续办理, and no question is asked under "your
    messages now go to an agent". A separate action because Rasa's rules
    need an action that always ends its form (training_data/rules).
    """

    def name(self) -> str:
        return "action_request_agent_in_scenario"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await hand_off(dispatcher, tracker, REQUESTED)
        paused, resumable = pause_events(tracker)
        scenario = current_scenario(tracker)
        if resumable:
            dispatcher.utter_message(
                response="utter_handoff_scenario_kept", scenario_name=scenario.name
            )
        return [*events, *paused]


async def hand_off(
    dispatcher: CollectingDispatcher, tracker: Tracker, reason: str
) -> list[EventType]:
    """Queue this conversation for an agent; the events to return.

    A retried action (the channel delivered the message again) sends the
    same key and gets the same handoff; a conversation already queued gets
    its open handoff back, never a second one.
    """
    lead = REASON_LEADS.get(reason)
    if lead:
        dispatcher.utter_message(response=lead)
    services = get_services()
    request = handoff_request(tracker, reason, services.sender_hash(tracker.sender_id))
    message_id = str(tracker.latest_message.get("message_id") or "")
    key = make_idempotency_key(tracker.sender_id, "handoff", message_id)
    try:
        receipt = await services.backend.start_handoff(request, key)
    except BackendClientError as exc:
        logger.warning(
            "actions.handoff.unavailable", extra={"code": exc.code, "reason": reason}
        )
        metrics.count_handoff(reason, "unavailable")
        dispatcher.utter_message(response="utter_handoff_unavailable")
        return [SlotSet(MISSES_SLOT, 0)]

    metrics.count_handoff(reason, "queued" if receipt.created else "already_open")
    logger.info(
        "actions.handoff.queued",
        extra={
            "handoff_no": receipt.handoff_no,
            "reason": reason,
            "status": receipt.status,
            "new": receipt.created,
            "open_now": receipt.open_now,
            "turns": len(request.transcript),
        },
    )
    utter_where_it_stands(dispatcher, receipt)
    # Tells a channel that pushes agent replies (WeChat) to watch this one.
    dispatcher.utter_message(json_message={HANDOFF_STARTED: receipt.handoff_no})
    return [SlotSet(MISSES_SLOT, 0), SlotSet(HANDOFF_NO_SLOT, receipt.handoff_no)]


def utter_where_it_stands(
    dispatcher: CollectingDispatcher, receipt: HandoffReceipt
) -> None:
    """The queue place now, or when someone will reply outside service hours."""
    if receipt.status == "active":
        dispatcher.utter_message(response="utter_handoff_agent_busy")
    elif receipt.open_now:
        dispatcher.utter_message(
            response="utter_handoff_queued", handoff_position=receipt.position or 1
        )
    else:
        dispatcher.utter_message(
            response="utter_handoff_after_hours",
            service_hours=receipt.hours,
            next_open=china_time_text(receipt.next_open),
        )


def china_time_text(moment: datetime | None) -> str:
    """``12月7日（周一）9:00`` in China time; 下一个服务时段 when unknown."""
    if moment is None:
        return "下一个服务时段"
    local = moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(CHINA_TIME)
    weekday = WEEKDAYS[local.weekday()]
    return f"{local.month}月{local.day}日（周{weekday}）{local.hour}:{local.minute:02d}"


def handoff_request(tracker: Tracker, reason: str, conversation: str) -> HandoffRequest:
    """What the agent gets: the last turns and what was collected, masked."""
    channel = tracker.get_latest_input_channel() or "other"
    return HandoffRequest(
        conversation=conversation,
        channel=channel if channel in ("web", "wechat") else "other",
        reason=reason,
        topic=None,
        transcript=transcript(tracker.events),
        collected=collected(tracker),
    )


def transcript(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The last turns as (citizen|assistant, masked text); button payloads skipped."""
    turns: list[tuple[str, str]] = []
    for event in events:
        kind = event.get("event")
        text = event.get("text")
        if kind not in ("user", "bot") or not isinstance(text, str) or not text:
            continue
        if kind == "user" and text.startswith("/"):
            continue
        role = "citizen" if kind == "user" else "assistant"
        turns.append((role, redact(text)[:MAX_TEXT]))
    return turns[-MAX_TURNS:]


def collected(tracker: Tracker) -> dict[str, str]:
    """The scenario's answers and the ticket's fields so far, by their labels.

    The 身份证号 and the phone are left out: the agent asks if they need them.
    """
    found: dict[str, str] = {}
    scenario_id = tracker.get_slot("scenario")
    if scenario_id:
        try:
            scenario = get_services().scenario(scenario_id)
        except UnknownScenario:
            scenario = None
        if scenario is not None:
            found["一件事"] = scenario.name
            for question in scenario.questions:
                answer = tracker.get_slot(question.slot)
                if answer is not None:
                    found[question.label] = question.display(answer)
    kind = tracker.get_slot("ticket_kind")
    ticket = {
        "工单类型": KIND_LABELS.get(kind, kind),
        "反映内容": tracker.get_slot("ticket_description"),
        "地点": tracker.get_slot("ticket_location"),
        "时间": tracker.get_slot("ticket_occurred"),
    }
    for label, value in ticket.items():
        if value not in (None, "", NOT_GIVEN):
            found[label] = str(value)
    application_no = tracker.get_slot("application_no")
    if application_no:
        found["申请编号"] = str(application_no)
    return {label: redact(value)[:MAX_VALUE] for label, value in found.items()}


def count_miss(tracker: Tracker) -> int:
    """Consecutive knowledge-base misses, this one included."""
    misses = tracker.get_slot(MISSES_SLOT)
    return int(misses or 0) + 1
