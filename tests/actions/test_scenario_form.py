"""validate_scenario_form: required slots from the package, answers, re-asks."""

from __future__ import annotations

import pytest
from rasa_sdk import Tracker

from actions.scenario_flow import (
    ActionCancelScenario,
    ActionResetAnswers,
    ActionResumeScenario,
    ActionShowChecklist,
    ActionStartScenario,
)
from actions.scenario_form import ValidateScenarioForm, match_scenario
from tests.actions.conftest import make_tracker, responses, slot_events

DOMAIN = {
    "forms": {
        "scenario_form": {
            "required_slots": [
                "scenario",
                "venue_area",
                "has_entertainment",
                "has_business_licence",
                "business_type",
                "sells_tobacco",
                "outdoor_sign",
            ]
        }
    }
}


EARLIER = {"venue_area": 80.0, "has_entertainment": False, "has_business_licence": True}


async def validate(dispatcher, text, slot, intent="inform", slots=None):
    earlier = {key: value for key, value in EARLIER.items() if key != slot}
    tracker = make_tracker(
        text,
        intent=intent,
        slots={"scenario": "restaurant", **earlier, **(slots or {})},
        new_slots={slot: text},
        requested_slot=slot,
    )
    return await ValidateScenarioForm().run(dispatcher, tracker, DOMAIN)


@pytest.mark.parametrize(
    ("slot", "text", "value"),
    [
        ("venue_area", "一百二十平", 120.0),
        ("venue_area", "三百多平", 300.0),
        ("has_business_licence", "还没有", False),
        ("business_type", "个体户", "individual"),
        ("sells_tobacco", "不卖", False),
        ("outdoor_sign", "要挂", True),
    ],
)
async def test_readable_answers_are_kept(dispatcher, slot, text, value):
    events = await validate(
        dispatcher, text, slot, slots={"has_business_licence": False}
    )
    assert slot_events(events)[slot] == value
    assert dispatcher.messages == []


async def test_a_short_answer_is_kept_whatever_intent_the_nlu_guessed(dispatcher):
    events = await validate(
        dispatcher,
        "个体户",
        "business_type",
        intent="ask_question",
        slots={"has_business_licence": False},
    )
    assert slot_events(events)["business_type"] == "individual"


@pytest.mark.parametrize(("text", "value"), [("/affirm", True), ("/deny", False)])
async def test_a_payload_intent_answers_a_yes_no_question(dispatcher, text, value):
    intent = text.removeprefix("/")
    events = await validate(dispatcher, text, "sells_tobacco", intent=intent)
    assert slot_events(events)["sells_tobacco"] is value


async def test_a_typed_answer_is_never_read_from_the_intent_alone(dispatcher):
    events = await validate(dispatcher, "很大", "sells_tobacco", intent="affirm")
    assert slot_events(events)["sells_tobacco"] is None
    assert responses(dispatcher) == ["utter_invalid_yes_no"]


@pytest.mark.parametrize(
    ("slot", "text", "reprompt"),
    [
        ("venue_area", "挺大的", "utter_invalid_area"),
        ("has_business_licence", "不知道", "utter_invalid_yes_no"),
        ("business_type", "都行", "utter_invalid_business_type"),
    ],
)
async def test_unreadable_answers_are_re_asked_with_what_is_expected(
    dispatcher, slot, text, reprompt
):
    events = await validate(
        dispatcher, text, slot, slots={"has_business_licence": False}
    )
    assert responses(dispatcher) == [reprompt]
    assert slot_events(events)[slot] is None


async def test_a_question_mid_form_steps_aside_for_the_rules(dispatcher):
    events = await validate(
        dispatcher, "社保怎么交", "venue_area", intent="ask_question"
    )
    rejected = [e for e in events if e["event"] == "action_execution_rejected"]
    assert [e["name"] for e in rejected] == ["scenario_form"]
    assert slot_events(events)["venue_area"] is None
    assert dispatcher.messages == []


@pytest.mark.parametrize("intent", ["cancel", "request_agent", "change_answers"])
async def test_a_confident_command_wins_over_a_readable_answer(dispatcher, intent):
    events = await validate(dispatcher, "不办了", "has_business_licence", intent=intent)
    assert any(e["event"] == "action_execution_rejected" for e in events)
    assert slot_events(events)["has_business_licence"] is None


