"""我的申请进度: the conversation's applications and each item's state.

With a 申请编号 in the message, that application. Otherwise every application
this conversation confirmed (the outbox rows of its sender, delivering any
still queued first) and the last number it asked about. A returned item says
what to fix; a queued application that has since reached the platform gets
its number here.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import parsing
from actions.backend_client import (
    ApplicationReceipt,
    BackendRejected,
    BackendUnavailable,
)
from actions.delivery import deliver
from actions.outbox import DELIVERED, PENDING, OutboxEntry
from actions.scenario_state import APPLICATION_NO_SLOT
from actions.services import Services, get_services

logger = logging.getLogger(__name__)

STATUS_SLOT = "application_status"


def application_no_for(tracker: Tracker) -> str | None:
    """From the message's entity, else its text, else the conversation's last one."""
    explicit = explicit_application_no(tracker)
    if explicit:
        return explicit
    return parsing.find_application_no(str(tracker.get_slot(APPLICATION_NO_SLOT) or ""))


def explicit_application_no(tracker: Tracker) -> str | None:
    """A number named in the latest message (entity or text), or ``None``."""
    entity = next(tracker.get_latest_entity_values(APPLICATION_NO_SLOT), None)
    for candidate in (entity, tracker.latest_message.get("text")):
        found = parsing.find_application_no(str(candidate or ""))
        if found:
            return found
    return None


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


def status_response(status: str, domain: dict[str, Any], kind: str = "status") -> str:
    """``utter_application_<kind>_<status>`` when domain.yml words it, else generic.

    ``kind`` is ``status`` for the application, ``item`` for one of its items.
    """
    generic = f"utter_application_{kind}"
    specific = f"{generic}_{status}"
    return specific if specific in domain.get("responses", {}) else generic


# SECURITY: the conversation is whoever holds its sender id, and anyone with
# an application number sees its status (items, departments, dates, a
# returned item's reason; no personal data); tying both to the applicant's
# login is TODO(#8).
class ActionCheckApplicationStatus(Action):
    """Report the applications' status and items, or ask for a number."""

    def name(self) -> str:
        return "action_check_application_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        ticket_no = parsing.find_ticket_no(text)
        if ticket_no and not parsing.find_application_no(text):
            return await report_ticket(dispatcher, ticket_no)
        if parsing.mentions_ticket(text) and not parsing.find_application_no(text):
            # 我的工单到哪一步了: the conversation's last ticket, or ask for one.
            if parsing.mentions_ticket_no(text):
                dispatcher.utter_message(response="utter_invalid_ticket_no")
                return []
            last = parsing.find_ticket_no(str(tracker.get_slot("ticket_no") or ""))
            if last:
                return await report_ticket(dispatcher, last)
            dispatcher.utter_message(response="utter_ask_ticket_no")
            return []
        if parsing.mentions_application_no(text) and not (
            parsing.find_application_no(text)
        ):
            # "查询ZW123": say the number is malformed rather than quietly
            # reporting the last application of the conversation.
            dispatcher.utter_message(response="utter_invalid_application_no")
            return []

        services = get_services()
        explicit = explicit_application_no(tracker)
        entries = [] if explicit else await _settled_entries(services, tracker)
        numbers = [explicit] if explicit else _numbers(entries, tracker)
        untold = [e for e in entries if e.status == PENDING or not e.told]
        if not numbers and not untold:
            dispatcher.utter_message(response="utter_ask_application_no")
            return []

        report = _Report(dispatcher, services, domain)
        count = len(numbers) + sum(entry.status == PENDING for entry in entries)
        if count > 1:
            dispatcher.utter_message(
                response="utter_application_list_intro", count=count
            )
        await report.queued(entries)
        for number in numbers:
            if not await report.application(number):
                break
        return report.events


TICKET_STATUS_LABELS = {
    "received": "已登记，等待分派",
    "assigned": "已分派给承办部门",
    "replied": "已答复",
}


