"""Reading a scenario package from YAML and checking every field.

A broken package fails loudly: :class:`InvalidScenarioError` names the file
and the field (``items[2].applies_if``) and what is wrong with it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from knowledge_base.errors import InvalidDataError
from knowledge_base.input_files import read_yaml
from knowledge_base.scenarios.conditions import (
    EQUALITY_OPS,
    SLOT_NAME,
    Comparison,
    Condition,
    parse_condition,
)
from knowledge_base.scenarios.model import (
    Material,
    Option,
    Question,
    Scenario,
    ScenarioItem,
    Source,
)

# area: a number of ㎡; yes_no; choice: one of ``options``; district: one of
# ``options`` when given, else a name ending in 区/县/市…; date: a calendar date
# (relative dates are refused); id_number: 身份证号 (GB 11643 check digit);
# credit_code: 统一社会信用代码 (GB 32100 check character); phone: a mobile number.
# Only area, yes_no, choice and district-with-options can appear in conditions.
QUESTION_KINDS = frozenset(
    {
        "area",
        "yes_no",
        "choice",
        "district",
        "date",
        "id_number",
        "credit_code",
        "phone",
    }
)
_OPTION_KINDS = frozenset({"choice", "district"})
ROUTE_IDS = frozenset({"normal", "commitment"})
_PACKAGE_FIELDS = {
    "id", "name", "aliases", "locality", "locality_note", "version", "sample",
    "last_checked", "sources", "routes", "questions", "items", "materials",
    "lead_department", "cooperating_departments",
}  # fmt: skip
_QUESTION_FIELDS = {
    "slot", "kind", "label", "ask", "invalid", "ask_if", "unit", "yes_label",
    "no_label", "yes_words", "no_words", "options",
}  # fmt: skip
_ITEM_FIELDS = {
    "id", "name", "department", "applies_if", "routes", "materials",
    "route_materials", "materials_note", "promised_days", "legal_days",
    "time_note", "fee", "note", "sources", "basic_code",
}  # fmt: skip
# 基本编码 as the national catalogue writes it: capitals, digits and hyphens.
_BASIC_CODE = re.compile(r"^[0-9A-Z-]{6,40}$")


class InvalidScenarioError(InvalidDataError):
    """A scenario package breaks the schema in docs/interfaces.md.

    Attributes:
        path: the package file (or directory).
        field: where in the package, e.g. ``items[2].applies_if``.
        problem: what is wrong, in English, for the developer.
    """

    code = "kb_invalid_scenario"

    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        super().__init__(f"{path}: {field}: {problem}")
        self.path = str(path)
        self.field = field
        self.problem = problem


def load_scenario(path: Path | str) -> Scenario:
    """Read and check one package.

    Raises:
        InvalidScenarioError: unreadable YAML, a missing or unknown field, a bad
            condition, or a reference to an unknown slot, route or material.
    """
    path = Path(path)
    try:
        raw = read_yaml(path)
    except InvalidDataError as exc:
        raise InvalidScenarioError(path, "<file>", f"cannot be read: {exc}") from exc
    return build_scenario(path, raw)


def load_scenarios(directory: Path | str) -> dict[str, Scenario]:
    """Every ``*.yml`` package in ``directory``, by id.

    Raises:
        InvalidScenarioError: a package is broken, an id differs from its file
            name, or the directory holds no package.
    """
    directory = Path(directory)
    scenarios: dict[str, Scenario] = {}
    for path in sorted(directory.glob("*.yml")):
        scenario = load_scenario(path)
        if scenario.id != path.stem:
            raise InvalidScenarioError(
                path, "id", f"must equal the file name {path.stem!r}"
            )
        scenarios[scenario.id] = scenario
    if not scenarios:
        raise InvalidScenarioError(directory, "<directory>", "holds no *.yml package")
    return scenarios


def build_scenario(path: Path, raw: Any) -> Scenario:
    """Check a package read from ``path`` and build its dataclasses."""
    fields = _Fields(path, "", raw, _PACKAGE_FIELDS)
    scenario_id = fields.word("id")
    if not isinstance(raw.get("sample"), bool):
        raise InvalidScenarioError(path, "sample", "must be true or false")
    route_labels = _route_labels(path, raw.get("routes"))
    materials = _materials(path, raw.get("materials"))

    questions: dict[str, Question] = {}
    for index, entry in enumerate(fields.items("questions")):
        question = _question(path, f"questions[{index}]", entry, questions)
        questions[question.slot] = question

    context = _Context(route_labels, materials, questions)
    items = [
        _item(path, f"items[{index}]", entry, context)
        for index, entry in enumerate(fields.items("items"))
    ]
    if len({item.id for item in items}) != len(items):
        raise InvalidScenarioError(path, "items", "item ids must be unique")

    return Scenario(
        id=scenario_id,
        name=fields.text("name"),
        locality=fields.text("locality"),
        version=fields.number("version") or 1,
        sample=raw["sample"],
        aliases=fields.texts("aliases"),
        route_labels=route_labels,
        questions=tuple(questions.values()),
        items=tuple(items),
        materials=materials,
        sources=_sources(path, "sources", raw.get("sources")),
        locality_note=fields.text("locality_note", required=False),
        lead_department=fields.text("lead_department", required=False),
        cooperating_departments=fields.texts("cooperating_departments", required=False)
        or (),
    )


class _Fields:
    """Reads one mapping of a package, naming ``where`` in every error."""

    def __init__(self, path: Path, where: str, raw: Any, allowed: set[str]) -> None:
        if not isinstance(raw, dict):
            raise InvalidScenarioError(path, where or "<top>", "must be a mapping")
        unknown = sorted(str(key) for key in set(raw) - allowed)
        if unknown:
            raise InvalidScenarioError(
                path, self._join(where, unknown[0]), "unknown field"
            )
        self.path, self.where, self.raw = path, where, raw

    @staticmethod
    def _join(where: str, key: str) -> str:
        return f"{where}.{key}" if where else key

    def name(self, key: str) -> str:
        return self._join(self.where, key)

    def fail(self, key: str, problem: str) -> InvalidScenarioError:
        return InvalidScenarioError(self.path, self.name(key), problem)

    def text(self, key: str, required: bool = True) -> str | None:
        value = self.raw.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty text")
        return value.strip()

    def word(self, key: str) -> str:
        value = self.text(key)
        if not SLOT_NAME.match(value):
            raise self.fail(key, "must be a snake_case word")
        return value

    def number(self, key: str) -> int | None:
        value = self.raw.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int)
        ):
            raise self.fail(key, "must be a whole number or null")
        return value

    def items(self, key: str) -> list[Any]:
        value = self.raw.get(key)
        if not isinstance(value, list) or not value:
            raise self.fail(key, "must be a non-empty list")
        return value

    def texts(self, key: str, required: bool = True) -> tuple[str, ...] | None:
        if self.raw.get(key) is None and not required:
            return None
        values = self.items(key)
        if not all(isinstance(value, str) and value.strip() for value in values):
            raise self.fail(key, "must list non-empty texts")
        return tuple(value.strip() for value in values)

    def condition(self, key: str, questions: dict[str, Question]) -> Condition:
        try:
            condition = parse_condition(str(self.raw.get(key, "always")))
        except ValueError as exc:
            raise self.fail(key, str(exc)) from exc
        for group in condition.any_of:
            for comparison in group:
                _check_comparison(self, key, comparison, questions)
        return condition


class _Context:
    """What the items of a package may refer to."""

    def __init__(self, routes: dict, materials: dict, questions: dict) -> None:
        self.routes, self.materials, self.questions = routes, materials, questions


def _check_comparison(
    fields: _Fields, key: str, comparison: Comparison, questions: dict[str, Question]
) -> None:
    question = questions.get(comparison.slot)
    if question is None:
        raise fields.fail(key, f"no earlier question sets {comparison.slot!r}")
    value = comparison.value
    if question.kind == "yes_no":
        fits = isinstance(value, bool) and comparison.op in EQUALITY_OPS
    elif question.kind == "area":
        fits = isinstance(value, float)
    elif question.kind not in _OPTION_KINDS or not question.options:
        fits = False
    else:
        options = {option.value for option in question.options}
        fits = comparison.op in EQUALITY_OPS and value in options
    if not fits:
        raise fields.fail(
            key,
            f"{comparison.slot} is a {question.kind} question; "
            f"cannot test '{comparison.op} {value}'",
        )


def _sources(path: Path, where: str, raw: Any) -> tuple[Source, ...]:
    if not isinstance(raw, list) or not raw:
        raise InvalidScenarioError(path, where, "must list at least one source")
    sources = []
    for index, entry in enumerate(raw):
        fields = _Fields(path, f"{where}[{index}]", entry, {"url", "title"})
        url = fields.text("url")
        if not url.startswith(("http://", "https://")):
            raise fields.fail("url", "must be an http(s) address")
        sources.append(Source(url=url, title=fields.text("title")))
    return tuple(sources)


def _route_labels(path: Path, raw: Any) -> dict[str, str]:
    fields = _Fields(path, "routes", raw, set(ROUTE_IDS))
    return {route: fields.text(route) for route in raw}


def _materials(path: Path, raw: Any) -> dict[str, Material]:
    if not isinstance(raw, dict) or not raw:
        raise InvalidScenarioError(path, "materials", "must map material ids to names")
    materials = {}
    for key, value in raw.items():
        fields = _Fields(path, f"materials.{key}", value, {"name", "note"})
        materials[str(key)] = Material(
            id=str(key),
            name=fields.text("name"),
            note=fields.text("note", required=False),
        )
    return materials


def _question(
    path: Path, where: str, raw: Any, earlier: dict[str, Question]
) -> Question:
    fields = _Fields(path, where, raw, _QUESTION_FIELDS)
    slot, kind = fields.word("slot"), fields.text("kind")
    if slot in earlier:
        raise fields.fail("slot", f"{slot!r} is asked twice")
    if kind not in QUESTION_KINDS:
        raise fields.fail("kind", f"must be one of {sorted(QUESTION_KINDS)}")
    for key in ("ask", "invalid"):
        if not fields.text(key).startswith("utter_"):
            raise fields.fail(key, "must name an utter_ response in domain.yml")
    options: tuple[Option, ...] = ()
    if kind == "choice" or (kind == "district" and raw.get("options") is not None):
        options = tuple(
            _option(path, f"{where}.options[{index}]", entry)
            for index, entry in enumerate(fields.items("options"))
        )
    return Question(
        slot=slot,
        kind=kind,
        label=fields.text("label"),
        ask=fields.text("ask"),
        invalid=fields.text("invalid"),
        ask_if=fields.condition("ask_if", earlier),
        unit=fields.text("unit", required=kind == "area"),
        yes_label=fields.text("yes_label", required=kind == "yes_no"),
        no_label=fields.text("no_label", required=kind == "yes_no"),
        yes_words=_answer_words(fields, kind, "yes_words"),
        no_words=_answer_words(fields, kind, "no_words"),
        options=options,
    )


def _answer_words(fields: _Fields, kind: str, key: str) -> tuple[str, ...]:
    if fields.raw.get(key) is None:
        return ()
    if kind != "yes_no":
        raise fields.fail(key, "only a yes_no question has answer words")
    return fields.texts(key)


def _option(path: Path, where: str, raw: Any) -> Option:
    fields = _Fields(path, where, raw, {"value", "label", "aliases"})
    return Option(
        value=fields.word("value"),
        label=fields.text("label"),
        aliases=fields.texts("aliases"),
    )


def _item(path: Path, where: str, raw: Any, context: _Context) -> ScenarioItem:
    fields = _Fields(path, where, raw, _ITEM_FIELDS)
    routes = fields.texts("routes")
    unknown_routes = [route for route in routes if route not in context.routes]
    if unknown_routes:
        raise fields.fail("routes", f"unknown route {unknown_routes[0]!r}")
    materials = fields.texts("materials", required=False)
    materials_note = fields.text("materials_note", required=False)
    if materials is None and materials_note is None:
        raise fields.fail("materials_note", "required when materials is null")
    route_materials = _route_materials(fields, routes)
    mentioned = [
        *(materials or ()),
        *(m for ms in route_materials.values() for m in ms),
    ]
    unknown = [material for material in mentioned if material not in context.materials]
    if unknown:
        raise fields.fail("materials", f"unknown material {unknown[0]!r}")

    return ScenarioItem(
        id=fields.word("id"),
        name=fields.text("name"),
        department=fields.text("department"),
        applies_if=fields.condition("applies_if", context.questions),
        routes=routes,
        materials=materials,
        route_materials=route_materials,
        materials_note=materials_note,
        promised_days=fields.number("promised_days"),
        legal_days=fields.number("legal_days"),
        time_note=fields.text("time_note", required=False),
        fee=fields.text("fee", required=False),
        note=fields.text("note", required=False),
        sources=_sources(path, fields.name("sources"), raw.get("sources")),
        basic_code=_basic_code(fields),
    )


def _basic_code(fields: _Fields) -> str | None:
    code = fields.text("basic_code", required=False)
    if code is not None and not _BASIC_CODE.match(code):
        raise fields.fail("basic_code", "must be 6-40 capitals, digits or hyphens")
    return code


def _route_materials(fields: _Fields, routes: tuple[str, ...]) -> dict:
    raw = fields.raw.get("route_materials") or {}
    if not isinstance(raw, dict) or any(route not in routes for route in raw):
        raise fields.fail("route_materials", "must map this item's routes to lists")
    result = {}
    for route, ids in raw.items():
        inner = _Fields(
            fields.path, fields.name("route_materials"), {route: ids}, {route}
        )
        result[route] = inner.texts(route)
    return result
