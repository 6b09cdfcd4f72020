"""12345 tickets (工单): a complaint, a request for help or a suggestion.

Triage reads a free message the knowledge base could not answer; when it
reads a complaint or a suggestion, the citizen is offered a ticket. The
ticket form asks what, where, when (complaints only) and whether the
citizen may be contacted, shows the ticket for confirmation, and files it
once (the key is the conversation and the form instance). The words of
every reply are in domain.yml (docs/triage.md, "What a citizen sees").
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import (
    ActionExecutionRejected,
    ActiveLoop,
    EventType,
    FollowupAction,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions import metrics, parsing
from actions.backend_client import (
    BackendRejected,
    BackendUnavailable,
    TicketRequest,
    make_idempotency_key,
)
from actions.form_base import latest_intent, parse_yes_no_or_intent
from actions.services import get_services
from bot.privacy import redact

logger = logging.getLogger(__name__)

FORM = "ticket_form"
KIND_SLOT = "ticket_kind"
TOPIC_SLOT = "ticket_topic"
INSTANCE_SLOT = "ticket_instance"
DESCRIPTION_SLOT = "ticket_description"
LOCATION_SLOT = "ticket_location"
OCCURRED_SLOT = "ticket_occurred"
CONSENT_SLOT = "ticket_contact_consent"
PHONE_SLOT = "ticket_phone"
CONFIRMED_SLOT = "ticket_confirmed"
TICKET_NO_SLOT = "ticket_no"
# What the form collects; emptied once the ticket is filed or dropped.
COLLECTED_SLOTS = (
    KIND_SLOT,
    TOPIC_SLOT,
    INSTANCE_SLOT,
    DESCRIPTION_SLOT,
    LOCATION_SLOT,
    OCCURRED_SLOT,
    CONSENT_SLOT,
    PHONE_SLOT,
    CONFIRMED_SLOT,
)

PLACE_KEEPS = frozenset({"address"})
# The steps answered in the citizen's own words.
FREE_TEXT_SLOTS = (DESCRIPTION_SLOT, LOCATION_SLOT, OCCURRED_SLOT)

COMPLAINT = "complaint"
SUGGESTION = "suggestion"
KIND_LABELS = {COMPLAINT: "投诉/求助", SUGGESTION: "建言"}
OTHER_TOPIC = "其他"
# Below this probability the topic is left to the operator (其他). Eleven
# balanced classes spread the probability thin: a plain 路灯 complaint reads
# 城建 at 0.25.
TOPIC_MIN_SCORE = 0.2
# A clarification is replaced by the ticket offer only when triage is this sure.
OFFER_OVER_CLARIFY = 0.6
# Below this, a complaint is handed to a person instead of offered a ticket.
UNSURE_COMPLAINT = 0.5

MIN_DESCRIPTION_CHARS = 6
MAX_DESCRIPTION_CHARS = 1000
MAX_LOCATION_CHARS = 256
MAX_OCCURRED_CHARS = 128
NOT_GIVEN = "未说明"
_NOTHING = re.compile(
    r"^(无|没有|不涉及|不知道|不清楚|不记得|不确定|没|不)了?[。.!！]?$"
)
_SUGGESTION_WORDS = re.compile(r"建议|意见|提议|希望能")
_COMPLAINT_WORDS = re.compile(r"投诉|举报|反映|求助|曝光")
# "我要投诉" and the like carry no description of their own.
_TRIGGER_WORDS = re.compile(
    r"我?(要|想|想要)?(投诉|举报|反映|求助|提(个|一个|点)?(建议|意见)|建议)(一下|个|一个)?(问题|情况)?"
)
_MEANINGFUL = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")
_NO_PHONE = re.compile(r"不留|不给|不方便留|不想留")
_REGISTER_WORDS = re.compile(r"(帮我|那就|要)?登记(工单)?(吧|一下)?")
# Withdrawing the ticket in words the NLU may not read as 取消.
_WITHDRAW = re.compile(
    r"^(不要了|不用了|不投诉了|不反映了|不举报了|不提了|不登记了|不办了|算了"
    r"|我?不想(投诉|反映|举报|提|登记)了?)"
)
# Yes and no at the consent and confirmation steps: a short answer, or it
# is asked again ("需要修改" is no yes, "我要先问问家里人" no consent).
# A no starts the answer: 不同意 · 先不提交 · 不用了 (内容不错 is no no).
_NO_ANSWER = re.compile(r"^(我|还是)?(不|别|先不|先等|再想想|拒绝|取消|算了|没有)")
_PARTS = re.compile(r"[\s，,。.!！、~～]+")
# Each comma-separated part of a plain yes: 好的，提交 · 对，没问题 · 没错.
_YES_PART = re.compile(
    r"^(我)?(是|是的|对|对的|好|好的|好吧|行|可以|可以的|同意|愿意|没问题|没有问题|没错|不错"
    r"|嗯|嗯嗯|确认|确认提交|提交|提交吧|留|要|需要|ok|谢谢|麻烦了"
    r"|不用改|不用修改|不需要修改|无需修改)[啊吧的呀了]*$",
    re.IGNORECASE,
)
_CHANGE_ANSWER = re.compile(
    r"(?<!不用)(?<!不需要)(?<!无需)(?<!不必)(修改|改一下|重新填|重填|写错)"
)
# Commands that leave the form; anything else typed is an answer.
LEAVE_INTENTS = frozenset({"cancel", "request_agent"})
# A clarification's buttons (or a typed 都不是) pressed mid-form: the rules
# answer them, then the form asks again. Typed text with a number in it
# ("3号楼") may read as a pick, so only the buttons' payloads count.
CANDIDATE_INTENTS = frozenset({"choose_candidate", "reject_candidates"})
LEAVE_CONFIDENCE = 0.8


def kind_from_words(text: str) -> str | None:
    """``suggestion`` or ``complaint`` when the citizen names it, else None.

    The word that comes first wins: 我要举报，有人建议我… is a complaint.
    """
    found = [
        (match.start(), kind)
        for kind, words in (
            (COMPLAINT, _COMPLAINT_WORDS),
            (SUGGESTION, _SUGGESTION_WORDS),
        )
        if (match := words.search(text))
    ]
    return min(found)[1] if found else None


def own_description(text: str) -> str | None:
    """The message as a description, unless it only asks to report something."""
    text = text.strip()
    if text.startswith("/"):
        return None
    rest = _TRIGGER_WORDS.sub("", text)
    return text if meaningful_chars(rest) >= MIN_DESCRIPTION_CHARS else None


def meaningful_chars(text: str) -> int:
    """Chinese characters, letters and digits in ``text`` (not emoji or dots)."""
    return len(_MEANINGFUL.findall(text))


def previous_user_text(tracker: Tracker) -> str | None:
    """The user message before the latest one (the one a ticket was offered for)."""
    texts = [
        str(event.get("text") or "")
        for event in tracker.events
        if event.get("event") == "user"
    ]
    return texts[-2] if len(texts) >= 2 else None


def triage_reading(text: str) -> Any:
    """The triage model's reading of ``text``, or None without a model."""
    model = get_services().triage
    return model.predict(text) if model is not None and text else None


