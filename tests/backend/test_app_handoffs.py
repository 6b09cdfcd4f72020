"""The agent queue over HTTP, on SQLite and PostgreSQL: routes, tokens, races."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import datetime

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from backend.app import create_app
from backend.db import AuditEntry, Handoff, HandoffMessage
from backend.service_hours import CHINA_TIME
from tests.backend.conftest import (
    AGENT_AUTH,
    AUTH,
    OPERATOR_AUTH,
    OTHER_AGENT_AUTH,
    start_server,
)
from tests.backend.test_handoffs import handoff_body

CONVERSATION = "web-3f2a9c0d11e4b7a8"
SUMMARY_FIELDS = {
    "handoff_no",
    "status",
    "reason",
    "channel",
    "topic",
    "agent",
    "position",
    "delivered_seq",
    "last_seq",
    "closed_by",
    "service",
    "created_at",
    "updated_at",
}


def _keyed(key: str = "handoff-key-0001") -> dict[str, str]:
    return {**AUTH, "Idempotency-Key": key}


def _rows(engine, model) -> list:
    with Session(engine, future=True) as session:
        return list(session.execute(select(model)).scalars())


async def _create(client, key="handoff-key-0001", **changes) -> dict:
    response = await client.post(
        "/v1/handoffs", json=handoff_body(**changes), headers=_keyed(key)
    )
    assert response.status in (200, 201), await response.text()
    return await response.json()


async def _error(response) -> tuple[int, str]:
    return response.status, (await response.json())["error"]["code"]


async def test_a_handoff_is_created_waiting_with_the_summary_shape(client, engine):
    response = await client.post("/v1/handoffs", json=handoff_body(), headers=_keyed())

    assert response.status == 201
    body = await response.json()
    assert set(body) == SUMMARY_FIELDS | {"created"}
    assert re.fullmatch(r"RG\d{14}", body["handoff_no"])
    assert (body["status"], body["position"], body["created"]) == ("waiting", 1, True)
    assert set(body["service"]) == {"open_now", "hours", "next_open"}
    assert body["service"]["hours"] == "工作日 9:00-18:00"
    assert "transcript" not in body
    assert len(_rows(engine, Handoff)) == 1


async def test_the_same_key_replays_and_another_body_conflicts(client, engine):
    first = await _create(client)

    again = await client.post("/v1/handoffs", json=handoff_body(), headers=_keyed())
    other = await client.post(
        "/v1/handoffs", json=handoff_body(reason="repeated_failures"), headers=_keyed()
    )

    assert again.status == 200
    assert (await again.json())["handoff_no"] == first["handoff_no"]
    assert (await again.json())["created"] is False
    assert await _error(other) == (409, "idempotency_conflict")


async def test_two_concurrent_creates_for_one_conversation_open_one(client, engine):
    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/handoffs", json=handoff_body(), headers=_keyed(f"race-key-{n:04d}")
            )
            for n in range(4)
        )
    )

    bodies = [await response.json() for response in responses]
    assert {body["handoff_no"] for body in bodies} == {bodies[0]["handoff_no"]}
    assert sorted(response.status for response in responses) == [200, 200, 200, 201]
    assert [body["created"] for body in bodies].count(True) == 1
    assert len(_rows(engine, Handoff)) == 1


async def test_a_missing_key_is_refused(client):
    response = await client.post("/v1/handoffs", json=handoff_body(), headers=AUTH)

    assert await _error(response) == (400, "missing_idempotency_key")


async def test_the_open_handoff_is_found_by_conversation(client):
    created = await _create(client)

    found = await client.get(
        "/v1/handoffs/open", params={"conversation": CONVERSATION}, headers=AUTH
    )
    missing = await client.get(
        "/v1/handoffs/open", params={"conversation": "someone-else"}, headers=AUTH
    )
    malformed = await client.get(
        "/v1/handoffs/open", params={"conversation": "有 空格"}, headers=AUTH
    )

    assert (await found.json())["handoff_no"] == created["handoff_no"]
    assert await _error(missing) == (404, "handoff_not_found")
    assert await _error(malformed) == (400, "invalid_request")


async def test_the_latest_handoff_is_found_open_or_closed_without_an_audit_row(
    client, engine
):
    first = await _create(client)
    closed = await client.post(
        f"/v1/handoffs/{first['handoff_no']}/close", json={}, headers=AUTH
    )
    assert closed.status == 200
    audit_rows = len(_rows(engine, AuditEntry))

    latest = await client.get(
        "/v1/handoffs/latest", params={"conversation": CONVERSATION}, headers=AUTH
    )
    body = await latest.json()
    assert body["handoff_no"] == first["handoff_no"]
    assert (body["status"], body["closed_by"]) == ("closed", "citizen")

    second = await _create(client, key="handoff-key-0002")
    newer = await client.get(
        "/v1/handoffs/latest", params={"conversation": CONVERSATION}, headers=AUTH
    )
    assert (await newer.json())["handoff_no"] == second["handoff_no"]
    missing = await client.get(
        "/v1/handoffs/latest", params={"conversation": "someone-else"}, headers=AUTH
    )
    assert await _error(missing) == (404, "handoff_not_found")
    created_rows = len(_rows(engine, AuditEntry)) - audit_rows
    # Only the second create wrote to the audit log, not the three reads.
    assert created_rows == 1


async def test_an_agent_reads_the_transcript_the_action_server_only_the_summary(
    client,
):
    number = (await _create(client))["handoff_no"]

    summary = await (await client.get(f"/v1/handoffs/{number}", headers=AUTH)).json()
    detailed = await (
        await client.get(f"/v1/handoffs/{number}", headers=AGENT_AUTH)
    ).json()

    assert set(summary) == SUMMARY_FIELDS
    assert detailed["transcript"][-1] == {"role": "citizen", "text": "转人工"}
    assert detailed["collected"] == {"service_item": "养老金领取"}


async def test_the_whole_exchange_over_http(client, engine):
    number = (await _create(client))["handoff_no"]
    base = f"/v1/handoffs/{number}"

    claimed = await client.post(f"{base}/claim", headers=AGENT_AUTH)
    said = await client.post(f"{base}/messages", json={"text": "在吗"}, headers=AUTH)
    answered = await client.post(
        f"{base}/messages", json={"text": "您好，请讲"}, headers=AGENT_AUTH
    )
    polled = await client.get(f"{base}/messages", params={"after": 1}, headers=AUTH)
    delivered = await client.post(f"{base}/delivered", json={"seq": 3}, headers=AUTH)
    closed = await client.post(f"{base}/close", json={}, headers=AGENT_AUTH)

    assert claimed.status == 200
    assert ((await claimed.json())["status"], (await claimed.json())["agent"]) == (
        "active",
        "li",
    )
    assert said.status == answered.status == 201
    assert (await said.json())["role"] == "citizen"
    assert (await answered.json())["role"] == "agent"
    body = await polled.json()
    assert body["status"] == "active"
    assert [(m["seq"], m["role"], m["text"]) for m in body["messages"]] == [
        (2, "citizen", "在吗"),
        (3, "agent", "您好，请讲"),
    ]
    assert (await delivered.json())["delivered_seq"] == 3
    closed_body = await closed.json()
    assert (closed_body["status"], closed_body["last_seq"]) == ("closed", 4)
    actions = {(e.who, e.action) for e in _rows(engine, AuditEntry)}
    assert ("agent:li", "handoff.claim") in actions
    assert ("action_server", "handoff.delivered") in actions


async def test_the_queue_lists_open_handoffs_oldest_first(client):
    first = await _create(client, "handoff-key-0001", conversation="c-one")
    second = await _create(client, "handoff-key-0002", conversation="c-two")
    await client.post(f"/v1/handoffs/{first['handoff_no']}/claim", headers=AGENT_AUTH)

    listed = await client.get("/v1/handoffs", headers=AGENT_AUTH)
    waiting = await client.get(
        "/v1/handoffs", params={"status": "waiting"}, headers=AGENT_AUTH
    )
    bad = await client.get(
        "/v1/handoffs", params={"status": "open"}, headers=AGENT_AUTH
    )

    assert [
        (h["handoff_no"], h["position"]) for h in (await listed.json())["handoffs"]
    ] == [
        (first["handoff_no"], None),
        (second["handoff_no"], 1),
    ]
    assert [h["handoff_no"] for h in (await waiting.json())["handoffs"]] == [
        second["handoff_no"]
    ]
    assert await _error(bad) == (400, "invalid_request")


async def test_conflicts_between_agents_and_with_a_closed_handoff(client):
    number = (await _create(client))["handoff_no"]
    base = f"/v1/handoffs/{number}"

    early = await client.post(
        f"{base}/messages", json={"text": "您好"}, headers=AGENT_AUTH
    )
    await client.post(f"{base}/claim", headers=AGENT_AUTH)
    again = await client.post(f"{base}/claim", headers=AGENT_AUTH)
    taken = await client.post(f"{base}/claim", headers=OTHER_AGENT_AUTH)
    not_yours = await client.post(
        f"{base}/messages", json={"text": "我来"}, headers=OTHER_AGENT_AUTH
    )
    await client.post(f"{base}/close", headers=AUTH)
    reclosed = await client.post(f"{base}/close", json={}, headers=AUTH)
    late = await client.post(f"{base}/messages", json={"text": "还在吗"}, headers=AUTH)
    reclaim = await client.post(f"{base}/claim", headers=AGENT_AUTH)

    assert await _error(early) == (409, "handoff_not_yours")
    assert again.status == 200 and (await again.json())["last_seq"] == 1
    assert await _error(taken) == (409, "handoff_taken")
    assert await _error(not_yours) == (409, "handoff_not_yours")
    assert reclosed.status == 200
    assert await _error(late) == (409, "handoff_closed")
    assert await _error(reclaim) == (409, "handoff_closed")


async def test_a_message_key_gives_the_same_message_once(client, engine):
    number = (await _create(client))["handoff_no"]
    url = f"/v1/handoffs/{number}/messages"
    headers = {**AUTH, "Idempotency-Key": "message-key-0001"}

    responses = await asyncio.gather(
        *(client.post(url, json={"text": "在吗"}, headers=headers) for _ in range(3))
    )

    assert sorted(response.status for response in responses) == [200, 200, 201]
    assert {(await r.json())["seq"] for r in responses} == {1}
    assert len(_rows(engine, HandoffMessage)) == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/v1/handoffs/RG2026120700000", None, 400, "invalid_handoff_no"),
        (
            "GET",
            "/v1/handoffs/RG２０２６１２０７０００００１",
            None,
            400,
            "invalid_handoff_no",
        ),
        ("GET", "/v1/handoffs/RG20261207000001", None, 404, "handoff_not_found"),
        ("POST", "/v1/handoffs/RG20261207000001/close", {}, 404, "handoff_not_found"),
        ("POST", "{base}/messages", {"text": ""}, 400, "invalid_request"),
        ("POST", "{base}/messages", {"text": "长" * 1001}, 400, "invalid_request"),
        ("POST", "{base}/delivered", {"seq": -1}, 400, "invalid_request"),
        ("POST", "{base}/close", {"why": "done"}, 400, "invalid_request"),
        ("GET", "{base}/messages?after=-1", None, 400, "invalid_request"),
    ],
)
async def test_bad_input_gets_its_error(client, method, path, body, status, code):
    number = (await _create(client))["handoff_no"]
    url = path.format(base=f"/v1/handoffs/{number}")

    response = await client.request(method, url, json=body, headers=AUTH)

    assert await _error(response) == (status, code)
    assert "长长" not in await response.text()


async def test_a_malformed_handoff_is_refused_naming_no_value(client, engine):
    body = handoff_body(transcript=[{"role": "citizen", "text": "长" * 1001}])

    response = await client.post("/v1/handoffs", json=body, headers=_keyed())

    assert await _error(response) == (400, "invalid_request")
    assert "长长" not in await response.text()
    assert _rows(engine, Handoff) == []


HANDOFF = "/v1/handoffs/RG20261207000001"
# (method, path, body, who may call it: action server, agent, operator)
CALLS = [
    ("POST", "/v1/handoffs", handoff_body(), (True, False, False)),
    (
        "GET",
        f"/v1/handoffs/open?conversation={CONVERSATION}",
        None,
        (True, False, False),
    ),
    ("GET", "/v1/handoffs", None, (False, True, False)),
    ("GET", HANDOFF, None, (True, True, False)),
    ("POST", f"{HANDOFF}/claim", None, (False, True, False)),
    ("POST", f"{HANDOFF}/messages", {"text": "好"}, (True, True, False)),
    ("GET", f"{HANDOFF}/messages", None, (True, True, False)),
    ("POST", f"{HANDOFF}/close", {}, (True, True, False)),
    ("POST", f"{HANDOFF}/delivered", {"seq": 1}, (True, False, False)),
]


@pytest.mark.parametrize(("method", "path", "body", "allowed"), CALLS)
async def test_each_route_takes_only_its_callers_tokens(
    client, method, path, body, allowed
):
    callers = (AUTH, AGENT_AUTH, OPERATOR_AUTH)
    for headers, may in zip(callers, allowed, strict=True):
        headers = {**headers, "Idempotency-Key": "auth-key-0001"}
        response = await client.request(method, path, json=body, headers=headers)
        if may:
            assert response.status != 403, (headers, await response.text())
        else:
            assert await _error(response) == (403, "forbidden")
    anonymous = await client.request(method, path, json=body)
    assert await _error(anonymous) == (401, "unauthorized")


async def test_the_service_block_follows_the_hours_setting(
    settings, engine, aiohttp_client
):
    # A window on a weekday other than today's (China time) is closed now.
    today = datetime.now(CHINA_TIME).isoweekday()
    other = today % 7 + 1
    closed_now = replace(settings, service_hours=f"{other} 09:00-18:00")
    always = replace(settings, service_hours="1-7 00:00-24:00")
    bodies = []
    for hours in (closed_now, always):
        client = await aiohttp_client(await start_server(create_app(hours, engine)))
        response = await client.post(
            "/v1/handoffs",
            json=handoff_body(conversation=f"c-{len(bodies)}"),
            headers=_keyed(f"service-key-{len(bodies):04d}"),
        )
        bodies.append((await response.json())["service"])

    assert bodies[0]["open_now"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT01:00:00Z", bodies[0]["next_open"])
    assert bodies[1] == {
        "open_now": True,
        "hours": "每天 0:00-24:00",
        "next_open": None,
    }


def test_a_malformed_hours_setting_stops_start_up(settings, sqlite_engine):
    with pytest.raises(ValueError, match="ZW_SERVICE_HOURS"):
        create_app(replace(settings, service_hours="weekdays"), sqlite_engine)


async def test_metrics_count_handoffs_and_the_waiting_queue(client):
    await _create(client, "handoff-key-0001", conversation="c-one")
    await _create(
        client, "handoff-key-0002", conversation="c-two", reason="repeated_failures"
    )

    response = await client.get(
        "/metrics", headers={"Authorization": "Bearer dev-metrics-token"}
    )

    text = await response.text()
    assert 'zw_backend_handoffs_total{reason="repeated_failures"}' in text
    assert "zw_backend_handoffs_waiting 2.0" in text


async def test_metrics_are_served_when_the_queue_cannot_be_counted(
    settings, tmp_path, aiohttp_client, caplog
):
    # Plain create_engine: create_db_engine would create the missing directory.
    engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'backend.db'}")
    client = await aiohttp_client(await start_server(create_app(settings, engine)))

    response = await client.get(
        "/metrics", headers={"Authorization": "Bearer dev-metrics-token"}
    )

    assert response.status == 200
    assert "zw_backend_handoffs_waiting" in await response.text()
    assert "backend.metrics.queue_unavailable" in caplog.messages
    engine.dispose()
