"""12345 tickets: the triage offer, the ticket form, filing once, the status."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecutionRejected, FollowupAction

from actions import ticket
from actions.answer import ActionAnswerQuestion
from actions.backend_client import BackendRejected, BackendUnavailable
from actions.kb_client import KbHit
from actions.kb_client import KbSearchResult as SearchResult
from actions.status import ActionCheckApplicationStatus
from knowledge_base.triage import Triage
from tests.actions.conftest import make_tracker, responses, slot_events

LAMP = "小区门口的路灯坏了一个月了没人修"
FILLED = {
    "ticket_instance": "a" * 32,
    "ticket_kind": "complaint",
    "ticket_topic": "城建",
    "ticket_description": LAMP,
    "ticket_location": "示范区幸福路口",
    "ticket_occurred": "未说明",
    "ticket_contact_consent": True,
    "ticket_phone": "13000000001",
    "ticket_confirmed": True,
}


class FakeTriage:
    """Reads every text the same way, and remembers what it was asked."""

    def __init__(self, kind="complaint", kind_score=0.8, topic="城建", topic_score=0.6):
        self.reading = Triage(kind, kind_score, topic, topic_score)
        self.texts: list[str] = []

    def predict(self, text: str) -> Triage:
        self.texts.append(text)
        return self.reading


@pytest.fixture
def triage(services):
    from actions.services import use_services

    fake = FakeTriage()
    use_services(replace(services, triage=fake))
    return fake


def _hit() -> KbHit:
    return KbHit(
        doc_id="g1",
        kind="guide",
        title="路灯维修",
        answer="……",
        department="城管委",
        source_url="https://example.gov.cn/a",
        score=0.5,
    )


async def answer(dispatcher, text=LAMP, active_loop=None):
    tracker = make_tracker(text, intent="nlu_fallback", active_loop=active_loop)
    return await ActionAnswerQuestion().run(dispatcher, tracker, {})


@pytest.mark.parametrize("kind", ["complaint", "suggestion"])
async def test_no_answer_and_a_complaint_or_suggestion_offer_a_ticket(
    dispatcher, kb, triage, kind
):
    kb.result = SearchResult("no_answer", ())
    triage.reading = replace(triage.reading, kind=kind)

    await answer(dispatcher)

    assert responses(dispatcher) == ["utter_offer_ticket"]
    assert dispatcher.messages[0]["ticket_kind_label"] == ticket.KIND_LABELS[kind]
    assert triage.texts == [LAMP]


async def test_a_question_the_kb_cannot_answer_gets_no_offer(dispatcher, kb, triage):
    kb.result = SearchResult("no_answer", ())
    triage.reading = replace(triage.reading, kind="question")

    await answer(dispatcher, "社保卡怎么补办")

    assert responses(dispatcher) == ["utter_kb_no_answer"]


async def test_an_answer_from_the_kb_wins_over_triage(dispatcher, kb, triage):
    kb.result = SearchResult("answer", (_hit(),))

    await answer(dispatcher)

    assert responses(dispatcher) != ["utter_offer_ticket"]
    assert triage.texts == []


@pytest.mark.parametrize(
    ("score", "expected"), [(0.55, "utter_kb_clarify"), (0.7, "utter_offer_ticket")]
)
async def test_a_clarification_gives_way_only_to_a_sure_reading(
    dispatcher, kb, triage, score, expected
):
    kb.result = SearchResult("clarify", (_hit(),))
    triage.reading = replace(triage.reading, kind_score=score)

    await answer(dispatcher)

    assert responses(dispatcher) == [expected]


async def test_no_offer_inside_a_form_or_without_a_model(
    dispatcher, kb, triage, services
):
    kb.result = SearchResult("no_answer", ())

    await answer(dispatcher, active_loop="scenario_form")
    from actions.services import use_services

    use_services(replace(services, triage=None))
    await answer(dispatcher)

    assert responses(dispatcher) == ["utter_kb_no_answer", "utter_kb_no_answer"]


def _tracker_with_history(*texts: str, intent: str = "report_issue") -> Tracker:
    events = [{"event": "user", "text": text} for text in texts]
    latest = {"text": texts[-1], "intent": {"name": intent, "confidence": 1.0}}
    return Tracker("citizen-1", {}, latest, events, False, None, {}, "action_listen")


@pytest.mark.parametrize(
    ("texts", "kind", "description"),
    [
        (["我要投诉"], "complaint", None),
        (["我有个建议"], "suggestion", None),
        (
            ["我要投诉楼下饭店油烟太大天天熏"],
            "complaint",
            "我要投诉楼下饭店油烟太大天天熏",
        ),
        ([LAMP, "/report_issue"], None, LAMP),  # no model, no naming word
        (["你好", "/report_issue"], None, None),
    ],
)
async def test_start_reads_the_kind_and_a_description_already_given(
    dispatcher, texts, kind, description
):
    events = await ticket.ActionStartTicket().run(
        dispatcher, _tracker_with_history(*texts), {}
    )

    slots = slot_events(events)
    assert slots["ticket_description"] == description
    assert slots["ticket_kind"] == kind
    assert len(slots["ticket_instance"]) == 32
    assert slots["ticket_phone"] is None


async def test_start_asks_triage_for_the_kind_when_no_word_names_it(dispatcher, triage):
    triage.reading = replace(triage.reading, kind="suggestion")

    events = await ticket.ActionStartTicket().run(
        dispatcher, _tracker_with_history(LAMP, "/report_issue"), {}
    )

    assert slot_events(events)["ticket_kind"] == "suggestion"


DOMAIN_SLOTS = [
    "ticket_description",
    "ticket_location",
    "ticket_occurred",
    "ticket_contact_consent",
    "ticket_phone",
    "ticket_confirmed",
]


TICKET_DOMAIN = {"forms": {"ticket_form": {"required_slots": DOMAIN_SLOTS}}}


async def read_answer(dispatcher, slot, typed, intent="inform", slots=None):
    """Run the ticket form's validation on ``typed`` given for ``slot``."""
    tracker = make_tracker(
        typed,
        intent=intent,
        slots=slots,
        new_slots={slot: typed},
        requested_slot=slot,
        active_loop="ticket_form",
    )
    return await ticket.ValidateTicketForm().run(dispatcher, tracker, TICKET_DOMAIN)


