"""Malformed and hostile requests to every route: a 4xx JSON error, no data changed.

Each case runs against a database that already holds a consent and an
application, and every table is compared row by row before and after.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.app import MAX_BODY_BYTES
from backend.db import Base
from tests.backend.conftest import AUTH, OPERATOR_AUTH, record_consent
from tests.backend.samples import WITH_LICENCES, application_body, consent_body

ID = WITH_LICENCES.id_number
KEY = {"Idempotency-Key": "hostile-0001"}
# Under the 64 KiB limit, deep enough to break a recursive decoder.
DEEP = "[" * 30_000 + "]" * 30_000
INJECTION = "' OR '1'='1'; DROP TABLE applications; --"

# (method, path, headers beyond the token, body, status, code); {no} is the
# number of the application already in the database.
CASES = [
    ("POST", "/health", {}, None, 405, "method_not_allowed"),
    ("DELETE", "/openapi.yaml", {}, None, 405, "method_not_allowed"),
    ("POST", "/v1/consents", KEY, b"{", 400, "invalid_json"),
    ("POST", "/v1/consents", KEY, b"[]", 400, "invalid_json"),
    ("POST", "/v1/consents", KEY, DEEP.encode(), 400, "invalid_json"),
    ("POST", "/v1/consents", KEY, b'{"fields": NaN}', 400, "invalid_json"),
    ("POST", "/v1/consents", KEY, b"\xff\xfe", 400, "invalid_json"),
    ("POST", "/v1/consents", {}, consent_body(), 400, "missing_idempotency_key"),
    (
        "POST",
        "/v1/consents",
        {"Idempotency-Key": "bad key\twith tab"},
        consent_body(),
        400,
        "invalid_idempotency_key",
    ),
    (
        "POST",
        "/v1/consents",
        KEY,
        consent_body(id_number=INJECTION),
        400,
        "invalid_id_number",
    ),
    (
        "POST",
        "/v1/consents",
        KEY,
        consent_body(fields=["name"] * 1000),
        400,
        "invalid_request",
    ),
    (
        "POST",
        "/v1/consents",
        KEY,
        consent_body(form_instance="x" * MAX_BODY_BYTES),
        413,
        "body_too_large",
    ),
    ("GET", f"/v1/profiles/{ID}", {}, None, 403, "consent_required"),
    (
        "GET",
        f"/v1/profiles/{ID}?consent_id={INJECTION}",
        {},
        None,
        400,
        "invalid_consent_id",
    ),
    (
        "GET",
        "/v1/profiles/990101'%20OR%201=1--?consent_id=x",
        {},
        None,
        400,
        "invalid_id_number",
    ),
    ("GET", "/v1/profiles/..%2F..%2Fetc%2Fpasswd", {}, None, 400, "invalid_id_number"),
    ("GET", "/v1/profiles/", {}, None, 404, "not_found"),
    ("PUT", f"/v1/profiles/{ID}", {}, None, 405, "method_not_allowed"),
    ("POST", "/v1/applications", KEY, b"not json", 400, "invalid_json"),
    (
        "POST",
        "/v1/applications",
        {},
        application_body(),
        400,
        "missing_idempotency_key",
    ),
    (
        "POST",
        "/v1/applications",
        KEY,
        application_body(items={}),
        400,
        "invalid_request",
    ),
    (
        "POST",
        "/v1/applications",
        KEY,
        application_body(items=[application_body()["items"][0]] * 51),
        400,
        "invalid_request",
    ),
    (
        "POST",
        "/v1/applications",
        KEY,
        application_body(scenario_id=INJECTION),
        400,
        "invalid_request",
    ),
    (
        "POST",
        "/v1/applications",
        KEY,
        application_body(applicant={"id_number": "<script>alert(1)</script>"}),
        400,
        "invalid_id_number",
    ),
    (
        "POST",
        "/v1/applications",
        KEY,
        application_body(admin=True),
        400,
        "invalid_request",
    ),
    ("GET", f"/v1/applications/ZW{INJECTION}", {}, None, 400, "invalid_application_no"),
    (
        "GET",
        "/v1/applications/ZW20990101000009",
        {},
        None,
        404,
        "application_not_found",
    ),
    ("POST", "/v1/applications/ZW1/cancel", {}, None, 400, "invalid_application_no"),
    (
        "POST",
        "/v1/applications/ZW20990101000009/cancel",
        {},
        None,
        404,
        "application_not_found",
    ),
    ("GET", "/v1/applications/{no}/cancel", {}, None, 405, "method_not_allowed"),
    (
        "POST",
        "/v1/applications/{no}/items/FOOD/status",
        {},
        {"status": "done"},
        400,
        "invalid_item_id",
    ),
    (
        "POST",
        "/v1/applications/{no}/items/food_business_licence/status",
        {},
        b"{",
        400,
        "invalid_json",
    ),
    (
        "POST",
        "/v1/applications/{no}/items/food_business_licence/status",
        {},
        {"status": INJECTION},
        400,
        "invalid_request",
    ),
    (
        "POST",
        "/v1/applications/{no}/items/food_business_licence/status",
        {},
        {"status": "done"},
        409,
        "invalid_transition",
    ),
    (
        "POST",
        "/v1/applications/{no}/items/no_such_item/status",
        {},
        {"status": "accepted"},
        404,
        "item_not_found",
    ),
    ("GET", "/v1/admin", {}, None, 404, "not_found"),
]
V1_ROUTES = [
    ("POST", "/v1/consents"),
    ("GET", f"/v1/profiles/{ID}?consent_id={'0' * 32}"),
    ("POST", "/v1/applications"),
    ("GET", "/v1/applications/{no}"),
    ("POST", "/v1/applications/{no}/cancel"),
    ("POST", "/v1/applications/{no}/items/food_business_licence/status"),
]


def _snapshot(engine) -> dict[str, list[tuple]]:
    with Session(engine, future=True) as session:
        return {
            table.name: [
                tuple(row)
                for row in session.execute(
                    select(table).order_by(*table.primary_key.columns)
                )
            ]
            for table in Base.metadata.sorted_tables
        }


@pytest.fixture
async def application_no(client) -> str:
    await record_consent(client, ID)
    response = await client.post(
        "/v1/applications",
        json=application_body(),
        headers={**AUTH, "Idempotency-Key": "conversation-0001"},
    )
    return (await response.json())["application_no"]


async def _send(client, method, path, headers, body):
    data = body if isinstance(body, bytes) else None
    payload = body if isinstance(body, dict) else None
    return await client.request(method, path, headers=headers, data=data, json=payload)


async def _assert_error(response, status: int, code: str) -> None:
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    body = json.loads(await response.text())
    assert set(body) == {"error", "request_id"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "code"),
    CASES,
    ids=[f"{case[0]} {case[1][:40]} {case[5]}" for case in CASES],
)
async def test_hostile_request_gets_a_clear_error_and_changes_nothing(
    client, engine, application_no, method, path, headers, body, status, code
):
    before = _snapshot(engine)

    auth = OPERATOR_AUTH if path.endswith("/status") else AUTH
    response = await _send(
        client, method, path.format(no=application_no), {**auth, **headers}, body
    )

    await _assert_error(response, status, code)
    assert _snapshot(engine) == before


@pytest.mark.parametrize(("method", "path"), V1_ROUTES)
async def test_each_token_opens_only_its_own_routes(
    client, engine, application_no, method, path
):
    # The item-status route is the operator's; every other is the action server's.
    wrong = AUTH if path.endswith("/status") else OPERATOR_AUTH
    before = _snapshot(engine)

    response = await _send(
        client, method, path.format(no=application_no), {**KEY, **wrong}, {}
    )

    await _assert_error(response, 403, "forbidden")
    assert _snapshot(engine) == before


@pytest.mark.parametrize(("method", "path"), V1_ROUTES)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer forged-token", "Basic dXNlcjpwYXNz", "Bearer "]
)
async def test_every_v1_route_refuses_a_missing_or_forged_token(
    client, engine, application_no, method, path, authorization
):
    before = _snapshot(engine)
    headers = {**KEY, **({"Authorization": authorization} if authorization else {})}

    response = await _send(
        client, method, path.format(no=application_no), headers, {"status": "done"}
    )

    await _assert_error(response, 401, "unauthorized")
    assert _snapshot(engine) == before
