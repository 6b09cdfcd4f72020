"""Consent, 身份证号, the pre-filled integrated form, confirmation and submission.

``prefill_form`` first asks, for each item offering both routes, which one the
citizen takes (一般程序 or 告知承诺, with the latter's post-check and liability),
then asks for consent to pre-fill from the citizen's profile and
for the 身份证号 the backend files the application under; the consent is
recorded at the platform, which releases only the consented fields under it.
``confirm_form`` asks to confirm. A confirmed application goes to the durable
outbox first (actions.outbox), then to the platform, under an idempotency key
made from the sender and the run's id, so re-delivery, a retried 确认提交 or
a crash in between never creates a second application or loses one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions import metrics, parsing
from actions.backend_client import (
    BackendRejected,
    BackendUnavailable,
    ConsentRequest,
    Profile,
    ProfileNotFound,
)
from actions.delivery import Delivery, deliver
from actions.form_base import (
    AnswerFormValidation,
    latest_intent,
    parse_yes_no_or_intent,
)
from actions.outbox import DELIVERED, PENDING, OutboxConflict, OutboxEntry
from actions.scenario_form import current_scenario
from actions.scenario_state import (
    APPLICATION_NO_SLOT,
    CONFIRM_SLOT,
    CONSENT_SLOT,
    ID_NUMBER_SLOT,
    INSTANCE_SLOT,
    PREFILL_FIELDS,
    PREFILL_REQUIRED,
    ROUTE_CHOICE_SLOT,
    ROUTES_SLOT,
    answers_from,
    build_request,
    chosen_route,
    consent_key,
    idempotency_key,
    pending_route_choice,
    questions_complete,
)
from actions.services import Services, get_services
from knowledge_base.scenarios import Scenario, applicable_items

logger = logging.getLogger(__name__)


# Words for each route besides the package's own label (告知承诺, 一般程序).
ROUTE_WORDS = {
    "commitment": ("承诺", "告知承诺", "告知承诺制", "当天", "快"),
    "normal": ("一般", "普通", "常规", "正常", "一般程序", "先检查"),
}


def parse_route(text: Any, labels: dict[str, str]) -> str | None:
    """The route meant by ``text`` (告知承诺 → ``commitment``), or ``None``."""
    options = {
        route: (label, *ROUTE_WORDS.get(route, ())) for route, label in labels.items()
    }
    return parsing.parse_choice(str(text or ""), options)


class ValidatePrefillForm(AnswerFormValidation):
    """``route_choice`` per two-route item, ``prefill_consent`` (yes/no) and
    ``id_number`` (GB 11643 check digit)."""

    def name(self) -> str:
        return "validate_prefill_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[str]:
        scenario = current_scenario(tracker)
        if scenario is not None and pending_route_choice(scenario, tracker.slots):
            return [ROUTE_CHOICE_SLOT, *PREFILL_REQUIRED]
        return list(PREFILL_REQUIRED)

    def extra_events(self, slot: str, value: Any, tracker: Tracker) -> list[EventType]:
        """A chosen route is stored per item; the slot is emptied for the next."""
        if slot != ROUTE_CHOICE_SLOT:
            return []
        item = pending_route_choice(current_scenario(tracker), tracker.slots)
        choices = dict(tracker.get_slot(ROUTES_SLOT) or {})
        choices[item.id] = value
        logger.info("actions.route.chosen", extra={"item": item.id, "route": value})
        return [SlotSet(ROUTES_SLOT, choices), SlotSet(ROUTE_CHOICE_SLOT, None)]

    def read_answer(
        self, slot: str, value: Any, tracker: Tracker
    ) -> tuple[Any, str | None]:
        if slot == ROUTE_CHOICE_SLOT:
            scenario = current_scenario(tracker)
            if (
                scenario is None
                or pending_route_choice(scenario, tracker.slots) is None
            ):
                return None, None
            return parse_route(
                value, scenario.route_labels
            ), "utter_invalid_route_choice"
        if slot == CONSENT_SLOT:
            return parse_yes_no_or_intent(
                value, latest_intent(tracker)
            ), "utter_invalid_yes_no"
        if slot == ID_NUMBER_SLOT:
            check = parsing.check_id_number(str(value or ""))
            invalid = f"utter_invalid_id_number_{check.problem or 'length'}"
            return (check.value if check.ok else None), invalid
        return None, None


def just_said(tracker: Tracker, response: str) -> bool:
    """Whether the assistant sent ``response`` since the citizen's last message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        said = (event.get("metadata") or {}).get("utter_action")
        if event.get("event") == "bot" and said == response:
            return True
    return False


