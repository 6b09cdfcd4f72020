"""Fakes for the actions: a knowledge base, a backend, trackers and a dispatcher.

No test here reaches a service; each fake records its calls and can be told to
fail the way the real client fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import (
    ApplicationReceipt,
    BackendRejected,
    ConsentReceipt,
    HandoffReceipt,
    Licence,
    Profile,
    ProfileNotFound,
    ReceiptItem,
    TicketReceipt,
)
from actions.outbox import Outbox
from actions.services import Services, use_services
from bot.settings import PROJECT_ROOT
from knowledge_base.scenarios import load_scenarios

SCENARIO_DIR = PROJECT_ROOT / "knowledge_base" / "data" / "scenarios"
# Fictional: area code 990101 belongs to no place (see backend/seed.py).
FICTIONAL_ID = "990101198503120117"


@dataclass
class FakeKb:
    """Answers from a table; ``error`` makes every call raise it."""

    result: Any = None
    documents: dict[str, Any] = field(default_factory=dict)
    error: Exception | None = None
    queries: list[str] = field(default_factory=list)

    async def search(self, query: str, top_k: int = 3) -> Any:
        self.queries.append(query)
        if self.error:
            raise self.error
        return self.result

    async def document(self, doc_id: str) -> Any:
        self.queries.append(doc_id)
        if self.error:
            raise self.error
        return self.documents.get(doc_id)


@dataclass
class FakeBackend:
    """Keeps submissions by idempotency key and consents, like the real backend."""

    profiles: dict[str, Profile] = field(default_factory=dict)
    applications: dict[str, ApplicationReceipt] = field(default_factory=dict)
    error: Exception | None = None
    submissions: list[tuple[Any, str]] = field(default_factory=list)
    consents: dict[str, tuple[Any, str]] = field(default_factory=dict)
    tickets: dict[str, tuple[Any, TicketReceipt]] = field(default_factory=dict)
    reviews: list[Any] = field(default_factory=list)
    handoffs: dict[str, tuple[Any, HandoffReceipt]] = field(default_factory=dict)
    # What start_handoff answers about the desk: open now, or when it opens.
    desk_open: bool = True

    async def start_handoff(self, request: Any, key: str) -> HandoffReceipt:
        if self.error:
            raise self.error
        if key in self.handoffs:
            return replace(self.handoffs[key][1], created=False)
        number = f"RG2026120400{len(self.handoffs) + 1:04d}"
        receipt = HandoffReceipt(
            handoff_no=number,
            status="waiting",
            agent=None,
            position=len(self.handoffs) + 1,
            open_now=self.desk_open,
            hours="工作日 9:00-18:00",
            next_open=None if self.desk_open else datetime(2026, 12, 7, 1, tzinfo=UTC),
            delivered_seq=0,
            last_seq=0,
            created=True,
            closed_by=None,
        )
        self.handoffs[key] = (request, receipt)
        return receipt

    async def file_ticket(self, request: Any, key: str) -> TicketReceipt:
        if self.error:
            raise self.error
        if key in self.tickets:
            return replace(self.tickets[key][1], replayed=True)
        number = f"GD2026120400{len(self.tickets) + 1:04d}"
        receipt = TicketReceipt(
            number, request.kind, request.topic, "received", "2026-12-04T02:00:00Z"
        )
        self.tickets[key] = (request, receipt)
        return receipt

    async def get_ticket(self, ticket_no: str) -> TicketReceipt:
        if self.error:
            raise self.error
        for _, receipt in self.tickets.values():
            if receipt.ticket_no == ticket_no:
                return receipt
        raise BackendRejected("ticket_not_found", status=404)

    async def record_consent(self, consent: Any, key: str) -> ConsentReceipt:
        if self.error:
            raise self.error
        consent_id = f"{len(self.consents):032x}"
        self.consents.setdefault(consent_id, (consent, key))
        return ConsentReceipt(
            consent_id, consent.fields, "2026-12-03T10:00:00Z", "2026-12-04T10:00:00Z"
        )

    async def get_profile(self, id_number: str, consent_id: str) -> Profile:
        if self.error:
            raise self.error
        consent, _ = self.consents.get(consent_id, (None, None))
        if consent is None or consent.id_number != id_number:
            raise BackendRejected("consent_invalid", status=403)
        if id_number not in self.profiles:
            raise ProfileNotFound("profile_not_found", status=404)
        return self.profiles[id_number]

    async def submit_application(self, request: Any, key: str) -> ApplicationReceipt:
        self.submissions.append((request, key))
        if self.error:
            raise self.error
        by_key = {k: r for r, k in self.submissions[:-1]}
        number = f"ZW2026120300{len(set(by_key) | {key}):04d}"
        items = tuple(
            ReceiptItem(i.item_id, i.name, i.department, i.route, "received")
            for i in request.items
        )
        receipt = ApplicationReceipt(
            number,
            request.scenario_id,
            "received",
            items,
            "2026-12-03T10:00:00Z",
            replayed=key in by_key,
        )
        self.applications.setdefault(key, receipt)
        return self.applications[key]

    async def record_review(self, request: Any) -> None:
        self.reviews.append(request)
        if self.error:
            raise self.error

    async def get_application(self, application_no: str) -> ApplicationReceipt:
        if self.error:
            raise self.error
        for receipt in self.applications.values():
            if receipt.application_no == application_no:
                return receipt
        raise BackendRejected("application_not_found", status=404)


@pytest.fixture
def scenarios() -> dict:
    return load_scenarios(SCENARIO_DIR)


@pytest.fixture
def kb() -> FakeKb:
    return FakeKb()


@pytest.fixture
def backend() -> FakeBackend:
    profile = Profile(
        FICTIONAL_ID,
        "0" * 32,
        "张晓明",
        "13000000001",
        "示范市示范区人民路18号",
        (Licence("营业执照", "92990101000000001X", "示范市示范区晓明小吃店"),),
    )
    return FakeBackend(profiles={FICTIONAL_ID: profile})


@pytest.fixture
def outbox(tmp_path):
    """A real outbox file under the test's own var/ directory."""
    outbox = Outbox(tmp_path / "var" / "outbox.db")
    yield outbox
    outbox.close()


@pytest.fixture(autouse=True)
def services(kb: FakeKb, backend: FakeBackend, scenarios: dict, outbox: Outbox):
    installed = Services(kb=kb, backend=backend, scenarios=scenarios, outbox=outbox)
    use_services(installed)
    yield installed
    use_services(None)


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def make_tracker(
    text: str = "",
    intent: str | None = None,
    slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    new_slots: dict[str, Any] | None = None,
    requested_slot: str | None = None,
    sender_id: str = "citizen-1",
    active_loop: str | None = None,
) -> Tracker:
    """A tracker whose latest turn filled ``new_slots`` (as the form does)."""
    all_slots = {"requested_slot": requested_slot, **(slots or {}), **(new_slots or {})}
    events: list[dict[str, Any]] = [{"event": "user", "text": text}]
    events += [
        {"event": "slot", "name": k, "value": v} for k, v in (new_slots or {}).items()
    ]
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9} if intent else {},
        "entities": entities or [],
    }
    loop = {"name": active_loop} if active_loop else {}
    return Tracker(
        sender_id, all_slots, latest, events, False, None, loop, "action_listen"
    )


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    """The response names the action sent, in order."""
    return [message.get("response") for message in dispatcher.messages]


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
