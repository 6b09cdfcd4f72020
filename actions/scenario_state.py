"""What one scenario run keeps in the tracker, and what it turns into.

Pure helpers over slots: the answers so far, the slots to clear on a new run,
the integrated application to submit and its idempotency key.
"""

from __future__ import annotations

import uuid
from typing import Any

from actions.backend_client import (
    ApplicationRequest,
    RequestedItem,
    make_idempotency_key,
)
from knowledge_base.scenarios import (
    Scenario,
    ScenarioItem,
    applicable_items,
    questions_to_ask,
)

SCENARIO_SLOT = "scenario"
INSTANCE_SLOT = "scenario_instance_id"
CONSENT_SLOT = "prefill_consent"
ID_NUMBER_SLOT = "id_number"
CONFIRM_SLOT = "confirm_submission"
APPLICATION_NO_SLOT = "application_no"
# Unreadable answers so far, per question slot ({"venue_area": 2}).
FAILURES_SLOT = "scenario_failures"
# The route the citizen chose per item offering two ({"fire_safety_check": …}),
# and the form slot that asks for one item at a time.
ROUTES_SLOT = "chosen_routes"
ROUTE_CHOICE_SLOT = "route_choice"
# Slots of the application steps, cleared with the answers.
APPLICATION_SLOTS = (CONSENT_SLOT, ID_NUMBER_SLOT, CONFIRM_SLOT)
# Personal data and decisions a pause drops (the answers stay for the resume).
PAUSE_CLEARS = (*APPLICATION_SLOTS, ROUTE_CHOICE_SLOT, FAILURES_SLOT)
PREFILL_REQUIRED = (CONSENT_SLOT, ID_NUMBER_SLOT)
# What utter_ask_prefill_consent asks the citizen to release, and no more.
PREFILL_FIELDS = ("name", "phone", "address")


def new_instance_id() -> str:
    """A fresh id for one run of a scenario (part of the idempotency key)."""
    return uuid.uuid4().hex


def answers_from(slots: dict[str, Any], scenario: Scenario) -> dict[str, Any]:
    """The scenario's question slots that hold an answer."""
    return {
        question.slot: slots.get(question.slot)
        for question in scenario.questions
        if slots.get(question.slot) is not None
    }


def required_question_slots(scenario: Scenario, slots: dict[str, Any]) -> list[str]:
    """The question slots to fill, given the answers so far (``ask_if``)."""
    return [q.slot for q in questions_to_ask(scenario, answers_from(slots, scenario))]


def questions_complete(scenario: Scenario, slots: dict[str, Any]) -> bool:
    """Whether every question that applies has an answer."""
    return all(
        slots.get(slot) is not None for slot in required_question_slots(scenario, slots)
    )


def slots_to_clear(scenario: Scenario, keep_instance: bool) -> dict[str, Any]:
    """Slot values that start the scenario's questions and application afresh."""
    cleared: dict[str, Any] = {q.slot: None for q in scenario.questions}
    cleared.update(dict.fromkeys(APPLICATION_SLOTS))
    cleared.update(dict.fromkeys((FAILURES_SLOT, ROUTES_SLOT, ROUTE_CHOICE_SLOT)))
    if not keep_instance:
        cleared[APPLICATION_NO_SLOT] = None
    return cleared


def idempotency_key(sender_id: str, instance_id: str) -> str:
    """The same conversation and scenario run always give the same key."""
    return make_idempotency_key(sender_id, instance_id)


def consent_key(sender_id: str, instance_id: str, id_number: str) -> str:
    """One consent per conversation, run and 身份证号 (a new number, a new one)."""
    return make_idempotency_key(sender_id, instance_id, "consent", id_number)


def can_resume(scenario: Scenario | None, slots: dict[str, Any]) -> bool:
    """Whether a paused run of ``scenario`` waits in ``slots``: some answers,
    questions left, nothing submitted yet."""
    return (
        scenario is not None
        and slots.get(SCENARIO_SLOT) == scenario.id
        and not slots.get(APPLICATION_NO_SLOT)
        and bool(answers_from(slots, scenario))
        and not questions_complete(scenario, slots)
    )


def chosen_route(item: ScenarioItem, choices: dict[str, str] | None = None) -> str:
    """The route submitted for an item: the citizen's choice, else the only one
    (or, for a run that never chose, the first the package lists)."""
    choice = (choices or {}).get(item.id)
    return choice if choice in item.routes else item.routes[0]


def pending_route_choice(
    scenario: Scenario, slots: dict[str, Any]
) -> ScenarioItem | None:
    """The next applicable item with two routes the citizen has not chosen."""
    choices = slots.get(ROUTES_SLOT) or {}
    items = applicable_items(scenario, answers_from(slots, scenario))
    return next((i for i in items if len(i.routes) > 1 and i.id not in choices), None)


def build_request(
    scenario: Scenario, slots: dict[str, Any], prefilled: bool
) -> ApplicationRequest:
    """The integrated application (一表申请) for the answers in ``slots``."""
    answers = answers_from(slots, scenario)
    items = applicable_items(scenario, answers)
    routes = slots.get(ROUTES_SLOT) or {}
    display = {
        question.label: question.display(answers[question.slot])
        for question in scenario.questions
        if question.slot in answers
    }
    return ApplicationRequest(
        scenario_id=scenario.id,
        applicant_id_number=slots[ID_NUMBER_SLOT],
        answers=answers,
        items=tuple(
            RequestedItem(
                item.id, item.name, item.department, chosen_route(item, routes)
            )
            for item in items
        ),
        form={
            "scenario_version": scenario.version,
            "prefilled_from_profile": prefilled,
            "answers_display": display,
        },
    )
