"""Hotline assist through the whole stack: the console page, suggestions from
the real index, the audit row in the backend's own database.

Uses the session's running stack (all four processes).
"""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from contextlib import closing

import pytest

from bot.settings import DEV_AGENT_TOKEN

pytestmark = pytest.mark.slow

TURNS = [
    {"role": "agent", "text": "您好，12345热线，请讲。"},
    {"role": "caller", "text": "我想开个火锅店，两百多平"},
    {"role": "agent", "text": "好的，您想问什么？"},
    {"role": "caller", "text": "开饭店要带什么材料"},
]


def _suggest(stack, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{stack.rasa_url}/webhooks/assist/v1/suggest",
        data=json.dumps({"call_id": "e2e-call-1", "turns": TURNS}).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _assist_audit(stack) -> list[tuple[str, str]]:
    path = stack.settings.var_dir / "backend.db"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        return connection.execute(
            "SELECT who, target FROM audit_log WHERE action = 'assist.suggest'"
        ).fetchall()


def test_an_agent_gets_cited_suggestions_and_the_call_is_audited(running_stack):
    status, body = _suggest(running_stack, DEV_AGENT_TOKEN)

    assert status == 200
    top = body["suggestions"][0]
    assert top["source_url"].startswith("http") and 0 < top["score"] <= 1
    assert "食品经营许可" in json.dumps(body["suggestions"], ensure_ascii=False)
    assert body["scenario"]["id"] == "restaurant"
    assert ("agent:demo", "e2e-call-1") in _assist_audit(running_stack)


def test_the_action_servers_token_gets_no_suggestions(running_stack):
    status, body = _suggest(running_stack, running_stack.settings.backend_token)
    assert status == 403 and body["error"]["code"] == "forbidden"


def test_the_console_page_is_served_with_its_policy(running_stack):
    with urllib.request.urlopen(
        f"{running_stack.rasa_url}/webhooks/assist/", timeout=30
    ) as response:
        page = response.read().decode()
        policy = response.headers["Content-Security-Policy"]
    assert "坐席" in page and "default-src 'none'" in policy
