"""The generic ``scenario_form``: its questions come from the scenario package.

The required slots are ``scenario`` and then the package's questions whose
``ask_if`` holds for the answers so far, so a new scenario needs data and
domain entries but no Python. Answers are read by :mod:`actions.parsing`.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import parsing
from actions.errors import UnknownScenario
from actions.form_base import (
    AnswerFormValidation,
    latest_intent,
    parse_yes_no_or_intent,
)
from actions.scenario_state import SCENARIO_SLOT, required_question_slots
from actions.services import get_services
from knowledge_base.scenarios import Question, Scenario


def parse_answer(question: Question, text: Any, intent: str | None) -> Any:
    """The slot value for ``text``, or ``None`` when it is not an answer."""
    text = str(text or "")
    if question.kind == "area":
        area = parsing.parse_area(text)
        return None if area is None else area.square_metres
    if question.kind == "choice":
        options = {o.value: (*o.aliases, o.label, o.value) for o in question.options}
        return parsing.parse_choice(text, options)
    return parse_yes_no_or_intent(text, intent)


def match_scenario(value: Any, scenarios: dict[str, Scenario]) -> str | None:
    """The scenario id meant by an entity value or free text, or ``None``."""
    text = str(value or "").strip()
    if text in scenarios:
        return text
    found = {
        scenario.id
        for scenario in scenarios.values()
        if any(alias in text for alias in scenario.aliases)
    }
    return found.pop() if len(found) == 1 else None


def current_scenario(tracker: Tracker) -> Scenario | None:
    """The package named by the ``scenario`` slot, or ``None``."""
    try:
        return get_services().scenario(tracker.get_slot(SCENARIO_SLOT))
    except UnknownScenario:
        return None


class ValidateScenarioForm(AnswerFormValidation):
    """Required slots and validation for ``scenario_form``, read from the package."""

    def name(self) -> str:
        return "validate_scenario_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[str]:
        scenario = current_scenario(tracker)
        if scenario is None:
            return domain_slots
        return [SCENARIO_SLOT, *required_question_slots(scenario, tracker.slots)]

    def read_answer(
        self, slot: str, value: Any, tracker: Tracker
    ) -> tuple[Any, str | None]:
        if slot == SCENARIO_SLOT:
            scenario_id = match_scenario(value, get_services().scenarios)
            return scenario_id, "utter_invalid_scenario"
        scenario = current_scenario(tracker)
        question = scenario.question(slot) if scenario else None
        if question is None:
            return None, None
        return parse_answer(question, value, latest_intent(tracker)), question.invalid
