from __future__ import annotations

import logging

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import AuditEntry
from bot.logs import KeyValueFormatter
from tests.backend.conftest import AUTH
from tests.backend.samples import (
    UNKNOWN_ID_NUMBER,
    WITH_LICENCES,
    WITHOUT_LICENCES,
)


async def test_profile_lists_the_citizens_licences(client):
    response = await client.get(f"/v1/profiles/{WITH_LICENCES.id_number}", headers=AUTH)

    assert response.status == 200
    body = await response.json()
    assert body["name"] == WITH_LICENCES.name
    assert body["phone"] == WITH_LICENCES.phone
    assert body["address"] == WITH_LICENCES.address
    assert [licence["kind"] for licence in body["licences"]] == [
        licence.kind for licence in WITH_LICENCES.licences
    ]


async def test_profile_without_licences_has_an_empty_list(client):
    response = await client.get(
        f"/v1/profiles/{WITHOUT_LICENCES.id_number}", headers=AUTH
    )

    assert response.status == 200
    assert (await response.json())["licences"] == []


async def test_profile_accepts_a_lowercase_check_x(client, engine):
    response = await client.get("/v1/profiles/11010519491231002x", headers=AUTH)

    # Valid, just unknown: the lowercase x reached the lookup instead of a 400.
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "profile_not_found"


async def test_unknown_citizen_is_profile_not_found(client):
    response = await client.get(f"/v1/profiles/{UNKNOWN_ID_NUMBER}", headers=AUTH)

    assert response.status == 404
    body = await response.json()
    assert body["error"]["code"] == "profile_not_found"
    assert body["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "id_number",
    ["990101199007250225", "12345", "99010119900230022X", "990101199007250224a"],
)
async def test_malformed_id_number_is_invalid_id_number(client, id_number):
    response = await client.get(f"/v1/profiles/{id_number}", headers=AUTH)

    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_id_number"


async def test_profile_read_is_audited_with_the_caller_name_and_id_only(client, engine):
    response = await client.get(f"/v1/profiles/{WITH_LICENCES.id_number}", headers=AUTH)
    assert response.status == 200

    with Session(engine, future=True) as session:
        entries = session.execute(select(AuditEntry)).scalars().all()
    assert [(e.who, e.action, e.target) for e in entries] == [
        ("action_server", "profile.read", WITH_LICENCES.id_number)
    ]
    assert entries[0].request_id == response.headers["X-Request-ID"]


async def test_logs_never_carry_the_id_number_or_the_name(client, caplog):
    caplog.set_level(logging.DEBUG)

    await client.get(f"/v1/profiles/{WITH_LICENCES.id_number}", headers=AUTH)
    await client.get(f"/v1/profiles/{UNKNOWN_ID_NUMBER}", headers=AUTH)

    formatter = KeyValueFormatter()
    lines = "\n".join(formatter.format(record) for record in caplog.records)
    assert "backend.request.done" in lines
    assert "/v1/profiles/{id_number}" in lines
    for secret in (WITH_LICENCES.id_number, UNKNOWN_ID_NUMBER, WITH_LICENCES.name):
        assert secret not in lines
    # Unformatted fields too: redaction is a safety net, not the plan.
    raw = "\n".join(str(vars(record)) for record in caplog.records)
    assert WITH_LICENCES.id_number not in raw
