"""The Rasa server's GET /metrics, mounted by Rasa's own channel registration."""

from __future__ import annotations

import uuid

import pytest
from rasa.core.channels.channel import register
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from sanic import Sanic

from bot.settings import InsecureSettingsError
from channels import metrics
from channels.metrics import REGISTRY, MetricsInput
from channels.web import WebChatInput
from tests.sanic_server import serving

TOKEN = "test-metrics-token"
SENDER = "web-00112233445566778899aabbccddeeff"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class EchoAgent:
    """Stands in for Rasa's agent behind ``register``'s handler."""

    async def handle_message(self, message) -> None:
        await message.output_channel.send_text_message(message.sender_id, "好的")


@pytest.fixture
async def server(monkeypatch):
    """The metrics and web channels, registered the way `rasa run` does."""
    monkeypatch.setattr(Sanic, "test_mode", True)
    app = Sanic(f"test_metrics_{uuid.uuid4().hex}")
    app.ctx.agent = EchoAgent()
    channels = [MetricsInput(token=TOKEN), WebChatInput(user_hash_key="test-key")]
    register(channels, app, route="/webhooks/")
    async with serving(app) as session:
        yield session


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x"]
)
async def test_metrics_refuse_a_missing_or_wrong_token_with_a_coded_error(
    server, authorization
):
    headers = {"Authorization": authorization} if authorization else {}

    async with server.get("/metrics", headers=headers) as resp:
        body = await resp.json()

    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert body["error"]["code"] == "unauthorized"
    assert body["request_id"] == resp.headers["X-Request-Id"]
    assert "zw_" not in str(body)


async def test_a_handled_web_turn_moves_the_turn_counter_and_latency(server):
    handled = {"channel": "web", "result": "handled"}
    before = sample("zw_rasa_turns_total", **handled)
    timed = sample("zw_rasa_turn_seconds_count", channel="web")

    async with server.post(
        "/webhooks/web/webhook", json={"sender": SENDER, "message": "你好"}
    ) as resp:
        assert resp.status == 200
    async with server.get(
        "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    ) as resp:
        text = await resp.text()

    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert sample("zw_rasa_turns_total", **handled) == before + 1
    assert sample("zw_rasa_turn_seconds_count", channel="web") == timed + 1
    assert 'zw_rasa_turns_total{channel="web",result="handled"}' in text
    assert "process_resident_memory_bytes" in text


async def test_a_malformed_web_body_counts_as_rejected(server):
    before = sample("zw_rasa_turns_total", channel="web", result="rejected")

    async with server.post(
        "/webhooks/web/webhook",
        data=b"{",
        headers={"Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 400

    assert sample("zw_rasa_turns_total", channel="web", result="rejected") == before + 1


def test_dialogue_counts_known_intents_other_names_and_handoffs():
    before = {
        name: sample("zw_rasa_intents_total", intent=name)
        for name in ("request_agent", "other")
    }
    handoffs = sample("zw_rasa_handoffs_total")

    metrics.count_dialogue(
        [
            UserUttered("转人工", intent={"name": "request_agent"}),
            ActionExecuted("action_request_agent"),
            BotUttered("请拨打12345"),
            UserUttered("/made_up", intent={"name": "made_up"}),
            ActionExecuted("action_listen"),
        ],
        intents=["request_agent", "greet"],
    )

    assert sample("zw_rasa_intents_total", intent="request_agent") == (
        before["request_agent"] + 1
    )
    assert sample("zw_rasa_intents_total", intent="other") == before["other"] + 1
    assert sample("zw_rasa_intents_total", intent="made_up") == 0
    assert sample("zw_rasa_handoffs_total") == handoffs + 1


def test_count_turn_keeps_unknown_channels_and_results_to_other():
    before = sample("zw_rasa_turns_total", channel="other", result="other")

    metrics.count_turn("telegram", "exploded")

    assert sample("zw_rasa_turns_total", channel="other", result="other") == before + 1


def test_from_credentials_reads_the_metrics_token(monkeypatch):
    monkeypatch.setenv("ZW_METRICS_TOKEN", "a-token-from-the-environment")

    assert MetricsInput.from_credentials(None).token == "a-token-from-the-environment"


def test_from_credentials_refuses_the_dev_token_in_production_mode(monkeypatch):
    monkeypatch.setenv("ZW_MODE", "production")
    monkeypatch.delenv("ZW_METRICS_TOKEN", raising=False)

    with pytest.raises(InsecureSettingsError, match="ZW_METRICS_TOKEN"):
        MetricsInput.from_credentials(None)
