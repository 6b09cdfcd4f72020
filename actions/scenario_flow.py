"""Starting, pausing, resuming and restarting a scenario run; its checklist.

A run starts with a fresh ``scenario_instance_id`` (part of the submission's
idempotency key) and the answers its first message already gives
(我想开一家200平的火锅店，不卖烟); changing answers keeps the id, so a retried
submission of the same run is still recognised by the backend. 算了 / 不办了
pauses the run with its answers; 继续办理, or naming the same scenario again,
resumes at the first unanswered question.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT

from actions.scenario_answers import extract_answers
from actions.scenario_form import current_scenario, match_scenario, say_back
from actions.scenario_state import (
    INSTANCE_SLOT,
    PAUSE_CLEARS,
    SCENARIO_SLOT,
    answers_from,
    can_resume,
    new_instance_id,
    slots_to_clear,
)
from actions.services import get_services
from actions.ticket import message_reading, offer_ticket
from knowledge_base.scenarios import (
    Scenario,
    ScenarioItem,
    applicable_items,
    merged_materials,
)

logger = logging.getLogger(__name__)


def clear_events(scenario: Scenario | None, keep_instance: bool) -> list[EventType]:
    """Clear the run's slots, and ``requested_slot`` so that no stale request
    lets the next message fill an old question."""
    events: list[EventType] = [SlotSet(REQUESTED_SLOT, None)]
    if scenario is not None:
        cleared = slots_to_clear(scenario, keep_instance)
        events += [SlotSet(key, value) for key, value in cleared.items()]
    return events


class ActionStartScenario(Action):
    """Begin a run of the scenario the citizen named (or ask which), keeping
    the answers the message gives; a paused run of the same scenario resumes."""

    def name(self) -> str:
        return "action_start_scenario"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        services = get_services()
        text = str(tracker.latest_message.get("text") or "")
        entity = next(tracker.get_latest_entity_values(SCENARIO_SLOT), None)
        # The NLU may cut the entity badly (小餐馆); the whole text still names it.
        scenario_id = match_scenario(entity, services.scenarios) or match_scenario(
            text, services.scenarios
        )
        scenario = services.scenarios.get(scenario_id) if scenario_id else None
        # No scenario named: a complaint the NLU took for one ("路灯坏了一个
        # 月…") is offered a ticket instead of the list of scenarios.
        unnamed = scenario is None and entity is None
        reading = message_reading(tracker) if unnamed else None
        if unnamed and offer_ticket(dispatcher, tracker, "no_answer", reading):
            return [FollowupAction("action_listen")]
        if can_resume(scenario, tracker.slots):
            return resume_events(dispatcher, scenario, tracker)

        events = clear_events(scenario, keep_instance=False)
        events += [
            SlotSet(SCENARIO_SLOT, scenario_id),
            SlotSet(INSTANCE_SLOT, new_instance_id()),
        ]
        if scenario is not None:
            dispatcher.utter_message(
                response="utter_scenario_intro",
                scenario_name=scenario.name,
                locality=scenario.locality,
            )
            events += given_answers(dispatcher, scenario, text, skip=set())
        logger.info("actions.scenario.started", extra={"scenario": scenario_id})
        return events


def given_answers(
    dispatcher: CollectingDispatcher, scenario: Scenario, text: str, skip: set[str]
) -> list[EventType]:
    """Slot events for the answers ``text`` already gives, said back once."""
    found = extract_answers(scenario, text, skip=skip).answers
    if not found:
        return []
    say_back(dispatcher, scenario, found, "utter_answers_noted")
    logger.info(
        "actions.scenario.pre_answered",
        extra={"scenario": scenario.id, "slots": sorted(found)},
    )
    return [SlotSet(slot, value) for slot, value in found.items()]


def resume_events(
    dispatcher: CollectingDispatcher, scenario: Scenario, tracker: Tracker
) -> list[EventType]:
    """Take up the paused run: same id, same answers, the next question."""
    answered = answers_from(tracker.slots, scenario)
    dispatcher.utter_message(
        response="utter_scenario_resumed",
        scenario_name=scenario.name,
        answered_count=len(answered),
    )
    text = str(tracker.latest_message.get("text") or "")
    events: list[EventType] = [SlotSet(REQUESTED_SLOT, None)]
    events += given_answers(dispatcher, scenario, text, skip=set(answered))
    logger.info("actions.scenario.resumed", extra={"scenario": scenario.id})
    return events


class ActionResumeScenario(Action):
    """继续办理: take up the paused run, or say there is none."""

    def name(self) -> str:
        return "action_resume_scenario"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        scenario = current_scenario(tracker)
        if not can_resume(scenario, tracker.slots):
            dispatcher.utter_message(response="utter_nothing_to_resume")
            return [FollowupAction("action_listen")]
        return resume_events(dispatcher, scenario, tracker)


class ActionResetAnswers(Action):
    """Ask the scenario's questions again, keeping the run's id."""

    def name(self) -> str:
        return "action_reset_answers"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        scenario = current_scenario(tracker)
        if scenario is None:
            dispatcher.utter_message(response="utter_nothing_to_submit")
            return [ActiveLoop(None)]
        dispatcher.utter_message(response="utter_answers_reset")
        # The form starts again only when there is a run to restart; a rule
        # that always ran it looped on an empty form (修改回答 twice).
        return [
            ActiveLoop(None),
            *clear_events(scenario, keep_instance=True),
            FollowupAction("scenario_form"),
        ]


class ActionCancelScenario(Action):
    """算了 / 不办了: pause the run politely, keeping its answers for a resume.

    Consent, 身份证号 and the confirmation are dropped (personal data is kept
    no longer than the step that needs it); 修改回答 starts the answers afresh.
    """

    def name(self) -> str:
        return "action_cancel_scenario"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        scenario = current_scenario(tracker)
        events, paused = pause_events(tracker)
        if paused:
            dispatcher.utter_message(
                response="utter_scenario_paused", scenario_name=scenario.name
            )
        else:
            dispatcher.utter_message(response="utter_scenario_cancelled")
        logger.info(
            "actions.scenario.paused" if paused else "actions.scenario.cancelled",
            extra={"scenario": scenario and scenario.id},
        )
        return events


def pause_events(tracker: Tracker) -> tuple[list[EventType], bool]:
    """Stop the running form, keeping the answers for 继续办理 when any.

    Returns:
        The events, and whether the run can be resumed (False: nothing was
        worth keeping, no answer yet or all done, and the run is stopped).
    """
    scenario = current_scenario(tracker)
    events: list[EventType] = [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]
    events += [SlotSet(slot, None) for slot in PAUSE_CLEARS]
    paused = can_resume(scenario, tracker.slots)
    if not paused:
        events += clear_events(scenario, keep_instance=True)
        events += [SlotSet(SCENARIO_SLOT, None), SlotSet(INSTANCE_SLOT, None)]
    return events, paused


class ActionShowChecklist(Action):
    """List the items that apply, their departments and routes, and the materials."""

    def name(self) -> str:
        return "action_show_checklist"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        scenario = current_scenario(tracker)
        if scenario is None:
            dispatcher.utter_message(response="utter_invalid_scenario")
            return []
        items = applicable_items(scenario, answers_from(tracker.slots, scenario))
        dispatcher.utter_message(
            response="utter_checklist_intro",
            scenario_name=scenario.name,
            locality=scenario.locality,
            item_count=len(items),
        )
        for index, item in enumerate(items, start=1):
            utter_item(dispatcher, scenario, item, index)
        utter_materials(dispatcher, scenario, items)
        logger.info(
            "actions.checklist.shown",
            extra={"scenario": scenario.id, "items": len(items)},
        )
        return []


def utter_item(
    dispatcher: CollectingDispatcher, scenario: Scenario, item: ScenarioItem, index: int
) -> None:
    """One item: name, department, routes, time; its route-only materials."""
    dispatcher.utter_message(
        response="utter_checklist_item"
        if item.time_note
        else "utter_checklist_item_no_time",
        index=index,
        item_name=item.name,
        department=item.department,
        routes="、".join(scenario.route_labels[route] for route in item.routes),
        time_note=item.time_note or "",
    )
    for route, material_ids in item.route_materials.items():
        dispatcher.utter_message(
            response="utter_checklist_route_materials",
            route=scenario.route_labels[route],
            materials="、".join(scenario.materials[m].name for m in material_ids),
        )


def utter_materials(
    dispatcher: CollectingDispatcher, scenario: Scenario, items: list[ScenarioItem]
) -> None:
    """The merged materials once, then each item's note on its materials."""
    materials = merged_materials(scenario, items)
    if materials:
        lines = [
            f"{n}. {m.name}" + (f"（{m.note}）" if m.note else "")
            for n, m in enumerate(materials, start=1)
        ]
        dispatcher.utter_message(
            response="utter_checklist_materials", materials="\n".join(lines)
        )
    for item in items:
        if item.materials_note:
            dispatcher.utter_message(
                response="utter_checklist_materials_note",
                item_name=item.name,
                materials_note=item.materials_note,
            )
    sources = {source.url: source.title for item in items for source in item.sources}
    dispatcher.utter_message(
        response="utter_checklist_sources",
        sources="\n".join(f"{title} {url}" for url, title in sources.items()),
        locality_note=scenario.locality_note or "",
    )
