from __future__ import annotations

import asyncio
import json
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db import Application, ApplicationItem, AuditEntry
from tests.backend.conftest import AUTH
from tests.backend.samples import application_body


def _headers(key: str = "conversation-0001") -> dict[str, str]:
    return {**AUTH, "Idempotency-Key": key}


def _count(engine, model) -> int:
    with Session(engine, future=True) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


async def test_submission_is_created_with_every_item_received(client, engine):
    response = await client.post(
        "/v1/applications", json=application_body(), headers=_headers()
    )

    assert response.status == 201
    body = await response.json()
    assert re.fullmatch(r"ZW\d{14}", body["application_no"])
    assert body["status"] == "received"
    assert body["scenario_id"] == "restaurant"
    assert [(i["item_id"], i["route"], i["status"]) for i in body["items"]] == [
        ("food_business_licence", "normal", "received"),
        ("fire_safety_check", "commitment", "received"),
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["created_at"])
    assert _count(engine, Application) == 1
    assert _count(engine, ApplicationItem) == 2


async def test_submission_stores_answers_and_form_but_only_the_applicant_id(
    client, engine
):
    sent = application_body()
    await client.post("/v1/applications", json=sent, headers=_headers())

    with Session(engine, future=True) as session:
        row = session.execute(select(Application)).scalar_one()
    assert row.answers == sent["answers"]
    assert row.form == sent["form"]
    assert row.applicant_id_number == sent["applicant"]["id_number"]
    columns = {c.name: getattr(row, c.name) for c in Application.__table__.columns}
    assert sent["applicant"]["name"] not in json.dumps(
        columns, default=str, ensure_ascii=False
    )


async def test_same_key_and_body_twice_returns_the_same_application(client, engine):
    first = await client.post(
        "/v1/applications", json=application_body(), headers=_headers()
    )
    second = await client.post(
        "/v1/applications", json=application_body(), headers=_headers()
    )

    assert (first.status, second.status) == (201, 200)
    assert await first.json() == await second.json()
    assert _count(engine, Application) == 1


async def test_same_body_with_reordered_keys_is_the_same_request(client, engine):
    body = application_body()
    reordered = dict(reversed(list(body.items())))
    await client.post("/v1/applications", json=body, headers=_headers())

    again = await client.post("/v1/applications", json=reordered, headers=_headers())

    assert again.status == 200
    assert _count(engine, Application) == 1


async def test_same_key_with_another_body_is_an_idempotency_conflict(client, engine):
    await client.post("/v1/applications", json=application_body(), headers=_headers())

    changed = application_body(answers={"venue_area": 200})
    response = await client.post("/v1/applications", json=changed, headers=_headers())

    assert response.status == 409
    assert (await response.json())["error"]["code"] == "idempotency_conflict"
    assert _count(engine, Application) == 1


async def test_different_keys_create_different_applications(client, engine):
    first = await client.post(
        "/v1/applications", json=application_body(), headers=_headers("key-aaaa-1")
    )
    second = await client.post(
        "/v1/applications", json=application_body(), headers=_headers("key-bbbb-2")
    )

    numbers = {(await r.json())["application_no"] for r in (first, second)}
    assert len(numbers) == 2
    assert _count(engine, Application) == 2


async def test_concurrent_submissions_with_one_key_make_one_application(client, engine):
    responses = await asyncio.gather(
        *(
            client.post("/v1/applications", json=application_body(), headers=_headers())
            for _ in range(8)
        )
    )

    statuses = sorted(response.status for response in responses)
    assert statuses == [200] * 7 + [201]
    numbers = {(await response.json())["application_no"] for response in responses}
    assert len(numbers) == 1
    assert _count(engine, Application) == 1
    assert _count(engine, ApplicationItem) == 2


async def test_status_lookup_returns_the_submitted_application(client):
    created = await client.post(
        "/v1/applications", json=application_body(), headers=_headers()
    )
    application = await created.json()

    response = await client.get(
        f"/v1/applications/{application['application_no']}", headers=AUTH
    )

    assert response.status == 200
    assert await response.json() == application


async def test_status_lookup_of_an_unknown_number_is_application_not_found(client):
    response = await client.get("/v1/applications/ZW20261203000123", headers=AUTH)

    assert response.status == 404
    assert (await response.json())["error"]["code"] == "application_not_found"


async def test_status_lookup_of_a_malformed_number_is_rejected(client):
    response = await client.get("/v1/applications/ZW123", headers=AUTH)

    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_application_no"


async def test_submission_without_idempotency_key_is_rejected(client, engine):
    response = await client.post(
        "/v1/applications", json=application_body(), headers=AUTH
    )

    assert response.status == 400
    assert (await response.json())["error"]["code"] == "missing_idempotency_key"
    assert _count(engine, Application) == 0


async def test_submission_with_an_invalid_applicant_is_invalid_id_number(client):
    body = application_body(applicant={"id_number": "990101199007250225"})

    response = await client.post("/v1/applications", json=body, headers=_headers())

    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_id_number"


async def test_submission_and_replay_are_audited(client, engine):
    for _ in range(2):
        response = await client.post(
            "/v1/applications", json=application_body(), headers=_headers()
        )
    number = (await response.json())["application_no"]

    with Session(engine, future=True) as session:
        entries = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        actions = [(entry.action, entry.target) for entry in entries]
    assert actions == [("application.create", number), ("application.replay", number)]