async def test_an_unsure_command_does_not_override_the_answer(dispatcher):
    tracker = make_tracker(
        "没有",
        intent="cancel",
        slots={
            "scenario": "restaurant",
            "venue_area": 80.0,
            "has_entertainment": False,
        },
        new_slots={"has_business_licence": "没有"},
        requested_slot="has_business_licence",
    )
    tracker.latest_message["intent"]["confidence"] = 0.5
    events = await ValidateScenarioForm().run(dispatcher, tracker, DOMAIN)
    assert slot_events(events)["has_business_licence"] is False


async def test_business_type_is_skipped_when_a_licence_is_held(dispatcher):
    events = await validate(dispatcher, "有", "has_business_licence")
    assert slot_events(events)["requested_slot"] == "sells_tobacco"


async def test_business_type_is_asked_when_no_licence_is_held(dispatcher):
    events = await validate(dispatcher, "没有", "has_business_licence")
    tracker = make_tracker(slots={"scenario": "restaurant", **slot_events(events)})
    required = await ValidateScenarioForm().required_slots([], dispatcher, tracker, {})
    assert required.index("business_type") == required.index("has_business_licence") + 1


async def test_form_ends_when_every_applicable_question_is_answered(dispatcher):
    answered = {
        "venue_area": 80.0,
        "has_business_licence": True,
        "sells_tobacco": False,
    }
    events = await validate(dispatcher, "不挂", "outdoor_sign", slots=answered)
    assert slot_events(events)["requested_slot"] is None


async def test_scenario_named_in_free_text_is_recognised(dispatcher):
    tracker = make_tracker(
        "开个火锅店", new_slots={"scenario": "开个火锅店"}, requested_slot="scenario"
    )
    events = await ValidateScenarioForm().run(dispatcher, tracker, DOMAIN)
    assert slot_events(events)["scenario"] == "restaurant"
    assert slot_events(events)["requested_slot"] == "venue_area"


async def test_an_entity_cut_short_falls_back_to_the_message(dispatcher):
    tracker = make_tracker(
        "我想注册一家公司", new_slots={"scenario": "公司"}, requested_slot="scenario"
    )
    events = await ValidateScenarioForm().run(dispatcher, tracker, DOMAIN)
    assert slot_events(events)["scenario"] == "company_opening"


async def test_unknown_scenario_is_re_asked(dispatcher):
    tracker = make_tracker(
        "开网吧", new_slots={"scenario": "开网吧"}, requested_slot="scenario"
    )
    events = await ValidateScenarioForm().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_invalid_scenario"]
    assert slot_events(events)["scenario"] is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("restaurant", "restaurant"),
        ("饭店", "restaurant"),
        ("我想注册一家公司", "company_opening"),
        ("想开个小卖部", "convenience_store"),
        ("孩子出生了要办什么", "birth"),
        ("我下个月办退休", "retirement"),
        ("开网吧", None),
        (None, None),
    ],
)
def test_match_scenario(scenarios, value, expected):
    assert match_scenario(value, scenarios) == expected


async def test_start_gives_a_fresh_run_and_clears_old_answers(dispatcher):
    tracker = make_tracker(
        "我想开饭店",
        intent="start_scenario",
        slots={"venue_area": 99.0, "id_number": "x", "application_no": "ZW1"},
        entities=[{"entity": "scenario", "value": "restaurant"}],
    )
    first = slot_events(await ActionStartScenario().run(dispatcher, tracker, {}))
    second = slot_events(await ActionStartScenario().run(dispatcher, tracker, {}))
    assert first["scenario"] == "restaurant"
    assert first["venue_area"] is None and first["id_number"] is None
    assert first["application_no"] is None
    assert first["requested_slot"] is None
    assert first["scenario_instance_id"] != second["scenario_instance_id"]
    assert responses(dispatcher)[0] == "utter_scenario_intro"


async def test_start_reads_the_text_when_the_entity_is_cut_badly(dispatcher):
    tracker = make_tracker(
        "我想开个小餐馆",
        intent="start_scenario",
        entities=[{"entity": "scenario", "value": "小餐"}],
    )
    events = slot_events(await ActionStartScenario().run(dispatcher, tracker, {}))
    assert events["scenario"] == "restaurant"
    assert responses(dispatcher) == ["utter_scenario_intro"]


