"""Case tables: for each shipped scenario, answers → the exact items and routes.

Each row is one citizen's answers (as the checker takes them) and the set of
``(item id, submitted route)`` pairs the package must give. Boundary rows sit
on a threshold (300 m² for the fire check) or leave a deciding question
unanswered (a comparison on an unanswered slot is false).
"""

from __future__ import annotations

import json

import pytest
import yaml

from bot.settings import PROJECT_ROOT
from knowledge_base import cli
from knowledge_base.scenarios import load_scenarios
from knowledge_base.scenarios.checker import (
    BadAnswersError,
    InvalidAnswerError,
    UnknownScenarioError,
    UnknownSlotError,
    check_answers,
    describe_questions,
    parse_answers,
    pick_scenario,
)

SCENARIO_DIR = PROJECT_ROOT / "knowledge_base" / "data" / "scenarios"
SHIPPED = {"restaurant", "birth", "company_opening", "convenience_store", "retirement"}


@pytest.fixture(scope="module")
def scenarios():
    return load_scenarios(SCENARIO_DIR)


def items_and_routes(scenario, answers: dict) -> set[tuple[str, str]]:
    result = check_answers(scenario, parse_answers(scenario, json.dumps(answers)))
    return {(item["id"], item["route"]) for item in result["items"]}


# --- 开餐馆 (restaurant) -------------------------------------------------------

FOOD, DRAIN = ("food_business_licence", "normal"), ("drainage_permit", "normal")
FIRE = ("fire_safety_check", "commitment")
RESTAURANT_CASES = [
    ({"venue_area": 120, "has_entertainment": False, "has_business_licence": True,
      "sells_tobacco": False, "outdoor_sign": False}, {FOOD, DRAIN}),
    ({"venue_area": 299.9, "has_entertainment": False, "has_business_licence": True},
     {FOOD, DRAIN}),
    ({"venue_area": 300, "has_entertainment": False, "has_business_licence": True},
     {FOOD, DRAIN, FIRE}),
    ({"venue_area": 0, "has_entertainment": True}, {FOOD, DRAIN, FIRE}),
    ({"venue_area": 80, "has_business_licence": False, "business_type": "individual",
      "sells_tobacco": True},
     {FOOD, DRAIN, ("business_licence_individual", "normal"),
      ("tobacco_retail_licence", "normal")}),
    ({"venue_area": 500, "has_business_licence": False, "business_type": "company",
      "outdoor_sign": True},
     {FOOD, DRAIN, FIRE, ("business_licence_company", "normal"),
      ("outdoor_sign", "normal")}),
    # business_type is not asked once a licence is held, so it is ignored.
    ({"has_business_licence": True, "business_type": "company"}, {FOOD, DRAIN}),
    ({}, {FOOD, DRAIN}),
]  # fmt: skip

# --- 新生儿出生 (birth) ---------------------------------------------------------

VACCINATION = ("vaccination_record", "normal")
BIRTH_CERT = ("birth_certificate", "normal")
OUTSIDE_CERT = ("birth_certificate_outside_facility", "normal")
SETTLE = {("birth_registration", "normal"), ("resident_medical_insurance", "normal")}
CARD = ("social_security_card", "normal")
BIRTH_CASES = [
    ({"born_in_facility": True, "settle_in_province": True,
      "wants_social_security_card": True}, {BIRTH_CERT, VACCINATION, *SETTLE, CARD}),
    ({"born_in_facility": True, "settle_in_province": True,
      "wants_social_security_card": False}, {BIRTH_CERT, VACCINATION, *SETTLE}),
    ({"born_in_facility": True, "settle_in_province": False},
     {BIRTH_CERT, VACCINATION}),
    ({"born_in_facility": False, "settle_in_province": True,
      "wants_social_security_card": True}, {OUTSIDE_CERT, VACCINATION, *SETTLE, CARD}),
    ({"born_in_facility": False, "settle_in_province": False},
     {OUTSIDE_CERT, VACCINATION}),
    # The card question is skipped when settling elsewhere: its answer is ignored.
    ({"born_in_facility": True, "settle_in_province": False,
      "wants_social_security_card": True}, {BIRTH_CERT, VACCINATION}),
    ({"born_in_facility": True}, {BIRTH_CERT, VACCINATION}),
    ({}, {VACCINATION}),
]  # fmt: skip

