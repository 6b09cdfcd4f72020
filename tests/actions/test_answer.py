"""action_answer_question / action_answer_candidate against a fake knowledge base."""

from __future__ import annotations

import dataclasses
import json

from actions.answer import ActionAnswerCandidate, ActionAnswerQuestion
from actions.errors import KnowledgeBaseUnavailable
from actions.kb_client import KbHit, KbSearchResult
from tests.actions.conftest import make_tracker, responses, slot_events

GUIDE = KbHit(
    "guide-id-card-first",
    "guide",
    "居民身份证首次申领",
    "携带户口簿到派出所办理。",
    "县级公安机关户籍窗口",
    "https://example.gov.cn/id-card",
    0.83,
)
FAQ = KbHit("faq-0001", "faq", "社保卡补办", "到社保经办机构补办。", None, None, 0.7)


async def run_question(dispatcher, text="第一次办身份证要带什么"):
    tracker = make_tracker(text, intent="ask_question")
    return await ActionAnswerQuestion().run(dispatcher, tracker, {})


async def test_answer_shows_the_hit_with_its_source(kb, dispatcher):
    kb.result = KbSearchResult("answer", (GUIDE, FAQ))
    await run_question(dispatcher)
    message = dispatcher.messages[0]
    assert message["response"] == "utter_kb_answer"
    assert message["answer"] == GUIDE.answer
    assert message["source_title"] == GUIDE.title
    assert message["source_url"] == GUIDE.source_url
    assert message["department"] == GUIDE.department
    assert kb.queries == ["第一次办身份证要带什么"]


async def test_answer_without_department_uses_the_shorter_response(kb, dispatcher):
    kb.result = KbSearchResult("answer", (FAQ,))
    await run_question(dispatcher)
    assert responses(dispatcher) == ["utter_kb_answer_no_department"]
    assert dispatcher.messages[0]["source_url"] == ""


async def test_a_rendered_guide_is_not_given_its_source_twice(kb, dispatcher):
    rendered = KbHit(
        GUIDE.doc_id,
        "guide",
        GUIDE.title,
        f"【{GUIDE.title}】\n办理部门：{GUIDE.department}\n来源：{GUIDE.source_url}",
        GUIDE.department,
        GUIDE.source_url,
        0.9,
    )
    kb.result = KbSearchResult("answer", (rendered,))
    await run_question(dispatcher)
    assert responses(dispatcher) == ["utter_kb_answer_rendered"]


async def test_a_question_about_one_fact_gets_that_fact_with_the_guide_cited(
    kb, dispatcher
):
    materials = "申请材料：\n1. 居民户口簿"
    hit = dataclasses.replace(GUIDE, field="materials", field_answer=materials)
    kb.result = KbSearchResult("answer", (hit,))
    await run_question(dispatcher)
    message = dispatcher.messages[0]
    assert message["response"] == "utter_kb_field_answer"
    assert message["field_answer"] == materials
    assert message["source_title"] == GUIDE.title
    assert message["source_url"] == GUIDE.source_url


async def test_a_fact_without_a_source_falls_back_to_the_whole_entry(kb, dispatcher):
    hit = dataclasses.replace(FAQ, field="fee", field_answer="收费：不收费")
    kb.result = KbSearchResult("answer", (hit,))
    await run_question(dispatcher)
    assert responses(dispatcher) == ["utter_kb_answer_no_department"]


async def test_clarify_offers_one_button_per_candidate(kb, dispatcher):
    kb.result = KbSearchResult("clarify", (GUIDE, FAQ))
    events = await run_question(dispatcher)
    message = dispatcher.messages[0]
    assert message["response"] == "utter_kb_clarify"
    payloads = [button["payload"] for button in message["buttons"]]
    assert payloads[0].startswith("/choose_candidate{")
    assert json.loads(payloads[0].removeprefix("/choose_candidate")) == {
        "kb_doc_id": "guide-id-card-first"
    }
    assert slot_events(events) == {"kb_candidates": ["guide-id-card-first", "faq-0001"]}


async def test_no_answer_never_guesses(kb, dispatcher):
    kb.result = KbSearchResult("no_answer", (GUIDE,))
    await run_question(dispatcher)
    assert responses(dispatcher) == ["utter_kb_no_answer"]


async def test_answer_with_no_hits_is_no_answer(kb, dispatcher):
    kb.result = KbSearchResult("answer", ())
    await run_question(dispatcher)
    assert responses(dispatcher) == ["utter_kb_no_answer"]


async def test_kb_down_says_service_unavailable(kb, dispatcher):
    kb.error = KnowledgeBaseUnavailable("ClientConnectorError")
    await run_question(dispatcher)
    assert responses(dispatcher) == ["utter_service_unavailable"]