def message_reading(tracker: Tracker) -> Any:
    """Triage's reading of the latest message; None inside a form or without a model."""
    if tracker.active_loop.get("name"):
        return None
    return triage_reading(str(tracker.latest_message.get("text") or ""))


def unsure_complaint(reading: Any, outcome: str) -> bool:
    """Whether a message the KB has nothing for reads as a complaint, unsurely.

    Such a message goes to a person (actions.handoff) rather than to the
    ticket offer: on the held-out split, 59% of complaints read below
    :data:`UNSURE_COMPLAINT` are complaints, against 81% above it
    (docs/handoff.md).
    """
    return (
        outcome == "no_answer"
        and reading is not None
        and reading.kind == COMPLAINT
        and reading.kind_score < UNSURE_COMPLAINT
    )


def offer_ticket(
    dispatcher: CollectingDispatcher, tracker: Tracker, outcome: str, reading: Any
) -> bool:
    """Offer a ticket instead of a no-answer (or an unsure clarification).

    ``reading`` is :func:`message_reading`'s for this message.

    Returns:
        True when the offer was made (the caller sends nothing else).
    """
    if tracker.active_loop.get("name"):
        return False
    if reading is None or reading.kind not in KIND_LABELS:
        return False
    if outcome == "clarify" and reading.kind_score < OFFER_OVER_CLARIFY:
        return False
    logger.info(
        "actions.ticket.offered",
        extra={"kind": reading.kind, "score": reading.kind_score, "kb": outcome},
    )
    dispatcher.utter_message(
        response="utter_offer_ticket", ticket_kind_label=KIND_LABELS[reading.kind]
    )
    return True


