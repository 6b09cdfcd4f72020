"""Consent, 身份证号, the pre-filled integrated form, confirmation and submission.

``prefill_form`` asks for consent to pre-fill from the citizen's profile and
for the 身份证号 the backend files the application under; ``confirm_form`` asks
to confirm. A submission carries an idempotency key made from the sender and
the run's id, so re-delivery or a retried 确认提交 never creates a second one.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import parsing
from actions.backend_client import (
    BackendRejected,
    BackendUnavailable,
    Profile,
    ProfileNotFound,
)
from actions.form_base import (
    AnswerFormValidation,
    latest_intent,
    parse_yes_no_or_intent,
)
from actions.scenario_form import current_scenario
from actions.scenario_state import (
    APPLICATION_NO_SLOT,
    CONFIRM_SLOT,
    CONSENT_SLOT,
    ID_NUMBER_SLOT,
    INSTANCE_SLOT,
    answers_from,
    build_request,
    idempotency_key,
    questions_complete,
)
from actions.services import get_services
from knowledge_base.scenarios import Scenario, applicable_items

logger = logging.getLogger(__name__)


class ValidatePrefillForm(AnswerFormValidation):
    """``prefill_consent`` (yes/no) and ``id_number`` (GB 11643 check digit)."""

    def name(self) -> str:
        return "validate_prefill_form"

    def read_answer(
        self, slot: str, value: Any, tracker: Tracker
    ) -> tuple[Any, str | None]:
        if slot == CONSENT_SLOT:
            return parse_yes_no_or_intent(
                value, latest_intent(tracker)
            ), "utter_invalid_yes_no"
        if slot == ID_NUMBER_SLOT:
            check = parsing.check_id_number(str(value or ""))
            invalid = f"utter_invalid_id_number_{check.problem or 'length'}"
            return (check.value if check.ok else None), invalid
        return None, None


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
    item_lines = [
        f"{n}. {item.name}（{item.department}）" for n, item in enumerate(items, 1)
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
            profile = await self._profile(dispatcher, id_number)

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
        dispatcher.utter_message(
            response="utter_integrated_application",
            applicant_name=profile.name,
            phone_masked=parsing.mask_phone(profile.phone),
            address=profile.address,
            **common,
        )
        return []

    @staticmethod
    async def _profile(
        dispatcher: CollectingDispatcher, id_number: str
    ) -> Profile | None:
        try:
            return await get_services().backend.get_profile(id_number)
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
        try:
            receipt = await get_services().backend.submit_application(request, key)
        except BackendUnavailable as exc:
            # TODO(#5): a durable outbox; until then the slots are the outbox
            # and 确认提交 retries with the same idempotency key.
            logger.warning("actions.submit.unavailable", extra={"code": exc.code})
            dispatcher.utter_message(response="utter_submission_failed_kept")
            return [SlotSet(CONFIRM_SLOT, True)]
        except BackendRejected as exc:
            logger.error("actions.submit.rejected", extra={"code": exc.code})
            response = (
                "utter_submission_conflict"
                if exc.code == "idempotency_conflict"
                else "utter_submission_rejected"
            )
            dispatcher.utter_message(response=response)
            return []

        logger.info(
            "actions.submit.done",
            extra={
                "scenario": scenario.id,
                "items": len(receipt.items),
                "replayed": receipt.replayed,
            },
        )
        dispatcher.utter_message(
            response="utter_application_submitted",
            application_no=receipt.application_no,
            item_count=len(receipt.items),
        )
        return [
            SlotSet(APPLICATION_NO_SLOT, receipt.application_no),
            SlotSet(CONFIRM_SLOT, True),
        ]
