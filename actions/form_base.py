"""A form validation that reads each answer, re-asks, or steps aside.

Every form here fills its slots ``from_text`` and reads the text itself: a
readable answer is kept whatever intent the NLU guessed (short answers such
as 个体户 are easy to misclassify); an unreadable one is re-asked with the
slot's ``invalid`` response, unless the citizen plainly did something else
(asked a question, 转人工, 取消 …). Then the form steps aside with
``ActionExecutionRejected`` and the rules handle that turn.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecutionRejected, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT, FormValidationAction

from actions import parsing

logger = logging.getLogger(__name__)

# Commands win over the answer reading when the NLU is sure: 不办了 reads as
# "no" but means cancel; a clarification button's payload is never an answer.
COMMAND_INTENTS = frozenset(
    {
        "cancel",
        "change_answers",
        "request_agent",
        "check_status",
        "choose_candidate",
        "reject_candidates",
    }
)
COMMAND_CONFIDENCE = 0.8
# Intents that, for an unreadable answer, mean "not an answer": the form steps
# aside for their rules instead of re-asking.
ESCAPE_INTENTS = COMMAND_INTENTS | {"ask_question", "bot_challenge"}
YES_INTENTS = frozenset({"affirm", "submit_application"})
# Intents whose words may hold a yes word but never answer a yes/no question.
NOT_AN_ANSWER_INTENTS = frozenset({"report_issue"})
NO_INTENTS = frozenset({"deny"})


def latest_intent(tracker: Tracker) -> str | None:
    """The intent of the latest user message, if any."""
    return (tracker.latest_message.get("intent") or {}).get("name")


def is_command(tracker: Tracker) -> bool:
    """Whether the latest message is, with high confidence, a command."""
    intent = tracker.latest_message.get("intent") or {}
    confident = (intent.get("confidence") or 0.0) >= COMMAND_CONFIDENCE
    return confident and intent.get("name") in COMMAND_INTENTS


def steps_aside(intent: str | None, tracker: Tracker) -> bool:
    """Whether an unreadable answer is plainly something else: an escape
    intent, or a question the NLU could not place (nlu_fallback), which the
    rules send to the knowledge base before the form asks again."""
    if intent in ESCAPE_INTENTS:
        return True
    text = str(tracker.latest_message.get("text") or "")
    return intent == "nlu_fallback" and parsing.looks_like_question(text)


def parse_yes_no_or_intent(text: Any, intent: str | None) -> bool | None:
    """Yes/no from the words; for a ``/affirm``-style payload, from its intent.

    A typed answer is never read from the intent alone: the NLU calls 很大
    ``affirm`` now and then, and a wrong yes would change the checklist.
    """
    text = str(text or "")
    if intent in NOT_AN_ANSWER_INTENTS:
        # 我要投诉 holds 要, but it is no yes to 娱乐功能 or to a consent.
        return None
    if not text.startswith("/"):
        return parsing.parse_yes_no(text)
    if intent in YES_INTENTS:
        return True
    if intent in NO_INTENTS:
        return False
    return None


class AnswerFormValidation(FormValidationAction):
    """Validates every slot of the form through :meth:`read_answer`."""

    @abstractmethod
    def read_answer(
        self, slot: str, value: Any, tracker: Tracker
    ) -> tuple[Any, str | None]:
        """``(value, invalid_response)`` for one slot; ``value`` None if unreadable.

        ``invalid_response`` ``None`` means this form does not validate the slot.
        """

    def extra_events(self, slot: str, value: Any, tracker: Tracker) -> list[EventType]:
        """Further slot events a valid answer implies (none by default)."""
        return []

    async def get_validation_events(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[EventType]:
        requested = tracker.get_slot(REQUESTED_SLOT)
        intent = latest_intent(tracker)
        events: list[EventType] = []
        for slot, raw in tracker.slots_to_validate().items():
            value, invalid = self.read_answer(slot, raw, tracker)
            if invalid is None:
                continue
            if slot == requested and is_command(tracker):
                logger.debug("actions.form.command", extra={"intent": intent})
                return [SlotSet(slot, None), ActionExecutionRejected(self.form_name())]
            if value is None and slot == requested:
                if steps_aside(intent, tracker):
                    logger.debug("actions.form.step_aside", extra={"intent": intent})
                    # Slots already read from this message are kept.
                    return [
                        *events,
                        SlotSet(slot, None),
                        ActionExecutionRejected(self.form_name()),
                    ]
                dispatcher.utter_message(response=invalid)
            logger.debug(
                "actions.form.answer",
                extra={
                    "form": self.form_name(),
                    "slot": slot,
                    "valid": value is not None,
                },
            )
            events.append(SlotSet(slot, value))
            if value is not None:
                events.extend(self.extra_events(slot, value, tracker))
        return events
