"""What every process's ``GET /metrics`` shares: registry, token check, rendering.

Each process keeps its own registry (``channels.metrics``, ``actions.metrics``,
``knowledge_base.metrics``, ``backend.metrics``), so a scrape shows only that
process. Labels take values from small fixed sets (:func:`bounded`); never a
user id, a path with a number in it, or message text. docs/operations.md
lists every metric.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

# Seconds. A turn or an action runs from a few milliseconds (a rule) to
# seconds (a search on a busy machine); WeChat's deadline is 5 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OTHER = "other"
PATH = "/metrics"


def new_registry() -> CollectorRegistry:
    """A registry with the process, platform and garbage-collector collectors."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def authorized(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` value is ``Bearer <token>``.

    Compared in constant time; an empty ``token`` opens nothing.
    """
    scheme, _, presented = (header or "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode("utf-8"), token.encode("utf-8"))


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in Prometheus text format, and its content type.

    ``generate_latest`` writes text format 0.0.4, the one every Prometheus
    version reads; the library's ``CONTENT_TYPE_LATEST`` announces 1.0.0
    (0.26.0), so we name the format actually written.
    """
    return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4


def status_class(status: int) -> str:
    """``2xx`` … ``5xx`` for an HTTP status; anything else is ``other``."""
    return f"{status // 100}xx" if 100 <= status <= 599 else OTHER


def bounded(value: object, allowed: Collection[str]) -> str:
    """``value`` when it is one of ``allowed``, else ``other``.

    Keeps a label's value set fixed whatever a caller sends.
    """
    return value if isinstance(value, str) and value in allowed else OTHER