async def report_ticket(
    dispatcher: CollectingDispatcher, ticket_no: str
) -> list[EventType]:
    """One ticket's status, or why it cannot be shown."""
    from actions.ticket import KIND_LABELS, TICKET_NO_SLOT

    try:
        ticket = await get_services().backend.get_ticket(ticket_no)
    except BackendRejected as exc:
        logger.info("actions.ticket_status.rejected", extra={"code": exc.code})
        dispatcher.utter_message(response="utter_ticket_not_found", ticket_no=ticket_no)
        return []
    except BackendUnavailable as exc:
        logger.warning("actions.ticket_status.unavailable", extra={"code": exc.code})
        dispatcher.utter_message(response="utter_service_unavailable")
        return []
    dispatcher.utter_message(
        response="utter_ticket_status",
        ticket_no=ticket.ticket_no,
        ticket_kind_label=KIND_LABELS.get(ticket.kind, ticket.kind),
        ticket_topic=ticket.topic,
        ticket_status_label=TICKET_STATUS_LABELS.get(ticket.status, ticket.status),
        created_date=china_date(ticket.created_at),
    )
    return [SlotSet(TICKET_NO_SLOT, ticket.ticket_no)]


async def _settled_entries(services: Services, tracker: Tracker) -> list[OutboxEntry]:
    """The conversation's outbox rows, after one more try for the queued ones."""
    outbox = services.outbox
    if outbox is None:
        return []
    sender_hash = services.sender_hash(tracker.sender_id)
    entries = await asyncio.to_thread(outbox.for_sender, sender_hash)
    for entry in entries:
        if entry.status == PENDING:
            await deliver(outbox, services.backend, entry)
    if any(entry.status == PENDING for entry in entries):
        entries = await asyncio.to_thread(outbox.for_sender, sender_hash)
    return entries


def _numbers(entries: list[OutboxEntry], tracker: Tracker) -> list[str]:
    """Numbers to look up: delivered rows, then the slot's if it is another."""
    numbers = [e.application_no for e in entries if e.status == DELIVERED]
    last = application_no_for(tracker)
    if last and last not in numbers:
        numbers.append(last)
    return [number for number in numbers if number]


class _Report:
    """Utters one application or queued row at a time; collects slot events."""

    def __init__(
        self,
        dispatcher: CollectingDispatcher,
        services: Services,
        domain: dict[str, Any],
    ) -> None:
        self.dispatcher = dispatcher
        self.services = services
        self.domain = domain
        self.events: list[EventType] = []

    async def queued(self, entries: list[OutboxEntry]) -> None:
        """Queued and refused rows; a delivered row not yet told gets its number."""
        for entry in entries:
            scenario = self.services.scenarios.get(entry.scenario_id)
            fields = {
                "scenario_name": scenario.name if scenario else entry.scenario_id,
                "confirmed_at": china_date(entry.created_at.isoformat()),
            }
            if entry.status == PENDING:
                self.dispatcher.utter_message(
                    response="utter_application_queued", **fields
                )
                continue
            if entry.told:
                continue
            if entry.status == DELIVERED:
                self.dispatcher.utter_message(
                    response="utter_queued_application_submitted",
                    application_no=entry.application_no,
                    **fields,
                )
            else:
                self.dispatcher.utter_message(
                    response="utter_queued_application_rejected", **fields
                )
            await asyncio.to_thread(
                self.services.outbox.mark_told, entry.idempotency_key
            )

    async def application(self, application_no: str) -> bool:
        """One application and its items; False when the platform is down."""
        try:
            receipt = await self.services.backend.get_application(application_no)
        except BackendUnavailable as exc:
            logger.warning("actions.status.unavailable", extra={"code": exc.code})
            self.dispatcher.utter_message(response="utter_service_unavailable")
            return False
        except BackendRejected as exc:
            logger.info("actions.status.not_found", extra={"code": exc.code})
            self.dispatcher.utter_message(
                response="utter_application_not_found", application_no=application_no
            )
            self.events.append(SlotSet(APPLICATION_NO_SLOT, None))
            return True

        logger.info(
            "actions.status.done",
            extra={"status": receipt.status, "items": len(receipt.items)},
        )
        self._utter(receipt)
        self.events += [
            SlotSet(APPLICATION_NO_SLOT, receipt.application_no),
            SlotSet(STATUS_SLOT, receipt.status),
        ]
        return True

    def _utter(self, receipt: ApplicationReceipt) -> None:
        self.dispatcher.utter_message(
            response=status_response(receipt.status, self.domain),
            application_no=receipt.application_no,
            item_count=len(receipt.items),
            created_at=china_date(receipt.created_at),
            status=receipt.status,
        )
        for index, item in enumerate(receipt.items, start=1):
            self.dispatcher.utter_message(
                response=status_response(item.status, self.domain, kind="item"),
                index=index,
                item_name=item.name,
                department=item.department,
                status=item.status,
                reason=item.reason or "",
            )
