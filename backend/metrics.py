"""The backend's metrics, served at ``GET /metrics`` (docs/operations.md).

Requests are labelled with the route template (``/v1/profiles/{id_number}``),
never the path, which carries 身份证号.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import Counter, Gauge, Histogram

from bot import metrics

REGISTRY = metrics.new_registry()

REQUESTS = Counter(
    "zw_backend_requests",
    "HTTP requests, by route template and status class.",
    ["route", "status_class"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "zw_backend_request_seconds",
    "Time from request to response, by route template.",
    ["route"],
    buckets=metrics.LATENCY_BUCKETS,
    registry=REGISTRY,
)
APPLICATIONS = Counter(
    "zw_backend_applications",
    "Integrated applications accepted, by result (created, replayed: the same"
    " Idempotency-Key again).",
    ["result"],
    registry=REGISTRY,
)
PROFILE_READS = Counter(
    "zw_backend_profile_reads",
    "Profiles released for pre-fill under a recorded consent.",
    registry=REGISTRY,
)

HANDOFFS = Counter(
    "zw_backend_handoffs",
    "Handoffs opened to the agent queue, by reason (requested,"
    " repeated_failures, low_confidence_complaint); replays not counted.",
    ["reason"],
    registry=REGISTRY,
)
HANDOFFS_WAITING = Gauge(
    "zw_backend_handoffs_waiting",
    "Handoffs waiting for an agent, read from the database at each scrape.",
    registry=REGISTRY,
)


def count_request(route: str, status: int, seconds: float) -> None:
    """Count one finished request; ``route`` is its template."""
    REQUESTS.labels(route=route, status_class=metrics.status_class(status)).inc()
    REQUEST_SECONDS.labels(route=route).observe(seconds)


def count_application(created: bool) -> None:
    """Count one accepted application (or its replay)."""
    APPLICATIONS.labels(result="created" if created else "replayed").inc()


def count_profile_read() -> None:
    PROFILE_READS.inc()


def count_handoff(reason: str) -> None:
    """Count one new handoff; ``reason`` is one of backend.handoffs.REASONS."""
    HANDOFFS.labels(reason=reason).inc()


def set_handoffs_waiting(waiting: int) -> None:
    HANDOFFS_WAITING.set(waiting)


async def scrape(request: web.Request) -> web.Response:
    """``GET /metrics``; the token was checked by ``require_token``."""
    body, content_type = metrics.exposition(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": content_type})