async def test_start_without_a_known_scenario_leaves_the_form_to_ask(dispatcher):
    tracker = make_tracker("我想办一件事", intent="start_scenario")
    events = slot_events(await ActionStartScenario().run(dispatcher, tracker, {}))
    assert events["scenario"] is None
    assert dispatcher.messages == []


async def test_reset_keeps_the_run_id_and_clears_the_answers(dispatcher):
    tracker = make_tracker(
        "修改回答",
        slots={
            "scenario": "restaurant",
            "scenario_instance_id": "run-1",
            "venue_area": 80.0,
            "confirm_submission": False,
        },
    )
    events = await ActionResetAnswers().run(dispatcher, tracker, {})
    slots = slot_events(events)
    assert slots["venue_area"] is None and slots["confirm_submission"] is None
    assert "scenario_instance_id" not in slots
    assert responses(dispatcher) == ["utter_answers_reset"]
    followups = [e["name"] for e in events if e.get("event") == "followup"]
    assert followups == ["scenario_form"]


async def test_reset_without_a_scenario_says_nothing_to_submit(dispatcher):
    events = await ActionResetAnswers().run(dispatcher, make_tracker("修改回答"), {})
    assert responses(dispatcher) == ["utter_nothing_to_submit"]
    # No form to restart: 修改回答 twice once looped on an empty form.
    assert all(event.get("event") != "followup" for event in events)


@pytest.mark.parametrize("intent", ["inform", "check_status"])
async def test_a_stray_scenario_entity_mid_form_keeps_the_run_and_checks_the_answer(
    dispatcher, intent
):
    text = "改成：我没有电话号码，编号ZW20261204413161"
    events = [
        {"event": "slot", "name": "scenario", "value": "restaurant"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text},
        {"event": "slot", "name": "scenario", "value": "："},
        {"event": "slot", "name": "has_entertainment", "value": text},
    ]
    slots = {
        "requested_slot": "has_entertainment",
        "scenario": "：",
        "venue_area": 120.0,
        "has_entertainment": text,
    }
    latest = {"text": text, "intent": {"name": intent}, "entities": []}
    tracker = Tracker("citizen-1", slots, latest, events, False, None, {}, "")

    result = await ValidateScenarioForm().run(dispatcher, tracker, DOMAIN)

    assert slot_events(result)["scenario"] == "restaurant"
    assert slot_events(result)["has_entertainment"] is None  # not an answer
    stepped_aside = any(e["event"] == "action_execution_rejected" for e in result)
    assert stepped_aside is (intent == "check_status")


async def test_cancel_drops_the_run(dispatcher):
    tracker = make_tracker(
        "不办了",
        slots={
            "scenario": "restaurant",
            "scenario_instance_id": "run-1",
            "id_number": "990101198503120117",
        },
    )
    events = await ActionCancelScenario().run(dispatcher, tracker, {})
    slots = slot_events(events)
    assert slots["scenario"] is None and slots["scenario_instance_id"] is None
    assert slots["id_number"] is None
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
    assert slots["requested_slot"] is None
    assert responses(dispatcher) == ["utter_scenario_cancelled"]


async def test_checklist_lists_items_then_merged_materials_then_sources(dispatcher):
    answers = {
        "venue_area": 320.0,
        "has_entertainment": False,
        "has_business_licence": False,
        "business_type": "individual",
        "sells_tobacco": True,
        "outdoor_sign": False,
    }
    tracker = make_tracker("", slots={"scenario": "restaurant", **answers})
    await ActionShowChecklist().run(dispatcher, tracker, {})
    sent = responses(dispatcher)
    assert sent[0] == "utter_checklist_intro"
    assert dispatcher.messages[0]["item_count"] == 5
    item_names = [m["item_name"] for m in dispatcher.messages if "index" in m]
    assert item_names[0] == "个体工商户设立登记（营业执照）"
    assert "烟草专卖零售许可证（新办）" in item_names
    materials = next(
        m for m in dispatcher.messages if m["response"] == "utter_checklist_materials"
    )
    assert materials["materials"].count("营业执照") == 1
    assert sent[-1] == "utter_checklist_sources"


