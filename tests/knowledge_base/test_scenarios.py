"""Scenario packages: loading, the applies_if language, merging, broken packages."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import yaml

from bot.settings import PROJECT_ROOT
from knowledge_base.scenarios import (
    InvalidScenarioError,
    applicable_items,
    load_scenario,
    load_scenarios,
    merged_materials,
    parse_condition,
    questions_to_ask,
)

SCENARIO_DIR = PROJECT_ROOT / "knowledge_base" / "data" / "scenarios"
RESTAURANT = SCENARIO_DIR / "restaurant.yml"
FACTS = "data/restaurant_opening_guide_facts/restaurant_items.json"
RESEARCH = PROJECT_ROOT / "docs" / "research" / "restaurant-items.md"


@pytest.fixture(scope="module")
def restaurant():
    return load_scenario(RESTAURANT)


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(RESTAURANT.read_text(encoding="utf-8"))


def write(tmp_path, data, name="restaurant.yml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


# --- the language -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "answers", "holds"),
    [
        ("always", {}, True),
        ("sells_tobacco == true", {"sells_tobacco": True}, True),
        ("sells_tobacco == true", {"sells_tobacco": False}, False),
        ("sells_tobacco == true", {}, False),
        ("sells_tobacco != true", {"sells_tobacco": False}, True),
        ("venue_area > 300", {"venue_area": 300.0}, False),
        ("venue_area >= 300", {"venue_area": 300.0}, True),
        ("venue_area < 50.5", {"venue_area": 50.0}, True),
        ("venue_area > 300", {"venue_area": True}, False),
        ("kind == company", {"kind": "company"}, True),
        ("a == true and b == true", {"a": True, "b": False}, False),
        ("a == true and b == true or c == true", {"a": False, "c": True}, True),
        ("a == true or b == true and c == true", {"a": False, "b": True}, False),
    ],
)
def test_conditions_evaluate_without_eval(text, answers, holds):
    assert parse_condition(text).holds(answers) is holds


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sells_tobacco",
        "sells_tobacco = true",
        "venue_area > big",
        "a == true and",
        "or a == true",
        "__import__('os') == 1",
        "a == true; b == true",
        "(a == true)",
    ],
)
def test_conditions_outside_the_language_are_refused(text):
    with pytest.raises(ValueError):
        parse_condition(text)


def brute_force_holds(groups, answers):
    """Oracle: an or of ands written as plain loops over (slot, value) pairs."""
    return any(all(answers.get(s) is v for s, v in group) for group in groups)


def test_conditions_agree_with_a_brute_force_oracle_over_all_answers():
    groups = [[("a", True), ("b", False)], [("c", True)]]
    condition = parse_condition("a == true and b == false or c == true")
    for values in itertools.product([True, False, None], repeat=3):
        answers = dict(zip("abc", values, strict=True))
        assert condition.holds(answers) is brute_force_holds(groups, answers)


# --- the restaurant package ---------------------------------------------------


def test_restaurant_package_loads_with_its_questions(restaurant):
    assert restaurant.id == "restaurant" and restaurant.sample is True
    assert [q.slot for q in restaurant.questions] == [
        "venue_area",
        "has_entertainment",
        "has_business_licence",
        "business_type",
        "sells_tobacco",
        "outdoor_sign",
    ]


def test_business_type_is_asked_only_without_a_licence(restaurant):
    asked = [
        q.slot for q in questions_to_ask(restaurant, {"has_business_licence": True})
    ]
    assert "business_type" not in asked
    asked = [
        q.slot for q in questions_to_ask(restaurant, {"has_business_licence": False})
    ]
    assert "business_type" in asked


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (
            {"venue_area": 120.0, "has_business_licence": True, "sells_tobacco": False},
            {"food_business_licence", "drainage_permit"},
        ),
        (
            {"venue_area": 300.0, "has_business_licence": True},
            {"food_business_licence", "fire_safety_check", "drainage_permit"},
        ),
        (
            {"venue_area": 60.0, "has_entertainment": True},
            {"food_business_licence", "fire_safety_check", "drainage_permit"},
        ),
        (
            {
                "venue_area": 450.0,
                "has_business_licence": False,
                "business_type": "individual",
                "sells_tobacco": True,
                "outdoor_sign": True,
            },
            {
                "business_licence_individual",
                "food_business_licence",
                "fire_safety_check",
                "drainage_permit",
                "outdoor_sign",
                "tobacco_retail_licence",
            },
        ),
        (
            {
                "venue_area": 80.0,
                "has_business_licence": False,
                "business_type": "company",
            },
            {"business_licence_company", "food_business_licence", "drainage_permit"},
        ),
    ],
)
def test_applicable_items_follow_the_answers(restaurant, answers, expected):
    assert {item.id for item in applicable_items(restaurant, answers)} == expected


def test_merged_materials_list_each_material_once(restaurant):
    items = applicable_items(
        restaurant, {"has_business_licence": True, "outdoor_sign": True}
    )
    mentioned = [m for item in items for m in item.materials or ()]
    assert mentioned.count("mat_business_licence") > 1
    merged = merged_materials(restaurant, items)
    assert [m.id for m in merged] == list(dict.fromkeys(mentioned))


def test_every_item_says_where_its_materials_come_from(restaurant):
    for item in restaurant.items:
        assert item.materials_note, item.id


def test_every_source_is_one_the_research_cites(restaurant, shared_dir):
    facts = json.loads((shared_dir / FACTS).read_text(encoding="utf-8"))
    known = {s["url"] for item in facts["items"] for s in item["sources"]}
    research = RESEARCH.read_text(encoding="utf-8")
    for item in restaurant.items:
        for source in item.sources:
            assert source.url in known or source.url in research, (item.id, source.url)


def test_load_scenarios_reads_the_directory_by_id():
    assert set(load_scenarios(SCENARIO_DIR)) >= {"restaurant"}


# --- broken packages fail loudly with file and field -------------------------


def broken(raw, mutate):
    data = copy.deepcopy(raw)
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("name"), "name"),
        (lambda d: d.update(colour="red"), "colour"),
        (lambda d: d.update(sample="yes"), "sample"),
        (
            lambda d: d["items"][0].update(applies_if="tobacco == true"),
            "items[0].applies_if",
        ),
        (lambda d: d["items"][0].update(applies_if="a ==="), "items[0].applies_if"),
        (
            lambda d: d["items"][0].update(applies_if="sells_tobacco > 3"),
            "items[0].applies_if",
        ),
        (
            lambda d: d["items"][0].update(applies_if="business_type == shop"),
            "items[0].applies_if",
        ),
        (lambda d: d["items"][1].update(routes=["express"]), "items[1].routes"),
        (
            lambda d: d["items"][1]["materials"].append("mat_nothing"),
            "items[1].materials",
        ),
        (
            lambda d: d["items"][0].update(materials=None, materials_note=None),
            "items[0].materials_note",
        ),
        (lambda d: d["items"][0].update(sources=[]), "items[0].sources"),
        (
            lambda d: d["items"][0]["sources"][0].update(url="ftp://x"),
            "items[0].sources[0].url",
        ),
        (lambda d: d["items"][0].update(promised_days="3天"), "items[0].promised_days"),
        (lambda d: d["items"][0].update(basic_code="营业执照"), "items[0].basic_code"),
        (lambda d: d["items"].append(dict(d["items"][0])), "items"),
        (lambda d: d["questions"][0].update(kind="number"), "questions[0].kind"),
        (lambda d: d["questions"][0].update(ask="ask_area"), "questions[0].ask"),
        (lambda d: d["questions"][0].pop("unit"), "questions[0].unit"),
        (lambda d: d["questions"][1].update(slot="venue_area"), "questions[1].slot"),
        (
            lambda d: d["questions"][3].update(ask_if="outdoor_sign == true"),
            "questions[3].ask_if",
        ),
        (
            lambda d: d["questions"][3]["options"][0].pop("aliases"),
            "questions[3].options[0].aliases",
        ),
        (
            lambda d: d["materials"].update(mat_x={"title": "x"}),
            "materials.mat_x.title",
        ),
        (lambda d: d["routes"].update(express="快办"), "routes.express"),
        (
            lambda d: d["items"][3]["route_materials"].update(
                express=["mat_floor_plans"]
            ),
            "items[3].route_materials",
        ),
    ],
)
def test_broken_package_names_file_and_field(tmp_path, raw, mutate, field):
    path = write(tmp_path, broken(raw, mutate))
    with pytest.raises(InvalidScenarioError) as error:
        load_scenario(path)
    assert error.value.field == field
    assert str(path) in str(error.value)


def test_an_item_may_carry_its_national_basic_code(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["items"][0]["basic_code"] = "000105002000"
    scenario = load_scenario(write(tmp_path, data))
    assert scenario.items[0].basic_code == "000105002000"
    assert scenario.items[1].basic_code is None


def test_unreadable_yaml_is_reported_as_the_file(tmp_path):
    path = tmp_path / "restaurant.yml"
    path.write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(InvalidScenarioError) as error:
        load_scenario(path)
    assert error.value.field == "<file>"


def test_a_package_must_be_a_mapping(tmp_path):
    with pytest.raises(InvalidScenarioError) as error:
        load_scenario(write(tmp_path, ["not", "a", "mapping"]))
    assert error.value.field == "<top>"


def test_file_name_must_match_the_id(tmp_path, raw):
    write(tmp_path, raw, name="cafe.yml")
    with pytest.raises(InvalidScenarioError) as error:
        load_scenarios(tmp_path)
    assert error.value.field == "id"


def test_an_empty_directory_is_an_error(tmp_path):
    with pytest.raises(InvalidScenarioError):
        load_scenarios(tmp_path)
