"""The backend's GET /metrics: its own token, and counters real requests move."""

from __future__ import annotations

import pytest

from backend.metrics import REGISTRY
from tests.backend.conftest import AUTH, OPERATOR_AUTH, record_consent
from tests.backend.samples import WITH_LICENCES, application_body

SCRAPE = {"Authorization": "Bearer dev-metrics-token"}  # the settings' default


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, AUTH, OPERATOR_AUTH],
    ids=["none", "wrong", "action-server", "operator"],
)
async def test_metrics_refuse_a_missing_wrong_or_caller_token(client, headers):
    response = await client.get("/metrics", headers=headers)

    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body = await response.json()
    assert body["error"]["code"] == "unauthorized"
    assert body["request_id"] == response.headers["X-Request-ID"]


async def test_the_metrics_token_opens_nothing_else(client):
    response = await client.get("/v1/applications/ZW20260101000001", headers=SCRAPE)

    assert response.status == 401


async def test_an_application_and_a_profile_read_move_their_counters(client):
    created = sample("zw_backend_applications_total", result="created")
    replayed = sample("zw_backend_applications_total", result="replayed")
    reads = sample("zw_backend_profile_reads_total")
    route = "/v1/profiles/{id_number}"
    ok = sample("zw_backend_requests_total", route=route, status_class="2xx")
    timed = sample("zw_backend_request_seconds_count", route=route)
    headers = {**AUTH, "Idempotency-Key": "metrics-0001"}

    for _ in range(2):
        await client.post("/v1/applications", json=application_body(), headers=headers)
    consent_id = await record_consent(client, WITH_LICENCES.id_number)
    await client.get(
        f"/v1/profiles/{WITH_LICENCES.id_number}?consent_id={consent_id}", headers=AUTH
    )
    response = await client.get("/metrics", headers=SCRAPE)

    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await response.text()
    assert WITH_LICENCES.id_number not in text
    assert 'route="/v1/profiles/{id_number}"' in text
    assert sample("zw_backend_applications_total", result="created") == created + 1
    assert sample("zw_backend_applications_total", result="replayed") == replayed + 1
    assert sample("zw_backend_profile_reads_total") == reads + 1
    assert sample("zw_backend_requests_total", route=route, status_class="2xx") == (
        ok + 1
    )
    assert sample("zw_backend_request_seconds_count", route=route) == timed + 1


async def test_refused_requests_count_under_their_status_class(client):
    route = "/v1/applications"
    before = sample("zw_backend_requests_total", route=route, status_class="4xx")

    await client.post(route, json=application_body())

    after = sample("zw_backend_requests_total", route=route, status_class="4xx")
    assert after == before + 1