class ActionStartTicket(Action):
    """Begin a ticket: its kind, and the description when already given."""

    def name(self) -> str:
        return "action_start_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return start_ticket(dispatcher, tracker)


def start_ticket(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """Slot events that begin a ticket form, and its introduction.

    The description is the message itself when it describes something, else
    the message a ticket was just offered for (the 登记工单 button, a typed
    登记 or 好的), else it is asked.
    """
    text = str(tracker.latest_message.get("text") or "")
    description = own_description(text)
    if description is None and (text.startswith("/") or offer_was_last(tracker)):
        description = own_description(previous_user_text(tracker) or "")
    kind = (
        kind_from_words(text)
        or kind_from_words(description or "")
        or _triage_kind(description)
    )
    logger.info(
        "actions.ticket.started",
        extra={"kind": kind, "has_description": description is not None},
    )
    dispatcher.utter_message(response="utter_ticket_intro")
    return [
        *(SlotSet(slot, None) for slot in COLLECTED_SLOTS),
        SlotSet(INSTANCE_SLOT, uuid.uuid4().hex),
        SlotSet(KIND_SLOT, kind),
        SlotSet(DESCRIPTION_SLOT, masked_description(description)),
    ]


def offer_was_last(tracker: Tracker) -> bool:
    """Whether the bot's last message was the ticket offer."""
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            metadata = event.get("metadata") or {}
            return metadata.get("utter_action") == "utter_offer_ticket"
    return False


class ActionAnswerYesNo(Action):
    """A yes or a no outside any form: to the ticket offer, or to nothing."""

    def name(self) -> str:
        return "action_answer_yes_no"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if offer_was_last(tracker):
            if latest_intent(tracker) == "affirm":
                return [*start_ticket(dispatcher, tracker), FollowupAction(FORM)]
            dispatcher.utter_message(response="utter_ticket_declined")
            return []
        dispatcher.utter_message(response="utter_anything_else")
        return []


def _triage_kind(description: str | None) -> str | None:
    reading = triage_reading(description or "")
    if reading is None:
        return None
    return reading.kind if reading.kind in KIND_LABELS else COMPLAINT


def _clip(text: str | None, limit: int) -> str | None:
    return text[:limit] if text else text


def masked_description(text: str | None) -> str | None:
    """The description as it is filed: personal data typed into it masked.

    The ticket reaches the citizen's phone only through the consent step;
    a 身份证号 or phone inside the words is not needed to handle it.
    """
    return _clip(redact(text), MAX_DESCRIPTION_CHARS) if text else text


class ValidateTicketForm(FormValidationAction):
    """Reads each answer of the ticket form; free text is always an answer."""

    def name(self) -> str:
        return "validate_ticket_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        skipped = set()
        if tracker.get_slot(KIND_SLOT) == SUGGESTION:
            skipped.add(OCCURRED_SLOT)  # a suggestion has no "when"
        if tracker.get_slot(CONSENT_SLOT) is not True:
            skipped.add(PHONE_SLOT)
        return [slot for slot in domain_slots if slot not in skipped]

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        requested = tracker.get_slot(REQUESTED_SLOT)
        # Only a message read for the asked slot can leave the form: when the
        # form runs again after a digression (转人工, a question) there is
        # none, and rejecting again would loop until Rasa's circuit breaker.
        answering = requested in tracker.slots_to_validate()
        if answering and leaves_form(tracker, requested):
            return [SlotSet(requested, None), ActionExecutionRejected(self.form_name())]
        # At the consent, phone and review steps 不用了 is a no, not a withdrawal.
        if answering and requested in FREE_TEXT_SLOTS and withdraws(tracker):
            logger.info("actions.ticket.withdrawn")
            return [*withdrawn_answers(), SlotSet(REQUESTED_SLOT, None)]
        return await super().get_validation_events(dispatcher, tracker, domain)

    def validate_ticket_description(
        self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if meaningful_chars(text) < MIN_DESCRIPTION_CHARS or text.startswith("/"):
            dispatcher.utter_message(response="utter_invalid_ticket_description")
            return {DESCRIPTION_SLOT: None}
        slots: dict[str, Any] = {DESCRIPTION_SLOT: masked_description(text)}
        if tracker.get_slot(KIND_SLOT) is None:
            slots[KIND_SLOT] = kind_from_words(text) or _triage_kind(text)
        return slots

    def validate_ticket_location(
        self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        place = free_text(value, MAX_LOCATION_CHARS, shortest=2)
        if place is not None and not_a_place(place):
            place = None
        if place is None:
            dispatcher.utter_message(response="utter_invalid_ticket_location")
        # The place is the ticket's point: an address stays, a phone goes.
        return {LOCATION_SLOT: redact(place, PLACE_KEEPS) if place else place}

    def validate_ticket_occurred(
        self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        when = free_text(value, MAX_OCCURRED_CHARS, shortest=1)
        if when is None:
            dispatcher.utter_message(response="utter_invalid_ticket_occurred")
        return {OCCURRED_SLOT: redact(when) if when else when}

    def validate_ticket_contact_consent(
        self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = short_yes_no(value, latest_intent(tracker))
        if answer is None:
            dispatcher.utter_message(response="utter_invalid_ticket_contact_consent")
        return {CONSENT_SLOT: answer}

    def validate_ticket_phone(
        self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        phone = parsing.parse_phone(str(value or ""))
        if phone is not None:
            return {PHONE_SLOT: phone}
        if short_yes_no(value, latest_intent(tracker)) is False:
            # 不留了 at the phone: the consent is taken back, nothing asked.
            return {PHONE_SLOT: None, CONSENT_SLOT: False}
        dispatcher.utter_message(response="utter_invalid_ticket_phone")
        return {PHONE_SLOT: None}

    def validate_ticket_confirmed(
        self, value: Any, dispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if isinstance(value, str) and _CHANGE_ANSWER.search(value):
            # 修改: the answers are asked again, the description first.
            dispatcher.utter_message(response="utter_ticket_change")
            kept = (KIND_SLOT, TOPIC_SLOT, INSTANCE_SLOT)
            return {slot: None for slot in COLLECTED_SLOTS if slot not in kept}
        answer = short_yes_no(value, latest_intent(tracker))
        if answer is None:
            dispatcher.utter_message(response="utter_invalid_confirm")
        return {CONFIRMED_SLOT: answer}


def not_a_place(text: str) -> bool:
    """好的, 登记 or 我要投诉 typed where a place is asked."""
    if short_yes_no(text, None) is True or _TRIGGER_WORDS.fullmatch(text):
        return True
    return bool(_REGISTER_WORDS.fullmatch(text))


def withdraws(tracker: Tracker) -> bool:
    """Whether the message takes the ticket back (不要了, 不投诉了 …)."""
    text = str(tracker.latest_message.get("text") or "").strip()
    return bool(_WITHDRAW.match(text))


def withdrawn_answers() -> list[EventType]:
    """Fill what is left so the form ends unconfirmed: action_file_ticket
    then says the ticket was not filed and forgets the answers."""
    return [
        SlotSet(DESCRIPTION_SLOT, NOT_GIVEN),
        SlotSet(LOCATION_SLOT, NOT_GIVEN),
        SlotSet(OCCURRED_SLOT, NOT_GIVEN),
        SlotSet(CONSENT_SLOT, False),
        SlotSet(PHONE_SLOT, None),
        SlotSet(CONFIRMED_SLOT, False),
    ]


def leaves_form(tracker: Tracker, requested: str | None) -> bool:
    """Whether this message is not an answer: 取消 or 转人工, or a question
    asked instead of a place, a time or a yes (the rules answer it from the
    knowledge base, then the form asks again). A description may be a
    question ("为什么没人管？"), so it is always an answer."""
    intent = tracker.latest_message.get("intent") or {}
    name, confidence = intent.get("name"), intent.get("confidence") or 0.0
    text = str(tracker.latest_message.get("text") or "")
    if name in LEAVE_INTENTS and confidence >= LEAVE_CONFIDENCE:
        # 算了不留了 at the phone is a no to the phone, not to the ticket.
        return not (requested in (CONSENT_SLOT, PHONE_SLOT) and _NO_PHONE.search(text))
    if name in CANDIDATE_INTENTS and (text.startswith("/") or "都不是" in text):
        return True
    if requested == DESCRIPTION_SLOT or name not in ("ask_question", "nlu_fallback"):
        return False
    return parsing.looks_like_question(text)


def short_yes_no(value: Any, intent: str | None) -> bool | None:
    """A yes or no at the consent or confirmation step, else None.

    Stricter than the scenario questions' reader: a wrong yes here files a
    ticket or gives a phone away. Button payloads count by their intent.
    """
    if isinstance(value, bool):
        return value  # already read (a form re-validates filled slots)
    text = str(value or "").strip()
    if text.startswith("/"):
        return parse_yes_no_or_intent(text, intent)
    parts = [part for part in _PARTS.split(text) if part]
    if parts and all(_YES_PART.match(part) for part in parts):
        return True
    return False if _NO_ANSWER.match(text) else None


def free_text(value: Any, limit: int, *, shortest: int) -> str | None:
    """A place or time as typed; 无 / 不知道 → 未说明; None if unusable."""
    text = str(value or "").strip()
    if _NOTHING.match(text):
        return NOT_GIVEN
    if text.startswith("/") or not shortest <= len(text) <= limit:
        return None
    return text if meaningful_chars(text) else None


class ActionAskTicketConfirmed(Action):
    """Show the ticket as it will be filed and ask to confirm it."""

    def name(self) -> str:
        return "action_ask_ticket_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        kind = tracker.get_slot(KIND_SLOT) or COMPLAINT
        topic = ticket_topic(str(tracker.get_slot(DESCRIPTION_SLOT) or ""))
        phone = tracker.get_slot(PHONE_SLOT)
        dispatcher.utter_message(
            # A suggestion was never asked when: its review has no time line.
            response="utter_ask_ticket_confirmed_suggestion"
            if kind == SUGGESTION
            else "utter_ask_ticket_confirmed",
            ticket_kind_label=KIND_LABELS[kind],
            ticket_topic=topic,
            ticket_description=tracker.get_slot(DESCRIPTION_SLOT) or "",
            ticket_location=tracker.get_slot(LOCATION_SLOT) or NOT_GIVEN,
            ticket_occurred=tracker.get_slot(OCCURRED_SLOT) or NOT_GIVEN,
            ticket_contact=parsing.mask_phone(phone) if phone else "不留联系方式",
        )
        return [SlotSet(KIND_SLOT, kind), SlotSet(TOPIC_SLOT, topic)]


def ticket_topic(description: str) -> str:
    """The topic triage reads in the description, or 其他 when unsure."""
    reading = triage_reading(description)
    if reading is None or reading.topic_score < TOPIC_MIN_SCORE:
        return OTHER_TOPIC
    return reading.topic


def forget_ticket() -> list[EventType]:
    """Empty what the form collected (the ticket number stays)."""
    return [SlotSet(slot, None) for slot in COLLECTED_SLOTS]


class ActionFileTicket(Action):
    """File the confirmed ticket once; a retry reuses the same key."""

    def name(self) -> str:
        return "action_file_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        instance = tracker.get_slot(INSTANCE_SLOT)
        kind = tracker.get_slot(KIND_SLOT)
        if tracker.get_slot(CONFIRMED_SLOT) is not True or not instance:
            metrics.count_ticket(kind, "cancelled")
            dispatcher.utter_message(response="utter_ticket_cancelled")
            return forget_ticket()

        request = ticket_request(tracker)
        key = make_idempotency_key(tracker.sender_id, "ticket", str(instance))
        try:
            receipt = await get_services().backend.file_ticket(request, key)
        except BackendUnavailable as exc:
            logger.warning("actions.ticket.unavailable", extra={"code": exc.code})
            metrics.count_ticket(kind, "unavailable")
            dispatcher.utter_message(response="utter_ticket_unavailable")
            # Everything is kept; the form asks to confirm again.
            return [SlotSet(CONFIRMED_SLOT, None), FollowupAction(FORM)]
        except BackendRejected as exc:
            logger.error("actions.ticket.rejected", extra={"code": exc.code})
            metrics.count_ticket(kind, "rejected")
            dispatcher.utter_message(response="utter_ticket_rejected")
            return forget_ticket()

        metrics.count_ticket(receipt.kind, "filed")
        logger.info(
            "actions.ticket.filed",
            extra={
                "ticket_no": receipt.ticket_no,
                "kind": receipt.kind,
                "topic": receipt.topic,
                "replayed": receipt.replayed,
            },
        )
        dispatcher.utter_message(
            response="utter_ticket_filed",
            ticket_no=receipt.ticket_no,
            ticket_kind_label=KIND_LABELS.get(receipt.kind, receipt.kind),
            ticket_topic=receipt.topic,
        )
        return [*forget_ticket(), SlotSet(TICKET_NO_SLOT, receipt.ticket_no)]


def ticket_request(tracker: Tracker) -> TicketRequest:
    """The ticket as the backend takes it, from the form's slots."""

    def given(slot: str) -> str | None:
        value = tracker.get_slot(slot)
        return None if value in (None, NOT_GIVEN) else str(value)

    channel = tracker.get_latest_input_channel() or "other"
    return TicketRequest(
        kind=tracker.get_slot(KIND_SLOT) or COMPLAINT,
        topic=tracker.get_slot(TOPIC_SLOT) or OTHER_TOPIC,
        description=str(tracker.get_slot(DESCRIPTION_SLOT) or ""),
        location=given(LOCATION_SLOT),
        occurred=given(OCCURRED_SLOT),
        contact_phone=tracker.get_slot(PHONE_SLOT)
        if tracker.get_slot(CONSENT_SLOT) is True
        else None,
        channel=channel if channel in ("web", "wechat") else "other",
    )


class ActionCancelTicket(Action):
    """Leave the ticket form without filing; what it collected is dropped."""

    def name(self) -> str:
        return "action_cancel_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        logger.info("actions.ticket.cancelled")
        metrics.count_ticket(tracker.get_slot(KIND_SLOT), "cancelled")
        dispatcher.utter_message(response="utter_ticket_cancelled")
        return [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None), *forget_ticket()]