async def test_empty_or_payload_text_is_not_sent_to_the_kb(kb, dispatcher):
    await run_question(dispatcher, text="/ask_question")
    assert responses(dispatcher) == ["utter_kb_no_answer"]
    assert kb.queries == []


async def test_candidate_from_the_button_payload_is_answered_by_id(kb, dispatcher):
    kb.documents = {GUIDE.doc_id: GUIDE}
    tracker = make_tracker(
        "/choose_candidate",
        intent="choose_candidate",
        entities=[{"entity": "kb_doc_id", "value": GUIDE.doc_id}],
    )
    events = await ActionAnswerCandidate().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_kb_answer"]
    assert kb.queries == [GUIDE.doc_id]
    assert slot_events(events) == {"kb_doc_id": None}


async def test_typed_ordinal_picks_from_the_last_candidates(kb, dispatcher):
    kb.documents = {FAQ.doc_id: FAQ}
    tracker = make_tracker(
        "第二个",
        intent="choose_candidate",
        slots={"kb_candidates": [GUIDE.doc_id, FAQ.doc_id]},
    )
    await ActionAnswerCandidate().run(dispatcher, tracker, {})
    assert kb.queries == [FAQ.doc_id]


async def test_a_typed_pick_without_an_id_is_searched_as_a_question(kb, dispatcher):
    """A message with a phone number reads like 第2个 to the NLU."""
    kb.result = KbSearchResult("no_answer", ())
    tracker = make_tracker(
        "我电话13912345678，养狗要办什么证", intent="choose_candidate"
    )
    await ActionAnswerCandidate().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_kb_no_answer"]
    assert kb.queries == ["我电话 ，养狗要办什么证"]


async def test_a_pick_payload_without_an_id_is_no_answer(kb, dispatcher):
    tracker = make_tracker("/choose_candidate", intent="choose_candidate")
    await ActionAnswerCandidate().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_kb_no_answer"]
    assert kb.queries == []


async def test_candidate_gone_from_the_kb_is_no_answer(kb, dispatcher):
    tracker = make_tracker(
        "/choose_candidate", entities=[{"entity": "kb_doc_id", "value": "faq-gone"}]
    )
    await ActionAnswerCandidate().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_kb_no_answer"]


async def test_candidate_with_kb_down_says_service_unavailable(kb, dispatcher):
    kb.error = KnowledgeBaseUnavailable("TimeoutError")
    tracker = make_tracker(
        "/choose_candidate", entities=[{"entity": "kb_doc_id", "value": GUIDE.doc_id}]
    )
    await ActionAnswerCandidate().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_service_unavailable"]


def followups(events) -> list[str]:
    return [e["name"] for e in events if e.get("event") == "followup"]


async def test_an_answer_outside_a_form_ends_the_turn(kb, dispatcher):
    # As RulePolicy's core fallback, the action would otherwise be predicted
    # again and again until Rasa's circuit breaker silences the conversation.
    kb.result = KbSearchResult("no_answer", ())
    tracker = make_tracker("好的", intent="affirm")

    events = await ActionAnswerQuestion().run(dispatcher, tracker, {})

    assert followups(events) == ["action_listen"]
    assert responses(dispatcher) == ["utter_kb_no_answer"]


async def test_a_clarification_outside_a_form_also_ends_the_turn(kb, dispatcher):
    kb.result = KbSearchResult("clarify", (GUIDE, FAQ))

    events = await run_question(dispatcher)

    assert followups(events) == ["action_listen"]


async def test_an_answer_inside_a_form_lets_the_form_ask_again(kb, dispatcher):
    kb.result = KbSearchResult("answer", (GUIDE,))
    tracker = make_tracker("要多久", intent="ask_question", active_loop="scenario_form")

    events = await ActionAnswerQuestion().run(dispatcher, tracker, {})

    assert followups(events) == []


async def test_a_long_message_is_cut_to_what_the_kb_accepts(kb, dispatcher):
    kb.result = KbSearchResult("no_answer", ())

    await run_question(dispatcher, "身份证丢了怎么补办" + "啊" * 2000)

    assert len(kb.queries[0]) == 500
    assert kb.queries[0].startswith("身份证丢了怎么补办")
    assert responses(dispatcher) == ["utter_kb_no_answer"]


async def test_a_lone_surrogate_does_not_reach_the_kb(kb, dispatcher):
    kb.result = KbSearchResult("no_answer", ())

    await run_question(dispatcher, "身份证\ud800怎么办")

    kb.queries[0].encode("utf-8")  # raises if a surrogate got through