async def test_checklist_without_a_scenario_says_so(dispatcher):
    await ActionShowChecklist().run(dispatcher, make_tracker(""), {})
    assert responses(dispatcher) == ["utter_invalid_scenario"]


# --- answers to other questions, three failures, pause and resume -------------


async def test_a_message_answering_more_keeps_every_answer(dispatcher):
    events = await validate(dispatcher, "有，不卖烟", "has_entertainment")
    slots = slot_events(events)
    assert slots["has_entertainment"] is True
    assert slots["sells_tobacco"] is False
    assert dispatcher.messages == []


async def test_another_answer_instead_of_the_asked_one_is_kept_and_not_a_failure(
    dispatcher,
):
    events = await validate(dispatcher, "不卖烟", "venue_area")
    slots = slot_events(events)
    assert slots["sells_tobacco"] is False
    assert slots["venue_area"] is None
    assert "scenario_failures" not in slots


async def test_a_no_about_another_question_does_not_answer_the_asked_yes_no_one(
    dispatcher,
):
    # 不 is a no word, but 不卖烟 is about tobacco, not entertainment.
    events = await validate(dispatcher, "不卖烟", "has_entertainment")
    slots = slot_events(events)
    assert slots["sells_tobacco"] is False
    assert slots["has_entertainment"] is None


async def fail(dispatcher, count_before, slot="venue_area", text="挺大的"):
    failures = {slot: count_before} if count_before else None
    return await validate(dispatcher, text, slot, slots={"scenario_failures": failures})


@pytest.mark.parametrize("count_before", [0, 1])
async def test_the_first_two_failures_only_re_ask(dispatcher, count_before):
    events = await fail(dispatcher, count_before)
    assert responses(dispatcher) == ["utter_invalid_area"]
    assert slot_events(events)["scenario_failures"] == {"venue_area": count_before + 1}


async def test_the_third_failure_explains_and_offers_a_person_or_a_pause(dispatcher):
    events = await fail(dispatcher, 2)
    assert responses(dispatcher) == [
        "utter_invalid_area",
        "utter_answer_example_area",
        "utter_offer_agent_or_pause",
    ]
    assert slot_events(events)["scenario_failures"] == {"venue_area": 3}


async def test_failures_are_counted_per_question(dispatcher):
    tracker_slots = {"scenario_failures": {"venue_area": 2}}
    events = await validate(dispatcher, "不清楚", "sells_tobacco", slots=tracker_slots)
    assert responses(dispatcher) == ["utter_invalid_yes_no"]
    assert slot_events(events)["scenario_failures"] == {
        "venue_area": 2,
        "sells_tobacco": 1,
    }


async def test_a_readable_answer_resets_its_count(dispatcher):
    events = await validate(
        dispatcher,
        "120平",
        "venue_area",
        slots={"scenario_failures": {"venue_area": 2, "sells_tobacco": 1}},
    )
    assert slot_events(events)["scenario_failures"] == {"sells_tobacco": 1}


async def test_a_question_mid_form_is_no_failure(dispatcher):
    events = await validate(
        dispatcher, "社保怎么交", "venue_area", intent="ask_question"
    )
    assert "scenario_failures" not in slot_events(events)


async def test_start_keeps_the_answers_the_first_message_gives(dispatcher):
    tracker = make_tracker("我想开一家200平的火锅店，不卖烟", intent="start_scenario")
    events = slot_events(await ActionStartScenario().run(dispatcher, tracker, {}))
    assert events["venue_area"] == 200.0
    assert events["sells_tobacco"] is False
    assert events["has_entertainment"] is None
    assert responses(dispatcher) == ["utter_scenario_intro", "utter_answers_noted"]
    noted = dispatcher.messages[1]["answers"]
    assert noted == "经营场所面积：200平方米\n销售卷烟等烟草制品：否"


async def test_start_without_answers_says_nothing_of_them(dispatcher):
    tracker = make_tracker("我想开个餐馆", intent="start_scenario")
    await ActionStartScenario().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_scenario_intro"]


PAUSED = {
    "scenario": "restaurant",
    "scenario_instance_id": "run-1",
    "venue_area": 80.0,
    "has_entertainment": False,
}