class ActionAskRouteChoice(Action):
    """Ask which route to take for the next item that offers two, explaining
    the 告知承诺 route from the item's own time note and note."""

    def name(self) -> str:
        return "action_ask_route_choice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        scenario = current_scenario(tracker)
        item = pending_route_choice(scenario, tracker.slots) if scenario else None
        if item is None:
            return []
        labels = scenario.route_labels
        # After an unclear answer the explanation is not repeated.
        again = just_said(tracker, "utter_invalid_route_choice")
        dispatcher.utter_message(
            response="utter_ask_route_choice_again"
            if again
            else "utter_ask_route_choice",
            item_name=item.name,
            time_note=item.time_note or "",
            note=item.note or "",
            buttons=[
                {"title": labels[route], "payload": labels[route]}
                for route in item.routes
            ],
        )
        return []


class ValidateConfirmForm(AnswerFormValidation):
    """``confirm_submission``: 确认提交 / 是 → True, 不 / 先不 → False."""

    def name(self) -> str:
        return "validate_confirm_form"

    def read_answer(
        self, slot: str, value: Any, tracker: Tracker
    ) -> tuple[Any, str | None]:
        if slot != CONFIRM_SLOT:
            return None, None
        return parse_yes_no_or_intent(
            value, latest_intent(tracker)
        ), "utter_invalid_confirm"


def form_lines(scenario: Scenario, slots: dict[str, Any]) -> tuple[str, str]:
    """The answers and the items of the integrated form, one per line."""
    answers = answers_from(slots, scenario)
    answer_lines = [
        f"{q.label}：{q.display(answers[q.slot])}"
        for q in scenario.questions
        if q.slot in answers
    ]
    items = applicable_items(scenario, answers)
    routes = slots.get(ROUTES_SLOT) or {}
    item_lines = [
        f"{n}. {item.name}（{item.department}）："
        + scenario.route_labels[chosen_route(item, routes)]
        for n, item in enumerate(items, 1)
    ]
    return "\n".join(answer_lines), "\n".join(item_lines)


class ActionPrefillApplication(Action):
    """Show the integrated form, pre-filled from the profile when consented."""

    def name(self) -> str:
        return "action_prefill_application"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        scenario = current_scenario(tracker)
        id_number = tracker.get_slot(ID_NUMBER_SLOT)
        if scenario is None or not id_number:
            dispatcher.utter_message(response="utter_nothing_to_submit")
            return []

        # TODO(#4): compare the profile's licences with the answers (a
        # profile may hold the 营业执照 the citizen said they lack).
        # SECURITY: the applicant is whoever types the 身份证号; a deployment
        # must take the identity from the channel's login (统一身份认证,
        # WeChat OAuth) before reading a profile. TODO(#8)
        profile = None
        if tracker.get_slot(CONSENT_SLOT):
            consent = ConsentRequest(
                id_number=id_number,
                fields=PREFILL_FIELDS,
                scenario_id=scenario.id,
                form_instance=str(tracker.get_slot(INSTANCE_SLOT) or ""),
            )
            key = consent_key(tracker.sender_id, consent.form_instance, id_number)
            profile = await self._profile(dispatcher, consent, key)

        answers, items = form_lines(scenario, tracker.slots)
        common = {
            "scenario_name": scenario.name,
            "locality": scenario.locality,
            "id_masked": parsing.mask_id_number(id_number),
            "answers": answers,
            "items": items,
        }
        if profile is None:
            dispatcher.utter_message(
                response="utter_integrated_application_plain", **common
            )
            return [SlotSet(CONSENT_SLOT, False)]
        # Shown masked: whoever typed the number may not be its holder
        # (TODO(#8): identity from a login); the form itself carries all of it.
        dispatcher.utter_message(
            response="utter_integrated_application",
            applicant_name=parsing.mask_name(profile.name),
            phone_masked=parsing.mask_phone(profile.phone),
            address=parsing.mask_address(profile.address),
            **common,
        )
        return []

    @staticmethod
    async def _profile(
        dispatcher: CollectingDispatcher, consent: ConsentRequest, key: str
    ) -> Profile | None:
        """Record the consent, then read the fields it releases."""
        backend = get_services().backend
        try:
            receipt = await backend.record_consent(consent, key)
            return await backend.get_profile(consent.id_number, receipt.consent_id)
        except ProfileNotFound:
            logger.info("actions.prefill.profile_not_found")
            dispatcher.utter_message(response="utter_profile_not_found")
        except (BackendUnavailable, BackendRejected) as exc:
            logger.warning("actions.prefill.unavailable", extra={"code": exc.code})
            dispatcher.utter_message(response="utter_prefill_unavailable")
        return None