# --- 企业开办 (company_opening) -------------------------------------------------

LLC, JOINT = ("registration_llc", "normal"), ("registration_joint_stock", "normal")
SEAL, INVOICE = ("seal_engraving", "normal"), ("invoice_application", "normal")
STAFF = {("social_insurance_registration", "normal"),
         ("medical_insurance_registration", "normal")}  # fmt: skip
FUND, BANK = ("housing_fund_registration", "normal"), ("bank_account_booking", "normal")
ALL_NO = {"needs_seal": False, "needs_invoices": False, "has_employees": False,
          "opens_housing_fund": False, "books_bank_account": False}  # fmt: skip
ALL_YES = {key: True for key in ALL_NO}
COMPANY_CASES = [
    ({"company_form": "llc", **ALL_NO}, {LLC}),
    ({"company_form": "joint_stock", **ALL_NO}, {JOINT}),
    ({"company_form": "llc", **ALL_YES}, {LLC, SEAL, INVOICE, *STAFF, FUND, BANK}),
    ({"company_form": "joint_stock", **ALL_YES},
     {JOINT, SEAL, INVOICE, *STAFF, FUND, BANK}),
    ({"company_form": "llc", **ALL_NO, "has_employees": True}, {LLC, *STAFF}),
    ({"company_form": "llc", **ALL_NO, "needs_seal": True, "needs_invoices": True},
     {LLC, SEAL, INVOICE}),
    ({"company_form": "llc", **ALL_NO, "opens_housing_fund": True}, {LLC, FUND}),
    # A label or alias of the option is read as the option.
    ({"company_form": "股份公司", **ALL_NO, "books_bank_account": True}, {JOINT, BANK}),
    ({}, set()),
]  # fmt: skip

# --- 开小卖部/便利店 (convenience_store) -----------------------------------------

INDIVIDUAL = ("business_licence_individual", "normal")
COMPANY = ("business_licence_company", "normal")
RECORD = ("prepackaged_food_record", "normal")
FOOD_SALES = ("food_business_licence", "normal")
TOBACCO = ("tobacco_retail_licence", "normal")
STORE_CASES = [
    ({"has_business_licence": False, "business_type": "individual",
      "food_scope": "prepackaged_only", "sells_tobacco": True},
     {INDIVIDUAL, RECORD, TOBACCO}),
    ({"has_business_licence": False, "business_type": "individual",
      "food_scope": "prepackaged_only", "sells_tobacco": False}, {INDIVIDUAL, RECORD}),
    ({"has_business_licence": False, "business_type": "company",
      "food_scope": "bulk_or_cooked", "sells_tobacco": True},
     {COMPANY, FOOD_SALES, TOBACCO}),
    ({"has_business_licence": True, "food_scope": "bulk_or_cooked",
      "sells_tobacco": False}, {FOOD_SALES}),
    ({"has_business_licence": True, "food_scope": "no_food", "sells_tobacco": True},
     {TOBACCO}),
    ({"has_business_licence": True, "food_scope": "no_food", "sells_tobacco": False},
     set()),
    # Holding a licence already: business_type is not asked, so it is ignored.
    ({"has_business_licence": True, "business_type": "individual",
      "food_scope": "prepackaged_only"}, {RECORD}),
    ({"has_business_licence": False}, set()),
]  # fmt: skip

# --- 退休 (retirement) ----------------------------------------------------------

