"""Consent, 身份证号, the pre-filled form and an idempotent submission."""

from __future__ import annotations

import pytest

from actions.application import (
    ActionAskRouteChoice,
    ActionPrefillApplication,
    ActionSubmitApplication,
    ValidateConfirmForm,
    ValidatePrefillForm,
    form_lines,
)
from actions.backend_client import BackendRejected, BackendUnavailable
from actions.scenario_form import current_scenario
from actions.scenario_state import consent_key, idempotency_key
from tests.actions.conftest import FICTIONAL_ID, make_tracker, responses, slot_events

ANSWERS = {
    "scenario": "restaurant",
    "scenario_instance_id": "run-1",
    "venue_area": 120.0,
    "has_entertainment": False,
    "has_business_licence": False,
    "business_type": "individual",
    "sells_tobacco": True,
    "outdoor_sign": False,
}
PREFILL_DOMAIN = {
    "forms": {
        "prefill_form": {
            "required_slots": ["route_choice", "prefill_consent", "id_number"]
        }
    }
}
CONFIRM_DOMAIN = {"forms": {"confirm_form": {"required_slots": ["confirm_submission"]}}}


async def validate_prefill(dispatcher, text, slot, intent="inform", slots=None):
    tracker = make_tracker(
        text, intent=intent, slots=slots, new_slots={slot: text}, requested_slot=slot
    )
    return slot_events(
        await ValidatePrefillForm().run(dispatcher, tracker, PREFILL_DOMAIN)
    )


@pytest.mark.parametrize(
    ("text", "value"), [("同意", True), ("不同意", False), ("好的", True)]
)
async def test_consent_reads_yes_and_no(dispatcher, text, value):
    assert (await validate_prefill(dispatcher, text, "prefill_consent"))[
        "prefill_consent"
    ] is value


async def test_unclear_consent_is_re_asked(dispatcher):
    slots = await validate_prefill(dispatcher, "这是干嘛的", "prefill_consent")
    assert slots["prefill_consent"] is None
    assert responses(dispatcher) == ["utter_invalid_yes_no"]


async def test_valid_id_number_is_kept_normalised(dispatcher):
    slots = await validate_prefill(dispatcher, f" {FICTIONAL_ID} ", "id_number")
    assert slots["id_number"] == FICTIONAL_ID


@pytest.mark.parametrize(
    ("text", "reprompt"),
    [
        ("12345", "utter_invalid_id_number_length"),
        ("99010119850312011A", "utter_invalid_id_number_characters"),
        ("990101198513120117", "utter_invalid_id_number_birth_date"),
        (FICTIONAL_ID[:-1] + "0", "utter_invalid_id_number_check_digit"),
    ],
)
async def test_bad_id_numbers_are_re_asked_with_the_reason(dispatcher, text, reprompt):
    slots = await validate_prefill(dispatcher, text, "id_number")
    assert slots["id_number"] is None
    assert responses(dispatcher) == [reprompt]


@pytest.mark.parametrize(("text", "value"), [("确认提交", True), ("先不提交", False)])
async def test_confirmation_reads_the_buttons(dispatcher, text, value):
    intent = "submit_application" if value else "deny"
    tracker = make_tracker(
        text,
        intent=intent,
        new_slots={"confirm_submission": text},
        requested_slot="confirm_submission",
    )
    events = await ValidateConfirmForm().run(dispatcher, tracker, CONFIRM_DOMAIN)
    assert slot_events(events)["confirm_submission"] is value


async def prefill(dispatcher, consent=True, id_number=FICTIONAL_ID):
    slots = {**ANSWERS, "prefill_consent": consent, "id_number": id_number}
    tracker = make_tracker("", slots=slots)
    return await ActionPrefillApplication().run(dispatcher, tracker, {})


async def test_prefill_records_the_consent_for_this_run_and_fields(dispatcher, backend):
    await prefill(dispatcher)

    [(consent, key)] = backend.consents.values()
    assert consent.fields == ("name", "phone", "address")
    assert (consent.id_number, consent.form_instance) == (FICTIONAL_ID, "run-1")
    assert key == consent_key("citizen-1", "run-1", FICTIONAL_ID)
    assert key != consent_key("citizen-1", "run-1", "990101197811020316")


