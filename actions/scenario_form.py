"""The generic ``scenario_form``: its questions come from the scenario package.

The required slots are ``scenario`` and then the package's questions whose
``ask_if`` holds for the answers so far, so a new scenario needs data and
domain entries but no Python. Answers are read by :mod:`actions.scenario_answers`;
a message may answer other questions too (不卖烟，两百平), and those are kept.
Three unreadable answers to one question bring an example and the offer of a
person or a pause (``utter_offer_agent_or_pause``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT

from actions import parsing
from actions.errors import UnknownScenario
from actions.form_base import NOT_AN_ANSWER_INTENTS, AnswerFormValidation, latest_intent
from actions.scenario_answers import extract_answers, parse_answer, residual_text
from actions.scenario_state import (
    FAILURES_SLOT,
    SCENARIO_SLOT,
    answers_from,
    required_question_slots,
)
from actions.services import get_services
from knowledge_base.scenarios import Scenario

logger = logging.getLogger(__name__)

__all__ = ["ValidateScenarioForm", "current_scenario", "match_scenario", "parse_answer"]
# Every third unreadable answer to one question offers a person or a pause.
FAILURES_BEFORE_HELP = 3


# "注册一家公司", "开个小卖部": a measure word after the verb hides the alias.
_MEASURE_AFTER_VERB = re.compile(r"(?<=[开办设立注册成])一?[个家间所]")


def match_scenario(value: Any, scenarios: dict[str, Scenario]) -> str | None:
    """The scenario id meant by an entity value or free text, or ``None``."""
    text = str(value or "").strip()
    if text in scenarios:
        return text
    texts = {text, _MEASURE_AFTER_VERB.sub("", text)}
    found = {
        scenario.id
        for scenario in scenarios.values()
        if any(alias in variant for alias in scenario.aliases for variant in texts)
    }
    return found.pop() if len(found) == 1 else None


def current_scenario(tracker: Tracker) -> Scenario | None:
    """The package named by the ``scenario`` slot, or ``None``.

    A value that names no package came from a stray entity in this message
    (改成： → "："): the scenario the run had before it still holds, so the
    form's other slots are validated against it, not left unchecked.
    """
    services = get_services()
    value = tracker.get_slot(SCENARIO_SLOT)
    if value and value not in services.scenarios:
        value = running_scenario(tracker)
    try:
        return services.scenario(value)
    except UnknownScenario:
        return None


def running_scenario(tracker: Tracker) -> str | None:
    """The scenario the form had before the latest message, if a known one.

    Values that name no package (stray entities of earlier messages) are
    passed over; an emptied slot (a cancel) ends the search.
    """
    before_message = False
    known = get_services().scenarios
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            before_message = True
            continue
        if not (before_message and event.get("event") == "slot"):
            continue
        if event.get("name") != SCENARIO_SLOT:
            continue
        value = event.get("value")
        if not value or value in known:
            return value or None
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
            # The NLU may cut the entity short (注册一家公司 → 公司); the whole
            # message then says which scenario, as in action_start_scenario.
            scenarios = get_services().scenarios
            scenario_id = match_scenario(value, scenarios) or match_scenario(
                tracker.latest_message.get("text"), scenarios
            )
            # A stray entity mid-form (改成： → scenario "：") names no
            # scenario: the run goes on with the one it had.
            return scenario_id or running_scenario(tracker), "utter_invalid_scenario"
        scenario = current_scenario(tracker)
        question = scenario.question(slot) if scenario else None
        if question is None:
            return None, None
        if value is not None and not isinstance(value, str):
            # Already read (a pre-answer): Rasa re-validates pre-filled slots
            # when the form activates, and str(False) is no answer.
            return value, question.invalid
        if latest_intent(tracker) in NOT_AN_ANSWER_INTENTS:
            # 我要投诉 holds 要 but answers no question: asked again.
            return None, question.invalid
        # "有，不卖烟" answers 娱乐 with 有: the clauses about other questions go.
        text = str(value or "")
        others = extract_answers(scenario, text, skip={slot})
        answer = parse_answer(question, residual_text(text, others, question), None)
        if answer is None and not others.answers:
            # 不卖烟 at the 娱乐 question answers the tobacco one, not this.
            answer = parse_answer(question, text, latest_intent(tracker))
        return answer, question.invalid

    async def get_validation_events(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[EventType]:
        scenario = current_scenario(tracker)
        requested = tracker.get_slot(REQUESTED_SLOT)
        corrections = corrected_answers(scenario, tracker)
        if corrections:
            # "我刚才说错了，没有娱乐功能": the earlier answer changes, and the
            # asked question (if still needed) is asked again.
            say_back(dispatcher, scenario, corrections, "utter_answers_corrected")
            return [
                *(SlotSet(slot, value) for slot, value in corrections.items()),
                SlotSet(requested, None),
            ]
        events = await super().get_validation_events(dispatcher, tracker, domain)
        stepped_aside = any(
            e.get("event") == "action_execution_rejected" for e in events
        )
        if scenario is None or stepped_aside or scenario.question(requested) is None:
            return events

        answered = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
        further = further_answers(scenario, tracker, answered)
        events += further
        # A message that answered other questions is no failed attempt.
        failed = requested in answered and answered[requested] is None and not further
        events += count_failure(dispatcher, scenario, tracker, requested, failed)
        return events


def corrected_answers(scenario: Scenario | None, tracker: Tracker) -> dict[str, Any]:
    """Earlier answers the latest message corrects, with their new values.

    Only a message that says it corrects something (说错了, 应该是, 改成 …)
    changes an answer already given; the others fill unanswered ones alone.
    """
    text = str(tracker.latest_message.get("text") or "")
    correcting = parsing.mentions_correction(text) and not text.startswith("/")
    if scenario is None or not correcting:
        return {}
    earlier = answers_from(tracker.slots, scenario)
    found = extract_answers(scenario, text, skip={tracker.get_slot(REQUESTED_SLOT)})
    return {
        slot: value
        for slot, value in found.answers.items()
        if slot in earlier and earlier[slot] != value
    }


def say_back(
    dispatcher: CollectingDispatcher,
    scenario: Scenario,
    answers: dict[str, Any],
    response: str,
) -> None:
    """Say the answers back, one ``label：value`` line each, in question order."""
    lines = [
        f"{question.label}：{question.display(answers[question.slot])}"
        for question in scenario.questions
        if question.slot in answers
    ]
    dispatcher.utter_message(response=response, answers="\n".join(lines))


def further_answers(
    scenario: Scenario, tracker: Tracker, answered: dict[str, Any]
) -> list[EventType]:
    """Answers the latest message gives to questions not yet answered."""
    text = str(tracker.latest_message.get("text") or "")
    if text.startswith("/"):
        return []
    done = set(answers_from(tracker.slots, scenario)) | {
        slot for slot, value in answered.items() if value is not None
    }
    found = extract_answers(
        scenario, text, skip=done | {tracker.get_slot(REQUESTED_SLOT)}
    )
    if found.answers:
        logger.debug(
            "actions.form.further_answers", extra={"slots": sorted(found.answers)}
        )
    return [SlotSet(slot, value) for slot, value in found.answers.items()]


def count_failure(
    dispatcher: CollectingDispatcher,
    scenario: Scenario,
    tracker: Tracker,
    slot: str,
    failed: bool,
) -> list[EventType]:
    """Count unreadable answers per question; every third, explain and offer help.

    A readable answer resets the question's count.
    """
    counts = dict(tracker.get_slot(FAILURES_SLOT) or {})
    if not failed:
        if slot not in counts:
            return []
        counts.pop(slot)
        return [SlotSet(FAILURES_SLOT, counts or None)]

    counts[slot] = counts.get(slot, 0) + 1
    if counts[slot] % FAILURES_BEFORE_HELP == 0:
        question = scenario.question(slot)
        dispatcher.utter_message(response=f"utter_answer_example_{question.kind}")
        dispatcher.utter_message(response="utter_offer_agent_or_pause")
        logger.info(
            "actions.form.help_offered",
            extra={"scenario": scenario.id, "slot": slot, "failures": counts[slot]},
        )
    return [SlotSet(FAILURES_SLOT, counts)]
