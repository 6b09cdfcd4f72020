"""POST /v1/tickets and GET /v1/tickets/{ticket_no}, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db import AuditEntry, Ticket
from tests.backend.conftest import AUTH, OPERATOR_AUTH


def ticket_body(**changes) -> dict:
    body = {
        "kind": "complaint",
        "topic": "城建",
        "description": "小区门口的路灯坏了一个月，晚上很黑",
        "location": "示范区幸福路口",
        "occurred": "一个月前开始",
        "contact_consent": True,
        "contact_phone": "13000000001",
        "channel": "web",
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not ...}


def _headers(key: str = "ticket-key-0001") -> dict[str, str]:
    return {**AUTH, "Idempotency-Key": key}


def _rows(engine, model) -> list:
    with Session(engine, future=True) as session:
        return list(session.execute(select(model)).scalars())


async def test_a_ticket_is_filed_with_a_number_and_received(client, engine):
    response = await client.post("/v1/tickets", json=ticket_body(), headers=_headers())

    assert response.status == 201
    body = await response.json()
    assert re.fullmatch(r"GD\d{14}", body["ticket_no"])
    assert (body["kind"], body["topic"], body["status"]) == (
        "complaint",
        "城建",
        "received",
    )
    # The answer carries no description, place or phone.
    assert "description" not in body and "contact_phone" not in body
    (row,) = _rows(engine, Ticket)
    assert row.description.startswith("小区门口")
    assert row.contact_phone == "13000000001"


async def test_three_deliveries_with_one_key_file_one_ticket(client, engine):
    responses = await asyncio.gather(
        *(
            client.post("/v1/tickets", json=ticket_body(), headers=_headers())
            for _ in range(3)
        )
    )

    numbers = {(await response.json())["ticket_no"] for response in responses}
    assert len(numbers) == 1
    assert sorted(response.status for response in responses) == [200, 200, 201]
    assert len(_rows(engine, Ticket)) == 1


async def test_one_key_with_another_body_is_a_conflict(client, engine):
    await client.post("/v1/tickets", json=ticket_body(), headers=_headers())

    response = await client.post(
        "/v1/tickets", json=ticket_body(topic="交通"), headers=_headers()
    )

    assert response.status == 409
    assert (await response.json())["error"]["code"] == "idempotency_conflict"
    assert len(_rows(engine, Ticket)) == 1


async def test_a_ticket_is_read_back_by_number_and_audited(client, engine):
    created = await client.post("/v1/tickets", json=ticket_body(), headers=_headers())
    number = (await created.json())["ticket_no"]

    response = await client.get(f"/v1/tickets/{number}", headers=AUTH)

    assert response.status == 200
    assert (await response.json())["ticket_no"] == number
    actions = [(entry.action, entry.target) for entry in _rows(engine, AuditEntry)]
    assert ("ticket.create", number) in actions
    assert ("ticket.read", number) in actions


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/tickets/GD2026120400000", 400, "invalid_ticket_no"),
        ("/v1/tickets/GD２０２６１２０４０００００１", 400, "invalid_ticket_no"),
        ("/v1/tickets/GD20261204000001", 404, "ticket_not_found"),
    ],
)
async def test_a_bad_or_unknown_number_gets_its_error(client, path, status, code):
    response = await client.get(path, headers=AUTH)

    assert response.status == status
    assert (await response.json())["error"]["code"] == code


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "question"},
        {"topic": "天气"},
        {"channel": "fax"},
        {"description": "   "},
        {"description": "长" * 1001},
        {"description": ...},
        {"location": 12},
        {"contact_consent": "yes"},
        {"contact_consent": False},  # a phone without consent
        {"contact_phone": ...},  # consent without a phone
        {"contact_phone": "010-12345678"},
        {"extra": 1},
    ],
)
async def test_a_malformed_ticket_is_refused_and_nothing_stored(
    client, engine, changes
):
    response = await client.post(
        "/v1/tickets", json=ticket_body(**changes), headers=_headers()
    )

    assert response.status == 400
    body = await response.json()
    assert body["error"]["code"] == "invalid_request"
    assert "13000000001" not in body["error"]["message"]
    assert _rows(engine, Ticket) == []


async def test_a_ticket_without_consent_keeps_no_phone(client, engine):
    body = ticket_body(contact_consent=False, contact_phone=..., location=...)

    response = await client.post("/v1/tickets", json=body, headers=_headers())

    assert response.status == 201
    (row,) = _rows(engine, Ticket)
    assert (row.contact_consent, row.contact_phone, row.location) == (
        False,
        None,
        None,
    )


async def test_tickets_need_the_action_servers_token(client, engine):
    no_token = await client.post(
        "/v1/tickets", json=ticket_body(), headers={"Idempotency-Key": "ticket-key-1"}
    )
    operator = await client.post(
        "/v1/tickets",
        json=ticket_body(),
        headers={**OPERATOR_AUTH, "Idempotency-Key": "ticket-key-1"},
    )

    assert (no_token.status, operator.status) == (401, 403)
    with Session(engine, future=True) as session:
        count = session.execute(select(func.count()).select_from(Ticket)).scalar_one()
    assert count == 0


def test_the_backend_takes_every_topic_triage_can_give():
    """The platform's list is its own contract, but the assistant's triage
    must never produce a topic it refuses (其他 is the assistant's fallback)."""
    from backend.tickets import TOPICS
    from knowledge_base.triage.data import TOPICS as TRIAGE_TOPICS

    assert set(TRIAGE_TOPICS) | {"其他"} == TOPICS