@pytest.mark.parametrize(
    ("slots", "skipped"),
    [
        ({"ticket_kind": "complaint"}, {"ticket_phone"}),
        ({"ticket_kind": "suggestion"}, {"ticket_phone", "ticket_occurred"}),
        ({"ticket_kind": "complaint", "ticket_contact_consent": True}, set()),
    ],
)
async def test_the_form_skips_time_for_suggestions_and_phone_without_consent(
    dispatcher, slots, skipped
):
    tracker = make_tracker("x", slots=slots)

    wanted = await ticket.ValidateTicketForm().required_slots(
        DOMAIN_SLOTS, dispatcher, tracker, {}
    )

    assert set(DOMAIN_SLOTS) - set(wanted) == skipped


@pytest.mark.parametrize(
    ("slot", "typed", "value", "invalid"),
    [
        ("ticket_description", "路灯坏了", None, "utter_invalid_ticket_description"),
        ("ticket_description", LAMP, LAMP, None),
        ("ticket_location", "无", "未说明", None),
        ("ticket_location", "幸福路口", "幸福路口", None),
        ("ticket_location", "路" * 300, None, "utter_invalid_ticket_location"),
        ("ticket_occurred", "不清楚", "未说明", None),
        ("ticket_occurred", "昨天晚上", "昨天晚上", None),
        ("ticket_contact_consent", "同意", True, None),
        ("ticket_contact_consent", "不同意", False, None),
        (
            "ticket_contact_consent",
            "随便",
            None,
            "utter_invalid_ticket_contact_consent",
        ),
        ("ticket_phone", "130 0000 0001", "13000000001", None),
        ("ticket_phone", "12345", None, "utter_invalid_ticket_phone"),
        ("ticket_confirmed", "确认提交", True, None),
        ("ticket_confirmed", "先不提交", False, None),
        ("ticket_confirmed", "好的", True, None),
        ("ticket_confirmed", "没有问题", True, None),
    ],
)
async def test_each_answer_is_read_or_asked_again(
    dispatcher, slot, typed, value, invalid
):
    events = await read_answer(
        dispatcher,
        slot,
        typed,
        intent="inform",
        slots={"ticket_kind": "complaint", "ticket_contact_consent": True},
    )

    assert slot_events(events)[slot] == value
    assert responses(dispatcher) == ([invalid] if invalid else [])


async def test_a_description_sets_the_kind_when_none_was_named(dispatcher, triage):
    triage.reading = replace(triage.reading, kind="suggestion")
    events = await read_answer(
        dispatcher, "ticket_description", "建议在幸福路口加一个红绿灯"
    )

    assert slot_events(events)["ticket_kind"] == "suggestion"


