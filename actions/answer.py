"""Answering policy and procedure questions from the knowledge base, with the source.

``answer`` → ``utter_kb_answer``; ``clarify`` → ``utter_kb_clarify`` with one
button per candidate and a 都不是 button; ``no_answer`` → ``utter_kb_no_answer``
(never a guess); the service down → ``utter_service_unavailable``. A no-answer
and a rejected clarification are recorded for the review loop (actions.review).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import handoff, metrics, parsing, review
from actions.errors import KnowledgeBaseUnavailable
from actions.kb_client import KbHit
from actions.services import get_services
from actions.ticket import message_reading, offer_ticket, unsure_complaint
from bot import privacy
from bot.privacy import redact

logger = logging.getLogger(__name__)

TOP_K = 3
KB_DOC_SLOT = "kb_doc_id"
CANDIDATES_SLOT = "kb_candidates"
REJECT_PAYLOAD = "/reject_candidates"
# The 都不是 button's title; domain.yml holds the wording.
REJECT_LABEL_RESPONSE = "utter_kb_reject_label"
# The custom payload of a KB answer that the page's 👍/👎 refers to.
FEEDBACK_KEY = "kb_feedback"


def answer_response(hit: KbHit) -> str:
    """Which ``utter_kb_answer*`` response shows this entry.

    A rendered guide already carries its department and source URL; showing
    them twice would bury the answer, so such entries use the plain response.
    """
    if hit.source_url and hit.source_url in hit.answer:
        return "utter_kb_answer_rendered"
    return "utter_kb_answer" if hit.department else "utter_kb_answer_no_department"


def feedback_payload(hit: KbHit) -> dict[str, Any]:
    """Which entry a 👍/👎 on this answer is about, and how it scored.

    The web channel keeps it beside the turn's question (channels.feedback);
    other channels drop it. It never holds the message's words.
    """
    return {FEEDBACK_KEY: {"doc_id": hit.doc_id, "score": hit.score}}


def utter_hit(dispatcher: CollectingDispatcher, hit: KbHit) -> None:
    """Show one entry with its source; the wording is in domain.yml.

    A question about one fact of a guide ("要带什么材料") gets that fact,
    under the guide's name and with its source, instead of the whole guide.
    The message carries :func:`feedback_payload`.
    """
    if hit.field_answer and hit.source_url:
        dispatcher.utter_message(
            response="utter_kb_field_answer",
            json_message=feedback_payload(hit),
            field_answer=hit.field_answer,
            source_title=hit.title,
            source_url=hit.source_url,
        )
        return
    response = answer_response(hit)
    dispatcher.utter_message(
        response=response,
        json_message=feedback_payload(hit),
        answer=hit.answer,
        source_title=hit.title,
        source_url=hit.source_url or "",
        department=hit.department or "",
    )


def candidate_buttons(
    hits: tuple[KbHit, ...], domain: dict[str, Any] | None = None
) -> list[dict[str, str]]:
    """One button per candidate (its payload answers that entry by id), then 都不是.

    The 都不是 button needs its title from ``domain``; without one it is left
    out rather than worded here.
    """
    buttons = [
        {
            "title": hit.title,
            "payload": "/choose_candidate" + json.dumps({KB_DOC_SLOT: hit.doc_id}),
        }
        for hit in hits
    ]
    label = response_text(domain or {}, REJECT_LABEL_RESPONSE)
    if label:
        buttons.append({"title": label, "payload": REJECT_PAYLOAD})
    return buttons


def response_text(domain: dict[str, Any], name: str) -> str | None:
    """The first text of the response ``name`` in the domain, if it has one."""
    variants = (domain.get("responses") or {}).get(name) or []
    text = variants[0].get("text") if variants else None
    return text if isinstance(text, str) and text else None


def clarified_question(tracker: Tracker) -> str | None:
    """The message that led to the latest clarification, if one is pending.

    That is the last user message before the latest non-empty
    ``kb_candidates``, which the clarification sets in the same turn.
    """
    seen_candidates = False
    for event in reversed(tracker.events):
        if event.get("event") == "slot" and event.get("name") == CANDIDATES_SLOT:
            if not event.get("value"):
                return None
            seen_candidates = True
        elif seen_candidates and event.get("event") == "user":
            text = event.get("text") or ""
            return None if text.startswith("/") else text
    return None


def chosen_doc_id(tracker: Tracker) -> str | None:
    """The picked entry: a button's id, else 第N个 among the last candidates."""
    doc_id = next(tracker.get_latest_entity_values(KB_DOC_SLOT), None)
    if doc_id:
        return str(doc_id)
    candidates = tracker.get_slot(CANDIDATES_SLOT) or []
    index = parsing.parse_ordinal(tracker.latest_message.get("text") or "")
    if index is not None and 0 <= index < len(candidates):
        return str(candidates[index])
    return None