PENSION = ("pension_claim", "normal")
SPECIAL = ("early_retirement_special_work", "normal")
ILLNESS = ("early_retirement_illness", "normal")
ONE_OFF = ("one_off_pension", "normal")
PUBLIC = ("public_pension_claim", "normal")
ENTERPRISE = {"insurance_scheme": "enterprise"}
RETIREMENT_CASES = [
    ({**ENTERPRISE, "retirement_kind": "normal", "meets_monthly_conditions": True},
     {PENSION}),
    ({**ENTERPRISE, "retirement_kind": "special_work",
      "meets_monthly_conditions": True}, {PENSION, SPECIAL}),
    ({**ENTERPRISE, "retirement_kind": "illness", "meets_monthly_conditions": True},
     {PENSION, ILLNESS}),
    ({**ENTERPRISE, "retirement_kind": "normal", "meets_monthly_conditions": False},
     {ONE_OFF}),
    ({**ENTERPRISE, "retirement_kind": "病退", "meets_monthly_conditions": False},
     {ONE_OFF, ILLNESS}),
    ({**ENTERPRISE, "retirement_kind": "特殊工种"}, {SPECIAL}),
    ({"insurance_scheme": "public_institution"}, {PUBLIC}),
    # The enterprise questions are not asked of public institutions: ignored.
    ({"insurance_scheme": "事业单位", "retirement_kind": "special_work",
      "meets_monthly_conditions": False}, {PUBLIC}),
    ({}, set()),
]  # fmt: skip

CASES = {
    "restaurant": RESTAURANT_CASES,
    "birth": BIRTH_CASES,
    "company_opening": COMPANY_CASES,
    "convenience_store": STORE_CASES,
    "retirement": RETIREMENT_CASES,
}


@pytest.mark.parametrize(
    ("scenario_id", "answers", "expected"),
    [
        pytest.param(scenario_id, answers, expected, id=f"{scenario_id}-{index}")
        for scenario_id, rows in CASES.items()
        for index, (answers, expected) in enumerate(rows)
    ],
)
def test_case_table(scenarios, scenario_id, answers, expected):
    assert items_and_routes(scenarios[scenario_id], answers) == expected


def test_every_scenario_has_a_case_table_of_six_or_more():
    assert set(CASES) == SHIPPED
    assert all(len(rows) >= 6 for rows in CASES.values())


# --- every shipped package ------------------------------------------------------


def test_every_shipped_package_loads(scenarios):
    assert set(scenarios) == SHIPPED


@pytest.mark.parametrize("scenario_id", sorted(SHIPPED))
def test_every_item_is_sourced_and_says_where_materials_come_from(
    scenarios, scenario_id
):
    scenario = scenarios[scenario_id]
    assert scenario.sample is True
    assert scenario.locality_note
    for item in scenario.items:
        assert item.sources, item.id
        assert item.materials is not None or item.materials_note, item.id


@pytest.mark.parametrize("scenario_id", sorted(SHIPPED))
def test_every_item_can_apply_to_some_case(scenarios, scenario_id):
    seen = set().union(*(ids for _, ids in CASES[scenario_id]))
    assert {item_id for item_id, _ in seen} == {
        i.id for i in scenarios[scenario_id].items
    }


def test_no_alias_names_two_scenarios(scenarios):
    # The dialogue picks a scenario when exactly one package's alias is in the
    # message; an alias inside another package's alias would make that ambiguous.
    owners = [(alias, s.id) for s in scenarios.values() for alias in s.aliases]
    clashes = [
        (a, b)
        for a, owner_a in owners
        for b, owner_b in owners
        if owner_a != owner_b and a in b
    ]
    assert clashes == []


def test_domain_declares_every_question(scenarios):
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    required = domain["forms"]["scenario_form"]["required_slots"]
    for scenario in scenarios.values():
        for question in scenario.questions:
            assert question.slot in domain["slots"], question.slot
            assert question.slot in required, question.slot
            assert question.ask in domain["responses"], question.ask
            assert question.invalid in domain["responses"], question.invalid


def test_the_scenario_question_lists_every_scenario(scenarios):
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    payloads = [
        b["payload"] for b in domain["responses"]["utter_ask_scenario"][0]["buttons"]
    ]
    picked = {
        next(s.id for s in scenarios.values() if any(a in p for a in s.aliases))
        for p in payloads
    }
    assert picked == SHIPPED


# --- the checker ---------------------------------------------------------------


def test_check_explains_why_each_item_applies(scenarios):
    restaurant = scenarios["restaurant"]
    result = check_answers(restaurant, {"venue_area": 300.0, "sells_tobacco": True})
    why = {item["id"]: item["why"] for item in result["items"]}
    assert why["food_business_licence"] == "always"
    assert why["fire_safety_check"] == "venue_area >= 300 (venue_area=300)"
    assert why["tobacco_retail_licence"] == "sells_tobacco == true (sells_tobacco=true)"
    fire = next(i for i in result["items"] if i["id"] == "fire_safety_check")
    assert [r["id"] for r in fire["routes"]] == ["commitment", "normal"]
    assert fire["route_materials"]["commitment"] == ["mat_fire_commitment_letter"]