async def test_cancel_in_the_form_leaves_it_instead_of_being_an_answer(dispatcher):
    events = await read_answer(dispatcher, "ticket_location", "不办了", intent="cancel")

    assert ActionExecutionRejected("ticket_form") in events
    assert slot_events(events)["ticket_location"] is None


async def test_review_shows_the_topic_and_a_masked_phone(dispatcher, triage):
    tracker = make_tracker("13000000001", slots=FILLED)

    events = await ticket.ActionAskTicketConfirmed().run(dispatcher, tracker, {})

    (message,) = dispatcher.messages
    assert message["ticket_contact"] == "130****0001"
    assert message["ticket_topic"] == "城建"
    assert slot_events(events)["ticket_topic"] == "城建"


async def test_an_unsure_topic_is_left_to_the_operator(dispatcher, triage):
    triage.reading = replace(triage.reading, topic_score=0.15)

    assert ticket.ticket_topic(LAMP) == "其他"


async def file(dispatcher, slots=FILLED, sender="citizen-1"):
    tracker = make_tracker("确认提交", slots=slots, sender_id=sender)
    return await ticket.ActionFileTicket().run(dispatcher, tracker, {})


async def test_a_confirmed_ticket_is_filed_once_and_forgotten(dispatcher, backend):
    first = await file(dispatcher)
    again = await file(dispatcher)

    assert responses(dispatcher) == ["utter_ticket_filed", "utter_ticket_filed"]
    assert dispatcher.messages[0]["ticket_no"] == dispatcher.messages[1]["ticket_no"]
    assert len(backend.tickets) == 1
    ((request, _),) = backend.tickets.values()
    assert (request.contact_phone, request.occurred, request.topic) == (
        "13000000001",
        None,
        "城建",
    )
    slots = slot_events(first)
    assert slots["ticket_no"].startswith("GD")
    assert slots["ticket_phone"] is None and slots["ticket_description"] is None
    assert slot_events(again)["ticket_no"] == slots["ticket_no"]


async def test_without_consent_no_phone_is_sent(dispatcher, backend):
    await file(dispatcher, {**FILLED, "ticket_contact_consent": False})

    ((request, _),) = backend.tickets.values()
    assert request.contact_phone is None


async def test_a_platform_that_is_down_keeps_everything_and_asks_again(
    dispatcher, backend
):
    backend.error = BackendUnavailable("backend_unreachable")

    events = await file(dispatcher)

    assert responses(dispatcher) == ["utter_ticket_unavailable"]
    assert slot_events(events) == {"ticket_confirmed": None}
    assert FollowupAction("ticket_form") in events


async def test_a_refused_ticket_is_said_and_dropped(dispatcher, backend):
    backend.error = BackendRejected("invalid_request", status=400)

    events = await file(dispatcher)

    assert responses(dispatcher) == ["utter_ticket_rejected"]
    assert slot_events(events)["ticket_description"] is None


async def test_an_unconfirmed_ticket_is_not_filed(dispatcher, backend):
    await file(dispatcher, {**FILLED, "ticket_confirmed": False})

    assert responses(dispatcher) == ["utter_ticket_cancelled"]
    assert backend.tickets == {}


async def test_status_of_a_ticket_by_its_number(dispatcher, backend):
    await file(dispatcher)
    number = dispatcher.messages[0]["ticket_no"]
    dispatcher.messages.clear()

    tracker = make_tracker(f"查询工单{number.lower()}", intent="check_status")
    await ActionCheckApplicationStatus().run(dispatcher, tracker, {})
    tracker = make_tracker("工单GD20000101000000", intent="check_status")
    await ActionCheckApplicationStatus().run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_ticket_status", "utter_ticket_not_found"]
    assert dispatcher.messages[0]["ticket_status_label"] == "已登记，等待分派"
    assert dispatcher.messages[0]["created_date"] == "2026-12-04"


async def test_a_complaint_taken_for_a_scenario_is_offered_a_ticket(dispatcher, triage):
    from actions.scenario_flow import ActionStartScenario

    tracker = make_tracker(LAMP, intent="start_scenario")

    events = await ActionStartScenario().run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_offer_ticket"]
    assert events == [FollowupAction("action_listen")]


async def test_an_unnamed_scenario_that_is_no_complaint_still_asks_which(
    dispatcher, triage
):
    from actions.scenario_flow import ActionStartScenario

    triage.reading = replace(triage.reading, kind="question")
    tracker = make_tracker("我想办个事", intent="start_scenario")

    events = await ActionStartScenario().run(dispatcher, tracker, {})

    assert "utter_offer_ticket" not in responses(dispatcher)
    assert FollowupAction("action_listen") not in events


