"""POST /v1/assist/events: an agent's assist request, checked and audited."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.app import create_app
from backend.db import AuditEntry
from tests.backend.conftest import (
    AGENT_AUTH,
    AUTH,
    OPERATOR_AUTH,
    OTHER_AGENT_AUTH,
    start_server,
)

EVENT = {"event": "suggest", "call_id": "call-0001", "turns": 4, "unmasked": True}


@pytest.fixture
async def client(aiohttp_client, settings, engine):
    """Agent li may see personal data unmasked; agent wang may not."""
    app = create_app(replace(settings, unmasked_agents=frozenset({"li"})), engine)
    return await aiohttp_client(await start_server(app))


def _audit(engine) -> list[tuple[str, str, str, str]]:
    with Session(engine, future=True) as session:
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(row.who, row.action, row.target, row.reason) for row in rows]


async def test_an_agent_request_is_audited_with_its_grant(client, engine):
    response = await client.post("/v1/assist/events", json=EVENT, headers=AGENT_AUTH)
    assert response.status == 201
    assert await response.json() == {"agent": "li", "unmasked": True}

    response = await client.post(
        "/v1/assist/events", json={"event": "feedback"}, headers=OTHER_AGENT_AUTH
    )
    assert await response.json() == {"agent": "wang", "unmasked": False}

    assert _audit(engine) == [
        ("agent:li", "assist.suggest", "call-0001", "hotline_assist_unmasked"),
        ("agent:wang", "assist.feedback", "-", "hotline_assist"),
    ]


async def test_unmasked_only_for_listed_agents(client):
    response = await client.post(
        "/v1/assist/events", json=EVENT, headers=OTHER_AGENT_AUTH
    )
    assert (await response.json())["unmasked"] is False


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer nope"}, 401),
        (AUTH, 403),
        (OPERATOR_AUTH, 403),
    ],
)
async def test_only_agent_tokens_are_taken(client, engine, headers, status):
    response = await client.post("/v1/assist/events", json=EVENT, headers=headers)
    assert response.status == status
    assert not [row for row in _audit(engine) if row[1].startswith("assist.")]


@pytest.mark.parametrize(
    "body",
    [
        {"event": "send_to_citizen"},
        {"event": "suggest", "call_id": "../etc"},
        {"event": "suggest", "turns": -1},
        {"event": "suggest", "turns": True},
        {"event": "suggest", "unmasked": "yes"},
        {"event": "suggest", "text": "我的身份证号"},
    ],
)
async def test_a_malformed_event_is_refused_and_not_audited(client, engine, body):
    response = await client.post("/v1/assist/events", json=body, headers=AGENT_AUTH)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_request"
    assert _audit(engine) == []
