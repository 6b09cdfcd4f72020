"""Scenario packages (一件事) as data: load, check, and apply them to answers.

``load_scenario(path)`` reads ``knowledge_base/data/scenarios/<id>.yml``;
``applicable_items`` and ``merged_materials`` say what a citizen needs.
Schema: docs/interfaces.md; authoring guide: docs/scenarios.md.
"""

from __future__ import annotations

from knowledge_base.scenarios.conditions import Comparison, Condition, parse_condition
from knowledge_base.scenarios.model import (
    Material,
    Option,
    Question,
    Scenario,
    ScenarioItem,
    Source,
    applicable_items,
    merged_materials,
    questions_to_ask,
)
from knowledge_base.scenarios.schema import (
    InvalidScenarioError,
    load_scenario,
    load_scenarios,
)

__all__ = [
    "Comparison",
    "Condition",
    "InvalidScenarioError",
    "Material",
    "Option",
    "Question",
    "Scenario",
    "ScenarioItem",
    "Source",
    "applicable_items",
    "load_scenario",
    "load_scenarios",
    "merged_materials",
    "parse_condition",
    "questions_to_ask",
]