_PERSONAL_LABEL = re.compile(
    "|".join(
        re.escape(label)
        for label in (
            privacy.MOBILE,
            privacy.LANDLINE,
            privacy.ID_NUMBER,
            privacy.CREDIT_CODE,
            privacy.BANK_CARD,
            privacy.EMAIL,
            privacy.ADDRESS,
        )
    )
)

# The KB service refuses longer queries; the start of a long message carries
# the question often enough, and a cut query beats a false "service down".
MAX_QUERY_CHARS = 500


def search_text(message: str | None) -> str:
    """The message as the KB should see it: trimmed, valid UTF-8, not too long,
    and without the personal data typed into it (a phone number or 身份证号
    only drags the search away, and the KB service need not see it)."""
    text = _PERSONAL_LABEL.sub(" ", redact(message or "")).strip()
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:MAX_QUERY_CHARS]


def in_form(tracker: Tracker) -> bool:
    return bool(tracker.active_loop.get("name"))


def reset_misses(tracker: Tracker) -> list[EventType]:
    """Forget earlier misses once the knowledge base has something to show."""
    if tracker.get_slot(handoff.MISSES_SLOT):
        return [SlotSet(handoff.MISSES_SLOT, 0)]
    return []


def listen_unless_in_form(tracker: Tracker) -> list[EventType]:
    """End the turn after an answer given outside a form.

    This action is also RulePolicy's core fallback; with no rule after it,
    the policy would predict the fallback again until Rasa's circuit
    breaker stops the conversation. Inside a form the form asks again.
    """
    if tracker.active_loop.get("name"):
        return []
    return [FollowupAction("action_listen")]