@pytest.mark.parametrize(
    ("slot", "intent", "leaves"),
    [
        ("ticket_location", "ask_question", True),
        ("ticket_occurred", "nlu_fallback", True),
        ("ticket_description", "ask_question", False),  # a description may ask
        ("ticket_location", "inform", False),
    ],
)
async def test_a_question_instead_of_an_answer_steps_aside(
    dispatcher, slot, intent, leaves
):
    text = "社保卡怎么补办？"
    events = await read_answer(
        dispatcher, slot, text, intent=intent, slots={"ticket_kind": "complaint"}
    )

    assert (ActionExecutionRejected("ticket_form") in events) is leaves


async def test_change_at_the_review_asks_every_answer_again(dispatcher):
    events = await read_answer(
        dispatcher,
        "ticket_confirmed",
        "地点写错了，需要修改",
        intent="deny",
        slots=FILLED,
    )

    slots = slot_events(events)
    assert responses(dispatcher) == ["utter_ticket_change"]
    assert slots["ticket_confirmed"] is None and slots["ticket_location"] is None
    assert "ticket_instance" not in slots  # the same ticket, asked again


@pytest.mark.parametrize("typed", ["不要了", "不投诉了", "我不想投诉了", "算了"])
async def test_withdrawing_in_words_ends_the_form_unfiled(dispatcher, typed):
    events = await read_answer(
        dispatcher,
        "ticket_location",
        typed,
        intent="deny",
        slots={"ticket_kind": "complaint", "ticket_description": LAMP},
    )

    slots = slot_events(events)
    assert slots["ticket_confirmed"] is False
    assert slots["requested_slot"] is None


async def test_a_digression_rerun_does_not_reject_again(dispatcher):
    """转人工 in the form: the rule runs the form again on the same message;
    with no new answer to read it must ask again, not reject (a loop)."""
    tracker = make_tracker(
        "转人工",
        intent="request_agent",
        slots={"ticket_kind": "complaint"},
        requested_slot="ticket_location",
        active_loop="ticket_form",
    )

    events = await ticket.ValidateTicketForm().run(dispatcher, tracker, TICKET_DOMAIN)

    assert ActionExecutionRejected("ticket_form") not in events


async def test_no_at_the_phone_takes_the_consent_back(dispatcher):
    events = await read_answer(
        dispatcher,
        "ticket_phone",
        "不留了",
        intent="deny",
        slots={"ticket_kind": "complaint", "ticket_contact_consent": True},
    )

    assert slot_events(events)["ticket_contact_consent"] is False
    assert responses(dispatcher) == []


async def test_personal_data_in_the_description_is_masked(dispatcher):
    typed = "物业乱收费，有事打我电话13800001111，身份证110101199003078515"
    events = await read_answer(dispatcher, "ticket_description", typed, intent="inform")

    description = slot_events(events)["ticket_description"]
    assert "13800001111" not in description and "110101199003078515" not in description
    assert description.startswith("物业乱收费")


def test_the_first_word_names_the_kind():
    assert ticket.kind_from_words("我要举报，有人建议我交钱插队办证") == "complaint"
    assert ticket.kind_from_words("建议多开公交，投诉太多了") == "suggestion"


def _after_offer(text: str, intent: str) -> Tracker:
    events = [
        {"event": "user", "text": LAMP},
        {
            "event": "bot",
            "text": "…",
            "metadata": {"utter_action": "utter_offer_ticket"},
        },
        {"event": "user", "text": text},
    ]
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.95}}
    return Tracker("citizen-1", {}, latest, events, False, None, {}, "action_listen")


async def test_a_typed_yes_to_the_offer_starts_the_ticket_with_its_message(dispatcher):
    events = await ticket.ActionAnswerYesNo().run(
        dispatcher, _after_offer("好的", "affirm"), {}
    )

    assert slot_events(events)["ticket_description"] == LAMP
    assert FollowupAction("ticket_form") in events
    assert responses(dispatcher) == ["utter_ticket_intro"]


async def test_a_no_to_the_offer_and_a_yes_to_nothing(dispatcher):
    await ticket.ActionAnswerYesNo().run(dispatcher, _after_offer("不用", "deny"), {})
    await ticket.ActionAnswerYesNo().run(
        dispatcher, make_tracker("好的", intent="affirm"), {}
    )

    assert responses(dispatcher) == ["utter_ticket_declined", "utter_anything_else"]


async def test_typed_register_after_the_offer_keeps_its_message(dispatcher):
    events = await ticket.ActionStartTicket().run(
        dispatcher, _after_offer("登记", "report_issue"), {}
    )

    assert slot_events(events)["ticket_description"] == LAMP