async def test_stopping_midway_pauses_and_keeps_the_answers(dispatcher):
    tracker = make_tracker(
        "算了",
        intent="cancel",
        slots={**PAUSED, "scenario_failures": {"has_business_licence": 2}},
    )
    events = await ActionCancelScenario().run(dispatcher, tracker, {})
    slots = slot_events(events)
    assert "venue_area" not in slots and "scenario" not in slots
    assert "scenario_instance_id" not in slots
    assert slots["scenario_failures"] is None and slots["id_number"] is None
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
    assert responses(dispatcher) == ["utter_scenario_paused"]


async def test_naming_the_scenario_again_resumes_the_paused_run(dispatcher):
    tracker = make_tracker("我想开餐馆，不卖烟", intent="start_scenario", slots=PAUSED)
    events = slot_events(await ActionStartScenario().run(dispatcher, tracker, {}))
    assert "venue_area" not in events and "scenario_instance_id" not in events
    assert events["sells_tobacco"] is False
    assert responses(dispatcher) == ["utter_scenario_resumed", "utter_answers_noted"]
    assert dispatcher.messages[0]["answered_count"] == 2


async def test_continue_resumes_the_paused_run(dispatcher):
    tracker = make_tracker("继续办理", intent="resume_scenario", slots=PAUSED)
    events = await ActionResumeScenario().run(dispatcher, tracker, {})
    assert slot_events(events) == {"requested_slot": None}
    assert responses(dispatcher) == ["utter_scenario_resumed"]


async def test_continue_with_nothing_paused_says_so_and_listens(dispatcher):
    events = await ActionResumeScenario().run(dispatcher, make_tracker("继续办理"), {})
    assert responses(dispatcher) == ["utter_nothing_to_resume"]
    assert events == [{"event": "followup", "timestamp": None, "name": "action_listen"}]


async def test_a_submitted_run_is_not_resumed_but_started_afresh(dispatcher):
    tracker = make_tracker(
        "我想开餐馆",
        intent="start_scenario",
        slots={**PAUSED, "application_no": "ZW20261203000001"},
    )
    events = slot_events(await ActionStartScenario().run(dispatcher, tracker, {}))
    assert events["venue_area"] is None
    assert events["scenario_instance_id"] != "run-1"


async def test_pre_answers_survive_the_validation_at_form_activation(dispatcher):
    tracker = make_tracker(
        "我想开一家200平的火锅店，不卖烟",
        intent="start_scenario",
        slots={"scenario": "restaurant"},
        new_slots={"venue_area": 200.0, "sells_tobacco": False},
        requested_slot=None,
    )
    events = await ValidateScenarioForm().run(dispatcher, tracker, DOMAIN)
    slots = slot_events(events)
    assert slots["venue_area"] == 200.0 and slots["sells_tobacco"] is False
    assert slots["requested_slot"] == "has_entertainment"


async def test_an_unplaced_question_mid_form_steps_aside_for_the_knowledge_base(
    dispatcher,
):
    events = await validate(
        dispatcher, "多大面积才要办消防检查？", "venue_area", intent="nlu_fallback"
    )
    assert any(e["event"] == "action_execution_rejected" for e in events)
    assert dispatcher.messages == []


async def test_an_unplaced_non_question_is_a_failed_answer(dispatcher):
    events = await validate(dispatcher, "挺大的", "venue_area", intent="nlu_fallback")
    assert responses(dispatcher) == ["utter_invalid_area"]
    assert slot_events(events)["scenario_failures"] == {"venue_area": 1}


async def test_a_correction_changes_an_earlier_answer_and_asks_again(dispatcher):
    text = "等一下，我刚才说错了，有娱乐功能"

    events = await validate(dispatcher, text, "business_type")

    slots = slot_events(events)
    assert slots["has_entertainment"] is True
    assert slots["business_type"] is None
    assert responses(dispatcher) == ["utter_answers_corrected"]
    assert "娱乐" in dispatcher.messages[0]["answers"]


async def test_without_a_correction_word_an_earlier_answer_stands(dispatcher):
    events = await validate(dispatcher, "有娱乐功能", "business_type")

    assert "has_entertainment" not in slot_events(events)