class ActionAnswerQuestion(Action):
    """Send the citizen's latest message to the knowledge base and reply."""

    def name(self) -> str:
        return "action_answer_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        query = search_text(tracker.latest_message.get("text"))
        if not query or query.startswith("/"):
            metrics.count_kb_answer("no_answer")
            dispatcher.utter_message(response="utter_kb_no_answer")
            return listen_unless_in_form(tracker)

        try:
            result = await get_services().kb.search(query, top_k=TOP_K)
        except KnowledgeBaseUnavailable as exc:
            logger.warning(
                "actions.answer.kb_unavailable", extra={"reason": exc.reason}
            )
            metrics.count_kb_answer("unavailable")
            dispatcher.utter_message(response="utter_service_unavailable")
            return listen_unless_in_form(tracker)

        logger.info(
            "actions.answer.done",
            extra={
                "outcome": result.outcome,
                "hits": len(result.hits),
                "query_chars": len(query),
                "intent": tracker.latest_message.get("intent", {}).get("name"),
            },
        )
        answered = result.outcome == "answer" and result.hits
        reading = None if answered else message_reading(tracker)
        if answered:
            metrics.count_kb_answer("answered")
            utter_hit(dispatcher, result.hits[0])
        elif unsure_complaint(reading, result.outcome):
            # Triage reads a complaint but is not sure: a person looks at it.
            metrics.count_kb_answer("handed_off")
            events = await handoff.hand_off(
                dispatcher, tracker, handoff.LOW_CONFIDENCE_COMPLAINT
            )
            return [*events, FollowupAction("action_listen")]
        elif offer_ticket(dispatcher, tracker, result.outcome, reading):
            # Triage read a complaint or a suggestion (actions.ticket).
            metrics.count_kb_answer("ticket_offered")
        elif result.outcome == "clarify" and result.hits:
            metrics.count_kb_answer("clarified")
            dispatcher.utter_message(
                response="utter_kb_clarify",
                buttons=candidate_buttons(result.hits, domain),
            )
            candidates = [hit.doc_id for hit in result.hits]
            return [
                SlotSet(CANDIDATES_SLOT, candidates),
                *reset_misses(tracker),
                *listen_unless_in_form(tracker),
            ]
        else:
            matches = review.hit_matches(result.hits)
            # The record keeps where personal data was ([手机号]); review
            # masks the message itself.
            typed = str(tracker.latest_message.get("text") or query)
            review.record_from_tracker(
                get_services(), tracker, review.NO_ANSWER, typed, matches
            )
            if in_form(tracker):
                # A question asked mid-form; the form asks its question again.
                metrics.count_kb_answer("no_answer")
                dispatcher.utter_message(response="utter_kb_no_answer")
                return []
            misses = handoff.count_miss(tracker)
            if misses >= handoff.MISSES_BEFORE_HANDOFF:
                metrics.count_kb_answer("handed_off")
                events = await handoff.hand_off(
                    dispatcher, tracker, handoff.REPEATED_FAILURES
                )
                return [*events, FollowupAction("action_listen")]
            metrics.count_kb_answer("no_answer")
            dispatcher.utter_message(response="utter_kb_no_answer")
            return [
                SlotSet(handoff.MISSES_SLOT, misses),
                FollowupAction("action_listen"),
            ]
        return [*reset_misses(tracker), *listen_unless_in_form(tracker)]


class ActionAnswerCandidate(Action):
    """Answer the entry the citizen picked from the clarification buttons."""

    def name(self) -> str:
        return "action_answer_candidate"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        doc_id = chosen_doc_id(tracker)
        text = str(tracker.latest_message.get("text") or "")
        if not doc_id and not text.startswith("/"):
            # The NLU took a typed message for a pick (a message full of
            # digits, such as a phone number, looks like 第2个): it is a
            # question, so it is searched like one.
            logger.info("actions.candidate.not_a_pick")
            events = await ActionAnswerQuestion().run(dispatcher, tracker, domain)
            return [SlotSet(KB_DOC_SLOT, None), *events]
        if not doc_id:
            metrics.count_kb_answer("no_answer")
            dispatcher.utter_message(response="utter_kb_no_answer")
            return [SlotSet(KB_DOC_SLOT, None)]

        try:
            hit = await get_services().kb.document(str(doc_id))
        except KnowledgeBaseUnavailable as exc:
            logger.warning(
                "actions.candidate.kb_unavailable", extra={"reason": exc.reason}
            )
            metrics.count_kb_answer("unavailable")
            dispatcher.utter_message(response="utter_service_unavailable")
            return [SlotSet(KB_DOC_SLOT, None)]

        if hit is None:
            logger.info("actions.candidate.missing")
            metrics.count_kb_answer("no_answer")
            dispatcher.utter_message(response="utter_kb_no_answer")
        else:
            metrics.count_kb_answer("answered")
            utter_hit(dispatcher, hit)
        return [SlotSet(KB_DOC_SLOT, None)]


class ActionRejectCandidates(Action):
    """The citizen said none of the candidates is it (都不是): record, apologise."""

    def name(self) -> str:
        return "action_reject_candidates"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        question = clarified_question(tracker)
        if question:
            candidates = tracker.get_slot(CANDIDATES_SLOT) or []
            matches = [(str(doc_id), None) for doc_id in candidates]
            review.record_from_tracker(
                get_services(), tracker, review.CLARIFY_REJECTED, question, matches
            )
        logger.info("actions.candidates.rejected", extra={"recorded": bool(question)})
        dispatcher.utter_message(response="utter_kb_candidates_rejected")
        return [SlotSet(CANDIDATES_SLOT, None), *listen_unless_in_form(tracker)]
