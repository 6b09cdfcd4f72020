"""``python -m backend desk``: a small terminal desk for an agent of the queue.

Talks HTTP to the backend (``ZW_BACKEND_URL``) with one agent's token
(``ZW_AGENT_TOKEN``), so it sees and does exactly what the API lets that
agent do. TODO(#7): the real agent console is a web page; this is a stopgap.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from backend.repository import CHINA_TIME
from bot.settings import Settings

POLL_SECONDS = 2.0
TIMEOUT_SECONDS = 10
COMMANDS = ("queue", "show", "claim", "reply", "close", "watch")

STATUS = {"waiting": "等待中", "active": "处理中", "closed": "已结束"}
REASON = {
    "requested": "市民要求转人工",
    "repeated_failures": "多次未能解答",
    "low_confidence_complaint": "疑似投诉",
}
ROLE = {"citizen": "市民", "assistant": "助手", "agent": "坐席", "system": "系统"}
EVENT = {"claimed": "坐席已接入", "closed": "会话已结束"}


class DeskError(Exception):
    """A call the backend refused or could not answer; ``exit_code`` for main."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Desk:
    """One agent's HTTP calls to the queue."""

    def __init__(self, base_url: str, token: str) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        """The decoded JSON answer.

        Raises:
            DeskError: an error answer (its code), or no answer at all.
        """
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            self._base_url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self._token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as exc:
            raise DeskError(_error_text(exc)) from exc
        except (urllib.error.URLError, TimeoutError) as exc:
            raise DeskError(f"cannot reach the backend at {self._base_url}", 2) from exc


def add_parser(commands) -> None:
    """The ``desk`` command and its subcommands."""
    desk = commands.add_parser("desk", help="an agent's desk for the handoff queue")
    actions = desk.add_subparsers(dest="desk_command", required=True)
    actions.add_parser("queue", help="the open handoffs, oldest first")
    for name, what in (
        ("show", "a handoff: transcript, collected, messages"),
        ("claim", "take a waiting handoff"),
        ("close", "close a handoff you claimed"),
        ("watch", "print new messages every 2 s until closed (Ctrl-C stops)"),
    ):
        actions.add_parser(name, help=what).add_argument("handoff_no")
    reply = actions.add_parser("reply", help="send the citizen a message")
    reply.add_argument("handoff_no")
    reply.add_argument("text")


def run(args, settings: Settings, out: TextIO | None = None) -> int:
    """Run one desk command, printing to ``out`` (stdout); returns the exit status."""
    out = out or sys.stdout
    desk = Desk(settings.backend_url, settings.agent_token)
    handlers: dict[str, Callable[..., None]] = {
        "queue": lambda: _queue(desk, out),
        "show": lambda: _show(desk, _path(args), out),
        "claim": lambda: _claim(desk, _path(args), out),
        "reply": lambda: _reply(desk, _path(args), args.text, out),
        "close": lambda: _close(desk, _path(args), out),
        "watch": lambda: _watch(desk, _path(args), out),
    }
    try:
        handlers[args.desk_command]()
    except DeskError as exc:
        print(exc, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("", file=out)
    return 0


def _path(args) -> str:
    # The backend checks the number; quoting keeps a typo inside the path.
    return "/v1/handoffs/" + urllib.parse.quote(args.handoff_no, safe="")


def _queue(desk: Desk, out: TextIO) -> None:
    handoffs = desk.call("GET", "/v1/handoffs")["handoffs"]
    if not handoffs:
        print("队列为空", file=out)
        return
    print(_service_line(handoffs[0]["service"]), file=out)
    for handoff in handoffs:
        print(_summary_line(handoff), file=out)


def _show(desk: Desk, path: str, out: TextIO) -> None:
    handoff = desk.call("GET", path)
    print(_summary_line(handoff), file=out)
    print("对话记录：", file=out)
    for line in handoff.get("transcript", []):
        print(f"  {ROLE.get(line['role'], line['role'])}：{line['text']}", file=out)
    print("已收集：", file=out)
    for name, value in handoff.get("collected", {}).items():
        print(f"  {name}：{value}", file=out)
    print("消息：", file=out)
    for message in desk.call("GET", f"{path}/messages")["messages"]:
        print("  " + _message_line(message), file=out)


def _claim(desk: Desk, path: str, out: TextIO) -> None:
    handoff = desk.call("POST", f"{path}/claim", {})
    print(f"已接手 {handoff['handoff_no']}", file=out)


def _reply(desk: Desk, path: str, text: str, out: TextIO) -> None:
    message = desk.call("POST", f"{path}/messages", {"text": text})
    print(f"已发送（第 {message['seq']} 条）", file=out)


def _close(desk: Desk, path: str, out: TextIO) -> None:
    handoff = desk.call("POST", f"{path}/close", {})
    print(f"已结束 {handoff['handoff_no']}", file=out)


def _watch(
    desk: Desk,
    path: str,
    out: TextIO,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    after = 0
    while True:
        answer = desk.call("GET", f"{path}/messages?after={after}")
        for message in answer["messages"]:
            print(_message_line(message), file=out, flush=True)
            after = message["seq"]
        if answer["status"] == "closed":
            return
        sleep(POLL_SECONDS)


def _summary_line(handoff: dict) -> str:
    status = STATUS.get(handoff["status"], handoff["status"])
    if handoff["position"] is not None:
        status += f"（第 {handoff['position']} 位）"
    parts = [
        handoff["handoff_no"],
        status,
        REASON.get(handoff["reason"], handoff["reason"]),
        f"话题：{handoff['topic'] or '未知'}",
        f"渠道：{handoff['channel']}",
        f"创建：{_local(handoff['created_at'])}",
    ]
    if handoff["agent"]:
        parts.append(f"坐席：{handoff['agent']}")
    return "  ".join(parts)


def _message_line(message: dict) -> str:
    who = ROLE.get(message["role"], message["role"])
    said = message["text"] or EVENT.get(message["event"], message["event"] or "")
    return f"[{message['seq']}] {_local(message['created_at'])} {who}：{said}"


def _service_line(service: dict) -> str:
    if service["open_now"]:
        return f"服务时间：{service['hours']}（现在在服务时间内）"
    return f"服务时间：{service['hours']}（下次开始：{_local(service['next_open'])}）"


def _local(moment: str | None) -> str:
    """A ``…Z`` time as China time, ``2026-12-07 09:01``."""
    if moment is None:
        return "-"
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return parsed.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")


def _error_text(error: urllib.error.HTTPError) -> str:
    try:
        body = json.load(error)
        return f"{body['error']['code']}: {body['error']['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {error.code}"
