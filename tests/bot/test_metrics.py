from __future__ import annotations

import pytest
from prometheus_client import Counter

from bot import metrics

TOKEN = "scrape-token-0123456789"


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN} ", True),
        (None, False),
        ("", False),
        (TOKEN, False),
        (f"Basic {TOKEN}", False),
        ("Bearer ", False),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        ("Bearer 令牌", False),
    ],
)
def test_authorized_accepts_only_the_bearer_token(header, allowed):
    assert metrics.authorized(header, TOKEN) is allowed


def test_an_empty_token_opens_nothing():
    assert metrics.authorized("Bearer ", "") is False
    assert metrics.authorized("Bearer x", "") is False


@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, "2xx"), (304, "3xx"), (401, "4xx"), (503, "5xx"), (0, "other")],
)
def test_status_class_groups_statuses_by_hundreds(status, expected):
    assert metrics.status_class(status) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("greet", "greet"), ("made_up", "other"), (None, "other"), (3, "other")],
)
def test_bounded_keeps_a_label_within_its_set(value, expected):
    assert metrics.bounded(value, {"greet", "goodbye"}) == expected


def test_exposition_renders_the_registry_in_prometheus_text_format():
    registry = metrics.new_registry()
    counter = Counter("zw_test_things", "Things.", ["kind"], registry=registry)
    counter.labels(kind="a").inc(2)

    body, content_type = metrics.exposition(registry)

    assert content_type.startswith("text/plain; version=0.0.4")
    text = body.decode("utf-8")
    assert "# TYPE zw_test_things_total counter" in text
    assert 'zw_test_things_total{kind="a"} 2.0' in text
    assert "process_cpu_seconds_total" in text


def test_each_registry_holds_only_its_own_metrics():
    first, second = metrics.new_registry(), metrics.new_registry()
    Counter("zw_test_only_here", "Only in the first.", registry=first)

    assert b"zw_test_only_here" not in metrics.exposition(second)[0]