class ActionSubmitApplication(Action):
    """Submit the confirmed integrated form once; a retry reuses the same key."""

    def name(self) -> str:
        return "action_submit_application"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        scenario = current_scenario(tracker)
        instance_id = tracker.get_slot(INSTANCE_SLOT)
        ready = (
            scenario is not None
            and instance_id
            and tracker.get_slot(ID_NUMBER_SLOT)
            and questions_complete(scenario, tracker.slots)
        )
        if not ready:
            stored = await stored_run(tracker)
            if stored is not None:
                # 确认提交 again once the 身份证号 is gone: the row holds the run.
                services = get_services()
                delivery = await deliver(services.outbox, services.backend, stored)
                return await reply_delivery(dispatcher, services, stored, delivery)
            dispatcher.utter_message(response="utter_nothing_to_submit")
            return []
        confirmed = tracker.get_slot(CONFIRM_SLOT) is True
        if not confirmed and latest_intent(tracker) != "submit_application":
            dispatcher.utter_message(response="utter_offer_change_or_cancel")
            return [SlotSet(CONFIRM_SLOT, None)]

        request = build_request(
            scenario, tracker.slots, bool(tracker.get_slot(CONSENT_SLOT))
        )
        key = idempotency_key(tracker.sender_id, instance_id)
        services = get_services()
        sender_hash = services.sender_hash(tracker.sender_id)
        try:
            entry = await asyncio.to_thread(
                services.outbox.put, key, sender_hash, request
            )
        except OutboxConflict:
            # Answers changed after this run was confirmed: the platform would
            # refuse the key with another body, so say so without sending.
            logger.warning("actions.submit.conflict", extra={"source": "outbox"})
            metrics.count_submission("rejected")
            dispatcher.utter_message(response="utter_submission_conflict")
            return [SlotSet(ID_NUMBER_SLOT, None)]
        except (OSError, SQLAlchemyError) as exc:
            # Not on disk, so not sent either: the slots keep everything and
            # 确认提交 tries again with the same key.
            logger.error(
                "actions.submit.outbox_failed", extra={"exc_type": type(exc).__name__}
            )
            metrics.count_submission("failed")
            dispatcher.utter_message(response="utter_submission_failed_kept")
            return [SlotSet(CONFIRM_SLOT, True)]

        first_try = entry.status == PENDING and entry.attempts == 0
        delivery = await deliver(services.outbox, services.backend, entry)
        if first_try:
            # A row tried before is counted by actions.delivery when settled.
            metrics.count_submission(submission_result(delivery))
        return await reply_delivery(dispatcher, services, entry, delivery)


def submission_result(delivery: Delivery) -> str:
    """``delivered``, ``queued`` or ``rejected``: what the citizen is told."""
    if delivery.status == PENDING:
        return "queued"
    return "delivered" if delivery.status == DELIVERED else "rejected"


async def stored_run(tracker: Tracker) -> OutboxEntry | None:
    """This run's outbox row, when the 身份证号 has already been dropped."""
    instance_id = tracker.get_slot(INSTANCE_SLOT)
    if not instance_id or tracker.get_slot(ID_NUMBER_SLOT):
        return None
    key = idempotency_key(tracker.sender_id, instance_id)
    try:
        return await asyncio.to_thread(get_services().outbox.get, key)
    except KeyError:
        return None
    except (OSError, SQLAlchemyError) as exc:
        logger.error(
            "actions.submit.outbox_unreadable", extra={"exc_type": type(exc).__name__}
        )
        return None


async def reply_delivery(
    dispatcher: CollectingDispatcher,
    services: Services,
    entry: OutboxEntry,
    delivery: Delivery,
) -> list[EventType]:
    """Tell the citizen the number, that it is queued, or that it was refused.

    The 身份证号 slot is emptied in every case: the outbox row now holds the
    application, so the tracker store need not keep the number (issue #8).
    """
    forget = SlotSet(ID_NUMBER_SLOT, None)
    if delivery.status == PENDING:
        dispatcher.utter_message(response="utter_submission_queued")
        return [SlotSet(CONFIRM_SLOT, True), forget]
    await asyncio.to_thread(services.outbox.mark_told, entry.idempotency_key)
    if delivery.status != DELIVERED:
        response = (
            "utter_submission_conflict"
            if delivery.code == "idempotency_conflict"
            else "utter_submission_rejected"
        )
        dispatcher.utter_message(response=response)
        return [forget]
    dispatcher.utter_message(
        response="utter_application_submitted",
        application_no=delivery.application_no,
        item_count=delivery.item_count,
    )
    return [
        SlotSet(APPLICATION_NO_SLOT, delivery.application_no),
        SlotSet(CONFIRM_SLOT, True),
        forget,
    ]
