"""The Rasa server's metrics and the input channel that serves them at ``/metrics``.

Rasa 3.6 builds its Sanic app itself; an input channel is the one place our
code adds routes to it. This channel runs no turns: its prefix is ``/metrics``
(Rasa joins it onto ``/webhooks/``, and an absolute prefix replaces that), and
its one route needs ``Authorization: Bearer $ZW_METRICS_TOKEN``. Enable it in
credentials.yml as ``channels.metrics.MetricsInput:``; docs/operations.md
lists the metrics.

The channels count turns (:func:`count_turn`); the tracker store counts what
the dialogue did once per turn (:func:`count_dialogue`).
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from prometheus_client import Counter, Histogram
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import ActionExecuted, Event, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import metrics
from bot.settings import METRICS_SECRETS, check_secrets, load_settings
from channels import web_protocol
from channels.errors import InvalidRequestError

logger = logging.getLogger(__name__)

REGISTRY = metrics.new_registry()

CHANNELS = ("web", "wechat")
# handled: Rasa ran the turn; rejected: a malformed or unsigned request;
# limited: an abuse limit kept it from Rasa; failed: Rasa raised;
# relayed: a person owns the conversation, so it went to the agent queue.
TURN_RESULTS = ("handled", "rejected", "limited", "failed", "relayed")
# The action that puts a conversation in the agent queue after 转人工
# (request_agent), in or out of a form. Hand-offs the actions start on their
# own (a second miss, an unsure complaint) are counted by the action server
# (zw_actions_handoffs_total).
HANDOFF_ACTIONS = frozenset(
    {"action_request_agent", "action_request_agent_in_scenario"}
)

TURNS = Counter(
    "zw_rasa_turns",
    "Messages the channels received, by channel and what became of them.",
    ["channel", "result"],
    registry=REGISTRY,
)
TURN_SECONDS = Histogram(
    "zw_rasa_turn_seconds",
    "Time Rasa took to run a turn (handled and failed turns), by channel.",
    ["channel"],
    buckets=metrics.LATENCY_BUCKETS,
    registry=REGISTRY,
)
INTENTS = Counter(
    "zw_rasa_intents",
    "Intents the NLU gave the citizens' messages, once per turn.",
    ["intent"],
    registry=REGISTRY,
)
HANDOFFS = Counter(
    "zw_rasa_handoffs",
    "Turns in which the citizen asked for a person (转人工).",
    registry=REGISTRY,
)


def count_turn(channel: str, result: str, seconds: float | None = None) -> None:
    """Count one message of ``channel``; ``seconds`` when Rasa ran it."""
    name = metrics.bounded(channel, CHANNELS)
    TURNS.labels(channel=name, result=metrics.bounded(result, TURN_RESULTS)).inc()
    if seconds is not None:
        TURN_SECONDS.labels(channel=name).observe(seconds)


def count_dialogue(events: Iterable[Event], intents: Iterable[str]) -> None:
    """Count the intents and hand-offs among a turn's new events.

    Args:
        events: the events the tracker store is about to write.
        intents: the domain's intents; any other name counts as ``other``
            (a typed ``/name`` may carry any).
    """
    known = frozenset(intents) | {"nlu_fallback"}
    for event in events:
        if isinstance(event, UserUttered):
            INTENTS.labels(intent=metrics.bounded(event.intent_name, known)).inc()
        elif isinstance(event, ActionExecuted) and event.action_name in HANDOFF_ACTIONS:
            HANDOFFS.inc()


OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class MetricsInput(InputChannel):
    """``GET /metrics`` on the Rasa server, for a Prometheus scraper."""

    @classmethod
    def name(cls) -> str:
        return "metrics"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> MetricsInput:
        """Build the channel with ``ZW_METRICS_TOKEN`` from the settings.

        Raises:
            InsecureSettingsError: production mode with the development token.
        """
        settings = check_secrets(load_settings(), METRICS_SECRETS)
        return cls(token=settings.metrics_token)

    def __init__(self, token: str) -> None:
        self.token = token

    def url_prefix(self) -> str:
        # Absolute, so urljoin("/webhooks/", …) leaves it as it is.
        return metrics.PATH

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        module = inspect.getmodule(self)
        blueprint = Blueprint("metrics", module.__name__ if module else None)

        @blueprint.route("", methods=["GET"])
        async def scrape(request: Request) -> HTTPResponse:
            return self.scrape(request)

        return blueprint

    def scrape(self, request: Request) -> HTTPResponse:
        """The registry, or 401 with the channels' error body."""
        if not metrics.authorized(request.headers.get("Authorization"), self.token):
            request_id = uuid.uuid4().hex
            logger.warning("channels.metrics.unauthorized")
            # For a scraper, not a citizen: English, like the other services.
            error = InvalidRequestError(
                "unauthorized", "a valid bearer token is required", 401
            )
            return response.text(
                web_protocol.encode_json(web_protocol.error_body(error, request_id)),
                status=401,
                headers={"WWW-Authenticate": "Bearer", "X-Request-Id": request_id},
                content_type="application/json; charset=utf-8",
            )
        body, content_type = metrics.exposition(REGISTRY)
        return response.raw(body, content_type=content_type)