async def test_prefill_shows_the_profile_masked(dispatcher):
    await prefill(dispatcher)
    message = dispatcher.messages[0]
    assert message["response"] == "utter_integrated_application"
    # Whoever typed the number may not hold it: name and street are hidden.
    assert message["applicant_name"] == "张*明"
    assert message["address"] == "示范市示范区****"
    assert "人民路" not in str(message) and "张晓明" not in str(message)
    assert message["id_masked"] == "990***********0117"
    assert message["phone_masked"] == "130****0001"
    assert FICTIONAL_ID not in str(message) and "13000000001" not in str(message)
    assert "个体工商户设立登记（营业执照）" in message["items"]
    assert "经营场所面积：120平方米" in message["answers"]


async def test_prefill_without_consent_shows_the_plain_form(dispatcher, backend):
    backend.error = AssertionError("the profile must not be read without consent")
    events = await prefill(dispatcher, consent=False)
    assert responses(dispatcher) == ["utter_integrated_application_plain"]
    assert slot_events(events) == {"prefill_consent": False}


async def test_profile_not_found_says_so_and_goes_on_without_prefill(dispatcher):
    events = await prefill(dispatcher, id_number="990101197811020316")
    assert responses(dispatcher) == [
        "utter_profile_not_found",
        "utter_integrated_application_plain",
    ]
    assert slot_events(events) == {"prefill_consent": False}


async def test_profile_service_down_goes_on_without_prefill(dispatcher, backend):
    backend.error = BackendUnavailable("backend_unreachable")
    await prefill(dispatcher)
    assert responses(dispatcher) == [
        "utter_prefill_unavailable",
        "utter_integrated_application_plain",
    ]


async def test_prefill_without_an_id_number_has_nothing_to_show(dispatcher):
    await prefill(dispatcher, id_number=None)
    assert responses(dispatcher) == ["utter_nothing_to_submit"]


def submit_tracker(confirm=True, intent="affirm", sender_id="citizen-1", **extra):
    slots = {
        **ANSWERS,
        "prefill_consent": True,
        "id_number": FICTIONAL_ID,
        "confirm_submission": confirm,
        **extra,
    }
    return make_tracker("确认提交", intent=intent, slots=slots, sender_id=sender_id)


async def test_submit_sends_the_applicable_items_with_the_run_key(dispatcher, backend):
    events = await ActionSubmitApplication().run(dispatcher, submit_tracker(), {})
    request, key = backend.submissions[0]
    assert key == idempotency_key("citizen-1", "run-1")
    assert request.applicant_id_number == FICTIONAL_ID
    assert {item.item_id for item in request.items} >= {
        "business_licence_individual",
        "tobacco_retail_licence",
    }
    assert all(item.route in {"normal", "commitment"} for item in request.items)
    number = slot_events(events)["application_no"]
    assert dispatcher.messages[-1]["response"] == "utter_application_submitted"
    assert dispatcher.messages[-1]["application_no"] == number


async def test_resubmitting_the_same_run_gives_the_same_application(
    dispatcher, backend
):
    first = await ActionSubmitApplication().run(dispatcher, submit_tracker(), {})
    again = await ActionSubmitApplication().run(dispatcher, submit_tracker(), {})
    assert slot_events(first)["application_no"] == slot_events(again)["application_no"]
    assert len({key for _, key in backend.submissions}) == 1


def test_idempotency_key_is_stable_and_specific():
    assert idempotency_key("citizen-1", "run-1") == idempotency_key(
        "citizen-1", "run-1"
    )
    assert idempotency_key("citizen-1", "run-1") != idempotency_key(
        "citizen-1", "run-2"
    )
    assert idempotency_key("citizen-1", "run-1") != idempotency_key(
        "citizen-2", "run-1"
    )


async def test_backend_down_queues_the_application_on_disk(dispatcher, backend, outbox):
    backend.error = BackendUnavailable("backend_timeout")
    events = await ActionSubmitApplication().run(dispatcher, submit_tracker(), {})

    assert responses(dispatcher) == ["utter_submission_queued"]
    assert slot_events(events) == {"confirm_submission": True, "id_number": None}
    entry = outbox.get(idempotency_key("citizen-1", "run-1"))
    assert (entry.status, entry.attempts, entry.last_error) == (
        "pending",
        1,
        "backend_timeout",
    )


