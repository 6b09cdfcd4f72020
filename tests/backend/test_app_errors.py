from __future__ import annotations

from dataclasses import replace

import pytest
import yaml
from sqlalchemy import create_engine

from backend import consents
from backend.app import MAX_BODY_BYTES, OPENAPI_PATH, create_app
from tests.backend.conftest import AUTH, TOKEN, start_server
from tests.backend.samples import WITH_LICENCES, application_body

# A well-formed consent id that names no consent: enough to reach the database.
PROFILE = f"/v1/profiles/{WITH_LICENCES.id_number}?consent_id={'0' * 32}"


async def _error(response) -> tuple[int, str]:
    body = await response.json()
    assert set(body) == {"error", "request_id"}
    assert body["request_id"] == response.headers["X-Request-ID"]
    return response.status, body["error"]["code"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", f"bearer  {TOKEN}x"],
)
async def test_v1_without_the_right_bearer_token_is_unauthorized(client, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}

    response = await client.get(PROFILE, headers=headers)

    assert await _error(response) == (401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_bearer_scheme_is_case_insensitive(client):
    response = await client.get(PROFILE, headers={"Authorization": f"bearer {TOKEN}"})

    # Past authentication: the consent check answers.
    assert await _error(response) == (403, "consent_invalid")


async def test_unknown_paths_need_a_token_before_they_are_not_found(client):
    anonymous = await client.get("/v1/secret-admin")
    known = await client.get("/v1/secret-admin", headers=AUTH)

    assert await _error(anonymous) == (401, "unauthorized")
    assert await _error(known) == (404, "not_found")


async def test_wrong_method_is_method_not_allowed(client):
    response = await client.delete("/v1/applications", headers=AUTH)

    assert await _error(response) == (405, "method_not_allowed")


async def test_health_needs_no_token_and_checks_the_database(client, engine):
    response = await client.get("/health")

    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": engine.dialect.name}


async def test_openapi_is_served_from_the_repository_file(client):
    response = await client.get("/openapi.yaml")

    assert response.status == 200
    assert response.content_type == "application/yaml"
    assert await response.read() == OPENAPI_PATH.read_bytes()


def test_openapi_documents_exactly_the_routes_the_app_serves(settings, sqlite_engine):
    app = create_app(settings, sqlite_engine)
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD"
    }

    spec = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    documented = {
        (method, path) for path, item in spec["paths"].items() for method in item
    }
    assert documented == served


async def test_malformed_json_is_invalid_json(client):
    response = await client.post(
        "/v1/applications",
        data=b'{"scenario_id": "restaurant",',
        headers={**AUTH, "Idempotency-Key": "conversation-0001"},
    )

    assert await _error(response) == (400, "invalid_json")


async def test_oversize_body_is_body_too_large(client):
    body = application_body(form={"note": "长" * MAX_BODY_BYTES})

    response = await client.post(
        "/v1/applications",
        json=body,
        headers={**AUTH, "Idempotency-Key": "conversation-0001"},
    )

    assert await _error(response) == (413, "body_too_large")


async def test_a_well_formed_request_id_is_kept_and_a_bad_one_replaced(client):
    kept = await client.get("/health", headers={"X-Request-ID": "action-1234abcd"})
    replaced = await client.get("/health", headers={"X-Request-ID": "bad id\u00e9"})

    assert kept.headers["X-Request-ID"] == "action-1234abcd"
    assert replaced.headers["X-Request-ID"] != "bad id\u00e9"
    assert len(replaced.headers["X-Request-ID"]) == 32


async def test_a_crash_answers_internal_error_without_details(client, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError(f"boom {WITH_LICENCES.id_number}")

    monkeypatch.setattr(consents, "release_profile", crash)

    response = await client.get(PROFILE, headers=AUTH)

    assert await _error(response) == (500, "internal_error")
    text = await response.text()
    assert "boom" not in text
    assert "Traceback" not in text


async def test_unreachable_database_is_database_unavailable(
    aiohttp_client, settings, tmp_path
):
    # Plain create_engine: create_db_engine would create the missing directory.
    engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'backend.db'}")
    client = await aiohttp_client(await start_server(create_app(settings, engine)))

    health = await client.get("/health")
    profile = await client.get(PROFILE, headers=AUTH)

    assert await _error(health) == (503, "database_unavailable")
    assert await _error(profile) == (503, "database_unavailable")
    engine.dispose()


def test_an_empty_token_stops_start_up(settings, sqlite_engine):
    with pytest.raises(ValueError, match="ZW_BACKEND_TOKEN"):
        create_app(replace(settings, backend_token=""), sqlite_engine)


def test_every_reference_in_the_openapi_document_resolves():
    spec = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    refs = []

    def walk(node):
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    for ref in refs:
        target = spec
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
    assert len(refs) > 20
