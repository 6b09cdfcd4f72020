"""The knowledge-base service's metrics, served at ``GET /metrics``.

``knowledge_base.service`` counts requests, searches and index reloads here;
docs/operations.md lists every metric.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import Counter, Gauge, Histogram

from bot import metrics

REGISTRY = metrics.new_registry()

OUTCOMES = ("answer", "clarify", "no_answer")

REQUESTS = Counter(
    "zw_kb_requests",
    "HTTP requests, by route template and status class.",
    ["route", "status_class"],
    registry=REGISTRY,
)
SEARCHES = Counter(
    "zw_kb_searches",
    "Searches answered, by outcome (answer, clarify, no_answer).",
    ["outcome"],
    registry=REGISTRY,
)
SEARCH_SECONDS = Histogram(
    "zw_kb_search_seconds",
    "Time one search took in the worker thread, queueing included.",
    buckets=metrics.LATENCY_BUCKETS,
    registry=REGISTRY,
)
INDEX_DOCUMENTS = Gauge(
    "zw_kb_index_documents",
    "Documents in the index being served.",
    registry=REGISTRY,
)
RELOADS = Counter(
    "zw_kb_index_reloads",
    "New indexes picked up without a restart, by result (loaded, failed).",
    ["result"],
    registry=REGISTRY,
)


def route_template(request: web.Request) -> str:
    """``/docs/{doc_id}`` rather than the path; ``unmatched`` for unknown paths."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def count_request(request: web.Request, status: int) -> None:
    """Count one finished request."""
    REQUESTS.labels(
        route=route_template(request), status_class=metrics.status_class(status)
    ).inc()


def count_search(outcome: str, seconds: float) -> None:
    """Count one search and its time."""
    SEARCHES.labels(outcome=metrics.bounded(outcome, OUTCOMES)).inc()
    SEARCH_SECONDS.observe(seconds)


def serve_index(doc_count: int) -> None:
    """Record the size of the index now served."""
    INDEX_DOCUMENTS.set(doc_count)


def count_reload(loaded: bool) -> None:
    """Count one attempt to load a new index."""
    RELOADS.labels(result="loaded" if loaded else "failed").inc()


async def scrape(request: web.Request) -> web.Response:
    """``GET /metrics``; the token was checked by the service's middleware."""
    body, content_type = metrics.exposition(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": content_type})