async def test_confirming_again_after_the_platform_is_back_submits_once(
    dispatcher, backend, outbox
):
    backend.error = BackendUnavailable("backend_timeout")
    await ActionSubmitApplication().run(dispatcher, submit_tracker(), {})

    backend.error = None
    retry = submit_tracker(confirm=True, intent="submit_application")
    events = await ActionSubmitApplication().run(dispatcher, retry, {})

    assert backend.submissions[0][1] == backend.submissions[1][1]
    assert slot_events(events)["application_no"].startswith("ZW")
    entry = outbox.get(backend.submissions[0][1])
    assert (entry.status, entry.told) == ("delivered", True)


async def test_changed_answers_under_a_confirmed_run_are_a_conflict(
    dispatcher, backend
):
    await ActionSubmitApplication().run(dispatcher, submit_tracker(), {})

    changed = submit_tracker(venue_area=500.0)
    events = await ActionSubmitApplication().run(dispatcher, changed, {})

    assert responses(dispatcher)[-1] == "utter_submission_conflict"
    assert slot_events(events) == {"id_number": None}
    assert len(backend.submissions) == 1


async def test_an_outbox_that_cannot_be_written_keeps_the_slots_and_sends_nothing(
    dispatcher, backend, outbox, monkeypatch
):
    def disk_full(*args):
        raise OSError("disk full")

    monkeypatch.setattr(outbox, "put", disk_full)

    events = await ActionSubmitApplication().run(dispatcher, submit_tracker(), {})

    assert responses(dispatcher) == ["utter_submission_failed_kept"]
    assert slot_events(events) == {"confirm_submission": True}
    assert backend.submissions == []


@pytest.mark.parametrize(
    ("code", "reply"),
    [
        ("idempotency_conflict", "utter_submission_conflict"),
        ("invalid_request", "utter_submission_rejected"),
    ],
)
async def test_backend_rejection_is_named(dispatcher, backend, outbox, code, reply):
    backend.error = BackendRejected(code, status=409)
    await ActionSubmitApplication().run(dispatcher, submit_tracker(), {})
    assert responses(dispatcher) == [reply]
    entry = outbox.get(backend.submissions[0][1])
    assert (entry.status, entry.last_error, entry.told) == ("rejected", code, True)


async def test_not_confirmed_offers_change_or_cancel(dispatcher, backend):
    events = await ActionSubmitApplication().run(
        dispatcher, submit_tracker(confirm=False, intent="deny"), {}
    )
    assert responses(dispatcher) == ["utter_offer_change_or_cancel"]
    assert slot_events(events) == {"confirm_submission": None}
    assert backend.submissions == []


async def test_saying_submit_after_declining_submits(dispatcher, backend):
    tracker = submit_tracker(confirm=None, intent="submit_application")
    await ActionSubmitApplication().run(dispatcher, tracker, {})
    assert len(backend.submissions) == 1


@pytest.mark.parametrize(
    "missing", ["scenario", "scenario_instance_id", "id_number", "sells_tobacco"]
)
async def test_nothing_to_submit_without_a_complete_run(dispatcher, backend, missing):
    tracker = submit_tracker(**{missing: None})
    await ActionSubmitApplication().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_nothing_to_submit"]
    assert backend.submissions == []


async def test_profile_refused_goes_on_without_prefill(dispatcher, backend):
    backend.error = BackendRejected("invalid_id_number", status=400)
    await prefill(dispatcher)
    assert responses(dispatcher) == [
        "utter_prefill_unavailable",
        "utter_integrated_application_plain",
    ]


# --- the route choice (告知承诺 or 一般程序) per item offering both ------------

FIRE_CHECK = {**ANSWERS, "venue_area": 320.0}


async def prefill_required(slots):
    tracker = make_tracker("", slots=slots)
    return await ValidatePrefillForm().required_slots([], None, tracker, {})


async def test_the_route_is_asked_first_when_an_item_offers_two():
    assert await prefill_required(FIRE_CHECK) == [
        "route_choice",
        "prefill_consent",
        "id_number",
    ]


