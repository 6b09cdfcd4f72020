"""A reviewer's view of a scenario: its questions, and what a set of answers gives.

``python -m knowledge_base scenario-check <id> '<answers JSON>'`` and
``scenario-questions [<id>]`` are thin wrappers over :func:`check_answers` and
:func:`describe_questions`; both return plain JSON-ready data, so a case can be
checked without a conversation.
"""

from __future__ import annotations

import json
from typing import Any

from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.scenarios.conditions import Comparison
from knowledge_base.scenarios.model import (
    Question,
    Scenario,
    ScenarioItem,
    applicable_items,
    merged_materials,
    questions_to_ask,
)


class ScenarioCheckError(KnowledgeBaseError):
    """The scenario id or the answers given to the checker cannot be used."""

    code = "kb_scenario_check"


class UnknownScenarioError(ScenarioCheckError):
    code = "kb_unknown_scenario"


class BadAnswersError(ScenarioCheckError):
    """The answers are not a JSON object."""

    code = "kb_bad_answers"


class UnknownSlotError(ScenarioCheckError):
    code = "kb_unknown_slot"


class InvalidAnswerError(ScenarioCheckError):
    """An answer does not fit its question's kind or options."""

    code = "kb_invalid_answer"


def pick_scenario(scenarios: dict[str, Scenario], scenario_id: str) -> Scenario:
    """The scenario with ``scenario_id``.

    Raises:
        UnknownScenarioError: no package has that id.
    """
    if scenario_id not in scenarios:
        known = ", ".join(sorted(scenarios))
        raise UnknownScenarioError(f"no scenario {scenario_id!r}; known: {known}")
    return scenarios[scenario_id]


def parse_answers(scenario: Scenario, text: str) -> dict[str, Any]:
    """Read answers from JSON text, checking each against its question.

    Area answers are numbers, yes/no answers ``true``/``false``, and choice
    answers an option value (an option's label or alias is accepted too).

    Raises:
        BadAnswersError: not JSON, or not an object.
        UnknownSlotError: a key that is no question of the scenario.
        InvalidAnswerError: a value that does not fit its question.
    """
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadAnswersError(f"answers are not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise BadAnswersError("answers must be a JSON object of slot: value")

    answers = {}
    for slot, value in raw.items():
        question = scenario.question(slot)
        if question is None:
            slots = ", ".join(q.slot for q in scenario.questions)
            raise UnknownSlotError(
                f"{scenario.id} has no question {slot!r}; its slots: {slots}"
            )
        answers[slot] = _answer(question, value)
    return answers


def _answer(question: Question, value: Any) -> bool | float | str:
    if question.kind == "area":
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InvalidAnswerError(f"{question.slot} needs a number >= 0")
        return float(value)
    if question.kind == "yes_no":
        if not isinstance(value, bool):
            raise InvalidAnswerError(f"{question.slot} needs true or false")
        return value
    for option in question.options:
        if value == option.value or value == option.label or value in option.aliases:
            return option.value
    if question.options:
        values = ", ".join(option.value for option in question.options)
        raise InvalidAnswerError(f"{question.slot} needs one of: {values}")
    # A free-text kind (a date, a district without options …): the dialogue
    # validates the wording; here any non-empty text is taken as it is.
    if not isinstance(value, str) or not value.strip():
        raise InvalidAnswerError(f"{question.slot} needs a non-empty text")
    return value.strip()


def check_answers(scenario: Scenario, answers: dict[str, Any]) -> dict[str, Any]:
    """What the answers give: items with the reason each applies, routes, materials.

    Answers to questions that would not be asked (their ``ask_if`` is false)
    are dropped, as the dialogue never asks them; they are listed under
    ``ignored_answers``.
    """
    asked = {q.slot for q in questions_to_ask(scenario, answers)}
    kept = {slot: value for slot, value in answers.items() if slot in asked}
    items = applicable_items(scenario, kept)

    return {
        "scenario": scenario.id,
        "name": scenario.name,
        "locality": scenario.locality,
        "answers": kept,
        "ignored_answers": sorted(set(answers) - asked),
        "unanswered": [
            q.slot for q in questions_to_ask(scenario, kept) if q.slot not in kept
        ],
        "items": [_item_view(scenario, item, kept) for item in items],
        "materials": [
            {"id": m.id, "name": m.name, **({"note": m.note} if m.note else {})}
            for m in merged_materials(scenario, items)
        ],
    }


def _item_view(scenario: Scenario, item: ScenarioItem, answers: dict) -> dict:
    return {
        "id": item.id,
        "name": item.name,
        "department": item.department,
        "basic_code": item.basic_code,
        "why": _why(item, answers),
        "route": item.routes[0],
        "routes": [
            {"id": route, "label": scenario.route_labels[route]}
            for route in item.routes
        ],
        "route_materials": {
            route: list(ids) for route, ids in item.route_materials.items()
        },
        "materials_listed": item.materials is not None,
    }


def _why(item: ScenarioItem, answers: dict) -> str:
    """The first ``and`` group that holds, with the answers that made it hold."""
    if not item.applies_if.any_of:
        return "always"
    for group in item.applies_if.any_of:
        if all(comparison.holds(answers) for comparison in group):
            return " and ".join(_explain(c, answers[c.slot]) for c in group)
    return item.applies_if.text  # not reached for an applicable item


def _explain(comparison: Comparison, answer: Any) -> str:
    c = comparison
    return f"{c.slot} {c.op} {_plain(c.value)} ({c.slot}={_plain(answer)})"


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def describe_questions(scenario: Scenario) -> dict[str, Any]:
    """Each question's slot, kind, label, when it is asked and what it accepts."""
    return {
        "scenario": scenario.id,
        "name": scenario.name,
        "locality": scenario.locality,
        "questions": [_question_view(q) for q in scenario.questions],
    }


def _question_view(question: Question) -> dict[str, Any]:
    view: dict[str, Any] = {
        "slot": question.slot,
        "kind": question.kind,
        "label": question.label,
        "ask_if": question.ask_if.text,
    }
    if question.kind == "area":
        view["accepts"] = f"a number >= 0, in {question.unit}"
    elif question.kind == "yes_no":
        view["accepts"] = [True, False]
    elif question.options:
        view["accepts"] = [
            {"value": o.value, "label": o.label, "aliases": list(o.aliases)}
            for o in question.options
        ]
    else:
        view["accepts"] = f"a text ({question.kind})"
    return view