def test_check_merges_materials_once_and_lists_what_is_unanswered(scenarios):
    result = check_answers(scenarios["restaurant"], {"venue_area": 300.0})
    ids = [m["id"] for m in result["materials"]]
    assert len(ids) == len(set(ids))
    assert "mat_business_licence" in ids
    assert "has_entertainment" in result["unanswered"]
    assert "business_type" not in result["unanswered"]  # asked only without licence


def test_check_lists_answers_to_questions_not_asked(scenarios):
    birth = scenarios["birth"]
    answers = {"settle_in_province": False, "wants_social_security_card": True}
    result = check_answers(birth, answers)
    assert result["ignored_answers"] == ["wants_social_security_card"]
    assert "wants_social_security_card" not in result["answers"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{", BadAnswersError),
        ("[1, 2]", BadAnswersError),
        ('{"colour": "red"}', UnknownSlotError),
        ('{"venue_area": "big"}', InvalidAnswerError),
        ('{"venue_area": -1}', InvalidAnswerError),
        ('{"venue_area": true}', InvalidAnswerError),
        ('{"sells_tobacco": "yes"}', InvalidAnswerError),
        ('{"business_type": "partnership"}', InvalidAnswerError),
    ],
)
def test_bad_answers_are_refused(scenarios, text, error):
    with pytest.raises(error):
        parse_answers(scenarios["restaurant"], text)


def test_unknown_scenario_is_refused(scenarios):
    with pytest.raises(UnknownScenarioError):
        pick_scenario(scenarios, "bakery")


def test_questions_say_what_each_accepts(scenarios):
    view = describe_questions(scenarios["restaurant"])
    by_slot = {q["slot"]: q for q in view["questions"]}
    assert by_slot["venue_area"]["accepts"] == "a number >= 0, in 平方米"
    assert by_slot["sells_tobacco"]["accepts"] == [True, False]
    assert by_slot["business_type"]["ask_if"] == "has_business_licence == false"
    values = [o["value"] for o in by_slot["business_type"]["accepts"]]
    assert values == ["individual", "company"]


# --- the commands ----------------------------------------------------------------


def run(capsys, *argv):
    code = cli.main(["--help"] if not argv else [*argv, "--dir", str(SCENARIO_DIR)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_scenario_check_command_prints_json(capsys):
    code, out, err = run(
        capsys, "scenario-check", "convenience_store",
        '{"has_business_licence": true, "food_scope": "prepackaged_only",'
        ' "sells_tobacco": true}',
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert {i["id"] for i in result["items"]} == {
        "prepackaged_food_record",
        "tobacco_retail_licence",
    }
    assert [m["id"] for m in result["materials"]][:1] == ["mat_tobacco_application"]


def test_scenario_questions_command_lists_every_scenario(capsys):
    code, out, _ = run(capsys, "scenario-questions")
    assert code == 0
    assert [view["scenario"] for view in json.loads(out)] == sorted(SHIPPED)
    code, out, _ = run(capsys, "scenario-questions", "birth")
    assert [q["slot"] for q in json.loads(out)[0]["questions"]] == [
        "born_in_facility",
        "settle_in_province",
        "wants_social_security_card",
    ]


@pytest.mark.parametrize(
    ("argv", "code_word"),
    [
        (["scenario-check", "bakery", "{}"], "kb_unknown_scenario"),
        (["scenario-check", "birth", "{"], "kb_bad_answers"),
        (["scenario-check", "birth", '{"venue_area": 1}'], "kb_unknown_slot"),
        (["scenario-check", "birth", '{"born_in_facility": 1}'], "kb_invalid_answer"),
        (["scenario-questions", "bakery"], "kb_unknown_scenario"),
    ],
)
def test_checker_errors_are_one_line_and_exit_2(capsys, argv, code_word):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith(f"error [{code_word}]: ")
    assert err.count("\n") == 1
