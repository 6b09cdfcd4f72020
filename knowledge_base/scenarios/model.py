"""What a loaded scenario package is, and what it says for a set of answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from knowledge_base.scenarios.conditions import Condition


@dataclass(frozen=True)
class Source:
    url: str
    title: str


@dataclass(frozen=True)
class Option:
    """One answer to a ``choice`` question; ``aliases`` are words that mean it."""

    value: str
    label: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    """A deciding fact, asked with the domain response ``ask``."""

    slot: str
    kind: str
    label: str
    ask: str
    invalid: str
    ask_if: Condition = field(default_factory=Condition)
    unit: str | None = None
    yes_label: str | None = None
    no_label: str | None = None
    # yes_no only: the question's own words for yes and no (已达到 / 没达到),
    # read before the general yes/no words.
    yes_words: tuple[str, ...] = ()
    no_words: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()

    def display(self, answer: Any) -> str:
        """The answer as the citizen reads it on the integrated form."""
        if self.kind == "yes_no":
            return (self.yes_label if answer else self.no_label) or ""
        if self.kind in ("choice", "district") and self.options:
            return next((o.label for o in self.options if o.value == answer), "")
        if self.kind in ("district", "date", "credit_code"):
            return str(answer)
        if self.kind in ("id_number", "phone"):
            # Shown back masked, as everywhere else (docs/dialogue.md).
            text = str(answer)
            return text[:3] + "*" * max(len(text) - 7, 3) + text[-4:]
        number = f"{answer:g}" if isinstance(answer, float) else str(answer)
        return f"{number}{self.unit or ''}"


@dataclass(frozen=True)
class Material:
    id: str
    name: str
    note: str | None = None


@dataclass(frozen=True)
class ScenarioItem:
    """A service item in the scenario and when it applies."""

    id: str
    name: str
    department: str
    applies_if: Condition
    routes: tuple[str, ...]
    materials: tuple[str, ...] | None
    route_materials: dict[str, tuple[str, ...]]
    materials_note: str | None
    promised_days: int | None
    legal_days: int | None
    time_note: str | None
    fee: str | None
    note: str | None
    sources: tuple[Source, ...]
    # 基本编码 of the national catalogue, where a source gives it.
    basic_code: str | None = None


@dataclass(frozen=True)
class Scenario:
    id: str
    name: str
    locality: str
    version: int
    sample: bool
    aliases: tuple[str, ...]
    route_labels: dict[str, str]
    questions: tuple[Question, ...]
    items: tuple[ScenarioItem, ...]
    materials: dict[str, Material]
    sources: tuple[Source, ...]
    locality_note: str | None = None
    # Optional: the department that leads the 一件事 and those that take part.
    lead_department: str | None = None
    cooperating_departments: tuple[str, ...] = ()

    def question(self, slot: str) -> Question | None:
        return next((q for q in self.questions if q.slot == slot), None)


def questions_to_ask(scenario: Scenario, answers: dict[str, Any]) -> list[Question]:
    """The questions that apply given the answers so far, in package order."""
    return [q for q in scenario.questions if q.ask_if.holds(answers)]


def applicable_items(scenario: Scenario, answers: dict[str, Any]) -> list[ScenarioItem]:
    """The items whose ``applies_if`` holds for ``answers``, in package order."""
    return [item for item in scenario.items if item.applies_if.holds(answers)]


def merged_materials(scenario: Scenario, items: list[ScenarioItem]) -> list[Material]:
    """Each common material of ``items`` once, in first-mentioned order.

    Route-specific materials (``route_materials``) are not merged: they depend
    on the route the applicant takes and are shown under their item.
    """
    seen: dict[str, Material] = {}
    for item in items:
        for material_id in item.materials or ():
            seen.setdefault(material_id, scenario.materials[material_id])
    return list(seen.values())