@pytest.mark.parametrize(
    ("text", "slots", "expected"),
    [
        ("我的工单到哪一步了", {}, "utter_ask_ticket_no"),
        ("查询GD123", {}, "utter_invalid_ticket_no"),
    ],
)
async def test_ticket_status_without_a_number(dispatcher, text, slots, expected):
    tracker = make_tracker(text, intent="check_status", slots=slots)

    await ActionCheckApplicationStatus().run(dispatcher, tracker, {})

    assert responses(dispatcher) == [expected]


async def test_ticket_status_uses_the_conversations_last_ticket(dispatcher, backend):
    await file(dispatcher)
    number = dispatcher.messages[0]["ticket_no"]
    dispatcher.messages.clear()

    tracker = make_tracker(
        "我的工单到哪一步了", intent="check_status", slots={"ticket_no": number}
    )
    await ActionCheckApplicationStatus().run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_ticket_status"]


def test_a_report_is_no_yes_to_a_scenario_or_consent_question():
    from actions.form_base import parse_yes_no_or_intent

    assert parse_yes_no_or_intent("我要投诉", "report_issue") is None
    assert parse_yes_no_or_intent("要", "affirm") is True


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("没错", True),
        ("好的，提交", True),
        ("是的，提交", True),
        ("对，没问题", True),
        ("好的，谢谢", True),
        ("确认提交", True),
        ("不同意", False),
        ("我不同意", False),
        ("先不提交", False),
        ("不用了", False),
        ("内容不错，提交", None),
        ("我要先问问家里人", None),
        ("需要修改吗", None),
    ],
)
def test_plain_yes_and_no_at_consent_and_review(typed, expected):
    assert ticket.short_yes_no(typed, "inform") is expected


@pytest.mark.parametrize("slot", ["ticket_contact_consent", "ticket_phone"])
async def test_no_thanks_at_consent_or_phone_keeps_the_ticket(dispatcher, slot):
    events = await read_answer(
        dispatcher,
        slot,
        "不用了",
        intent="deny",
        slots={"ticket_kind": "complaint", "ticket_contact_consent": True},
    )

    slots = slot_events(events)
    assert slots["ticket_contact_consent"] is False
    assert "ticket_confirmed" not in slots


async def test_no_change_needed_is_no_change(dispatcher):
    events = await read_answer(
        dispatcher,
        "ticket_confirmed",
        "不用修改，提交吧",
        intent="affirm",
        slots=FILLED,
    )

    assert "utter_ticket_change" not in responses(dispatcher)
    assert slot_events(events)["ticket_confirmed"] is True


@pytest.mark.parametrize(
    ("typed", "intent", "leaves"),
    [
        ('/choose_candidate{"kb_doc_id": "g1"}', "choose_candidate", True),
        ("/reject_candidates", "reject_candidates", True),
        ("都不是", "reject_candidates", True),
        ("3号楼", "choose_candidate", False),
    ],
)
async def test_clarification_buttons_mid_form_leave_it(
    dispatcher, typed, intent, leaves
):
    events = await read_answer(
        dispatcher,
        "ticket_location",
        typed,
        intent=intent,
        slots={"ticket_kind": "complaint"},
    )

    assert (ActionExecutionRejected("ticket_form") in events) is leaves


@pytest.mark.parametrize("typed", ["好的", "登记", "我要投诉"])
async def test_a_yes_or_a_trigger_is_no_place(dispatcher, typed):
    events = await read_answer(
        dispatcher,
        "ticket_location",
        typed,
        intent="inform",
        slots={"ticket_kind": "complaint"},
    )

    assert slot_events(events)["ticket_location"] is None


async def test_a_phone_typed_into_the_place_is_masked(dispatcher):
    typed = "幸福路12号 电话13987654321"
    events = await read_answer(
        dispatcher,
        "ticket_location",
        typed,
        intent="inform",
        slots={"ticket_kind": "complaint"},
    )

    place = slot_events(events)["ticket_location"]
    assert "13987654321" not in place
    assert place.startswith("幸福路12号")  # the place itself is what is filed


async def test_never_mind_the_phone_is_a_no_not_a_cancel(dispatcher):
    events = await read_answer(
        dispatcher,
        "ticket_contact_consent",
        "算了不留了",
        intent="cancel",
        slots={"ticket_kind": "complaint"},
    )

    assert ActionExecutionRejected("ticket_form") not in events
    assert slot_events(events)["ticket_contact_consent"] is False
