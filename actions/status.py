"""我的申请进度: the status of an application by its 申请编号."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import parsing
from actions.backend_client import BackendRejected, BackendUnavailable
from actions.scenario_state import APPLICATION_NO_SLOT
from actions.services import get_services

logger = logging.getLogger(__name__)

STATUS_SLOT = "application_status"


def application_no_for(tracker: Tracker) -> str | None:
    """From the message's entity, else its text, else the conversation's last one."""
    entity = next(tracker.get_latest_entity_values(APPLICATION_NO_SLOT), None)
    for candidate in (entity, tracker.latest_message.get("text")):
        found = parsing.find_application_no(str(candidate or ""))
        if found:
            return found
    return parsing.find_application_no(str(tracker.get_slot(APPLICATION_NO_SLOT) or ""))


# The platform stamps times in UTC; citizens read dates in China time, as the
# application number does (China has one zone and no daylight saving).
CHINA_TIME = timezone(timedelta(hours=8))


def china_date(timestamp: str) -> str:
    """``2026-12-03T16:30:00Z`` → ``2026-12-04``; unreadable text → its first 10."""
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp[:10]
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA_TIME).date().isoformat()


def status_response(status: str, domain: dict[str, Any]) -> str:
    """``utter_application_status_<status>`` when domain.yml words it, else generic."""
    specific = f"utter_application_status_{status}"
    return (
        specific
        if specific in domain.get("responses", {})
        else "utter_application_status"
    )


# SECURITY: anyone holding an application number sees its status (date,
# item count, no personal data); tying it to the applicant's login is TODO(#8).
class ActionCheckApplicationStatus(Action):
    """Report an application's status, or ask for its number."""

    def name(self) -> str:
        return "action_check_application_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        application_no = application_no_for(tracker)
        text = tracker.latest_message.get("text") or ""
        if parsing.mentions_application_no(text) and not (
            parsing.find_application_no(text)
        ):
            # "查询ZW123": say the number is malformed rather than quietly
            # reporting the last application of the conversation.
            dispatcher.utter_message(response="utter_invalid_application_no")
            return []
        if application_no is None:
            dispatcher.utter_message(response="utter_ask_application_no")
            return []

        try:
            receipt = await get_services().backend.get_application(application_no)
        except BackendUnavailable as exc:
            logger.warning("actions.status.unavailable", extra={"code": exc.code})
            dispatcher.utter_message(response="utter_service_unavailable")
            return []
        except BackendRejected as exc:
            logger.info("actions.status.not_found", extra={"code": exc.code})
            dispatcher.utter_message(
                response="utter_application_not_found", application_no=application_no
            )
            return [SlotSet(APPLICATION_NO_SLOT, None)]

        logger.info("actions.status.done", extra={"status": receipt.status})
        events = [
            SlotSet(APPLICATION_NO_SLOT, receipt.application_no),
            SlotSet(STATUS_SLOT, receipt.status),
        ]
        dispatcher.utter_message(
            response=status_response(receipt.status, domain),
            application_no=receipt.application_no,
            item_count=len(receipt.items),
            created_at=china_date(receipt.created_at),
            status=receipt.status,
        )
        return events