@pytest.mark.parametrize(
    "slots",
    [ANSWERS, {**FIRE_CHECK, "chosen_routes": {"fire_safety_check": "normal"}}],
    ids=["no two-route item", "already chosen"],
)
async def test_the_route_is_not_asked_when_there_is_nothing_to_choose(slots):
    assert await prefill_required(slots) == ["prefill_consent", "id_number"]


@pytest.mark.parametrize(
    ("text", "route"),
    [("告知承诺", "commitment"), ("选承诺的", "commitment"), ("一般程序", "normal")],
)
async def test_a_chosen_route_is_kept_for_its_item(dispatcher, text, route):
    slots = await validate_prefill(dispatcher, text, "route_choice", slots=FIRE_CHECK)
    assert slots["chosen_routes"] == {"fire_safety_check": route}
    assert slots["route_choice"] is None
    assert slots["requested_slot"] == "prefill_consent"


async def test_an_unclear_route_is_re_asked(dispatcher):
    slots = await validate_prefill(dispatcher, "随便", "route_choice", slots=FIRE_CHECK)
    assert slots["route_choice"] is None and "chosen_routes" not in slots
    assert responses(dispatcher) == ["utter_invalid_route_choice"]


async def test_the_route_question_explains_from_the_item_and_offers_both(dispatcher):
    tracker = make_tracker("", slots=FIRE_CHECK)
    await ActionAskRouteChoice().run(dispatcher, tracker, {})
    (message,) = dispatcher.messages
    assert message["response"] == "utter_ask_route_choice"
    assert message["item_name"] == "公众聚集场所投入使用、营业前消防安全检查"
    assert "现场核查" in message["time_note"]
    assert [b["title"] for b in message["buttons"]] == ["告知承诺", "一般程序"]


async def test_the_chosen_route_is_submitted_and_shown(dispatcher, backend):
    chosen = {"chosen_routes": {"fire_safety_check": "normal"}}
    tracker = submit_tracker(venue_area=320.0, **chosen)
    await ActionSubmitApplication().run(dispatcher, tracker, {})
    request, _ = backend.submissions[0]
    routes = {item.item_id: item.route for item in request.items}
    assert routes["fire_safety_check"] == "normal"
    _, items = form_lines(current_scenario(tracker), tracker.slots)
    assert "消防安全检查（场所所在地县级消防救援机构）：一般程序" in items


async def test_after_an_unclear_route_the_explanation_is_not_repeated(dispatcher):
    tracker = make_tracker("随便", slots=FIRE_CHECK)
    tracker.events.append(
        {"event": "bot", "metadata": {"utter_action": "utter_invalid_route_choice"}}
    )
    await ActionAskRouteChoice().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_ask_route_choice_again"]
    assert len(dispatcher.messages[0]["buttons"]) == 2


async def test_the_id_number_is_dropped_once_the_outbox_holds_the_application(
    dispatcher, backend
):
    events = await ActionSubmitApplication().run(dispatcher, submit_tracker(), {})

    assert slot_events(events)["id_number"] is None


async def test_confirming_again_without_the_id_number_replays_the_stored_run(
    dispatcher, backend
):
    first = await ActionSubmitApplication().run(dispatcher, submit_tracker(), {})
    number = slot_events(first)["application_no"]

    again = submit_tracker(id_number=None, application_no=number)
    events = await ActionSubmitApplication().run(dispatcher, again, {})

    assert dispatcher.messages[-1]["response"] == "utter_application_submitted"
    assert dispatcher.messages[-1]["application_no"] == number
    assert slot_events(events)["application_no"] == number
    assert len(backend.submissions) == 1


async def test_a_queued_run_is_sent_from_the_outbox_after_the_id_number_is_gone(
    dispatcher, backend
):
    backend.error = BackendUnavailable("backend_timeout")
    await ActionSubmitApplication().run(dispatcher, submit_tracker(), {})

    backend.error = None
    retry = submit_tracker(id_number=None, intent="submit_application")
    events = await ActionSubmitApplication().run(dispatcher, retry, {})

    assert slot_events(events)["application_no"].startswith("ZW")
    assert backend.submissions[0][0].applicant_id_number == FICTIONAL_ID
