"""The agent's desk CLI against a backend served on a free port."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace

import pytest

import backend.__main__ as cli
from backend import desk
from backend.app import create_app
from backend.desk import Desk, DeskError
from tests.backend.conftest import AGENT_TOKENS, AUTH, start_server
from tests.backend.test_handoffs import handoff_body


@pytest.fixture
async def served(settings, sqlite_engine, aiohttp_client):
    """The backend and an HTTP client for the action server's side."""
    app = create_app(replace(settings, service_hours="1-7 00:00-24:00"), sqlite_engine)
    return await aiohttp_client(await start_server(app))


def _desk_env(monkeypatch, client) -> None:
    monkeypatch.setenv("ZW_BACKEND_URL", str(client.make_url("")))
    monkeypatch.setenv("ZW_AGENT_TOKEN", AGENT_TOKENS[0][1])


async def _main(capsys, *argv) -> tuple[int, str, str]:
    status = await asyncio.to_thread(cli.main, ["desk", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


async def test_an_agent_takes_a_handoff_from_queue_to_close(
    served, monkeypatch, capsys
):
    _desk_env(monkeypatch, served)
    created = await served.post(
        "/v1/handoffs",
        json=handoff_body(),
        headers={**AUTH, "Idempotency-Key": "desk-key-0001"},
    )
    number = (await created.json())["handoff_no"]
    await served.post(
        f"/v1/handoffs/{number}/messages", json={"text": "在吗"}, headers=AUTH
    )

    queue = await _main(capsys, "queue")
    show = await _main(capsys, "show", number)
    claim = await _main(capsys, "claim", number)
    reply = await _main(capsys, "reply", number, "您好，我是人工坐席")
    close = await _main(capsys, "close", number)
    watch = await _main(capsys, "watch", number)
    taken = await _main(capsys, "claim", number)

    assert queue[0] == 0
    assert number in queue[1] and "等待中（第 1 位）" in queue[1]
    assert "每天 0:00-24:00" in queue[1]
    assert "市民：转人工" in show[1] and "service_item：养老金领取" in show[1]
    assert "市民：在吗" in show[1]
    assert claim[:2] == (0, f"已接手 {number}\n")
    assert reply[:2] == (0, "已发送（第 3 条）\n")
    assert close[:2] == (0, f"已结束 {number}\n")
    # watch prints everything, then stops by itself at the close.
    assert watch[0] == 0
    assert [line.split(" ", 1)[0] for line in watch[1].splitlines()] == [
        "[1]",
        "[2]",
        "[3]",
        "[4]",
    ]
    assert "坐席：您好，我是人工坐席" in watch[1]
    assert "系统：会话已结束" in watch[1]
    assert taken[0] == 1 and "handoff_closed" in taken[2]


async def test_an_empty_queue_and_a_bad_number_read_plainly(
    served, monkeypatch, capsys
):
    _desk_env(monkeypatch, served)

    empty = await _main(capsys, "queue")
    bad = await _main(capsys, "show", "RG123")

    assert empty[:2] == (0, "队列为空\n")
    assert bad[0] == 1 and "invalid_handoff_no" in bad[2]


def test_no_backend_is_exit_status_two(unused_tcp_port):
    with pytest.raises(DeskError) as raised:
        Desk(f"http://127.0.0.1:{unused_tcp_port}", "token").call("GET", "/v1/handoffs")

    assert raised.value.exit_code == 2


def test_watch_polls_until_the_handoff_closes():
    answers = iter(
        [
            {"status": "active", "messages": []},
            {
                "status": "closed",
                "messages": [
                    {
                        "seq": 1,
                        "role": "system",
                        "text": None,
                        "event": "closed",
                        "created_at": "2026-12-07T01:00:00Z",
                    }
                ],
            },
        ]
    )
    calls, sleeps = [], []

    class FakeDesk:
        def call(self, method, path, body=None):
            calls.append(path)
            return next(answers)

    out = io.StringIO()
    desk._watch(FakeDesk(), "/v1/handoffs/RG20261207000001", out, sleeps.append)

    assert calls == [
        "/v1/handoffs/RG20261207000001/messages?after=0",
        "/v1/handoffs/RG20261207000001/messages?after=0",
    ]
    assert sleeps == [desk.POLL_SECONDS]
    assert out.getvalue() == "[1] 2026-12-07 09:00 系统：会话已结束\n"
