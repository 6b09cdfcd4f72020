"""Conversation-turn latency through the REST channel of a freshly started stack.

Each simulated citizen runs the same script: a greeting, three knowledge-base
questions, the restaurant scenario to a submitted application, and a status
check. Turns run one after another (one user at a time): this measures the
path, not capacity (issue #10 adds the load benchmark).
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

from benchmarks.table import markdown, percentile
from bot.stack import start_stack

# (turn type, message). Fictional applicant from the backend's seed data.
SCRIPT = [
    ("greeting", "你好"),
    ("kb_question", "第一次办身份证要带什么"),
    ("kb_question", "失业金怎么领"),
    ("kb_question", "开饭馆要办排水许可证吗"),
    ("scenario", "我想开个餐馆"),
    ("scenario", "一百二十平"),
    ("scenario", "没有"),
    ("scenario", "还没有"),
    ("scenario", "个体户"),
    ("scenario", "不卖"),
    ("scenario", "要"),
    ("scenario", "同意"),
    ("prefill", "990101198503120117"),
    ("submit", "确认提交"),
    ("status", "我的申请进度"),
]


def send(url: str, sender: str, message: str) -> list[dict]:
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def turns_table(users: int = 8) -> str:
    """Start the stack, run ``users`` scripted conversations, tabulate latency."""
    with tempfile.TemporaryDirectory(prefix="bench-") as var_dir:
        started = time.perf_counter()
        stack = start_stack(Path(var_dir))
        startup = time.perf_counter() - started
        try:
            timings = run_script(f"{stack.rasa_url}/webhooks/web/webhook", users)
        finally:
            stack.stop()
    rows = [
        (
            kind,
            len(values),
            f"{percentile(values, 0.5):.0f}",
            f"{percentile(values, 0.95):.0f}",
            f"{max(values):.0f}",
        )
        for kind, values in timings.items()
    ]
    title = (
        f"REST turn latency ({users} conversations, one at a time; "
        f"stack ready in {startup:.0f} s)"
    )
    return markdown(title, ("turn", "turns", "p50 ms", "p95 ms", "max ms"), rows)


def run_script(url: str, users: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = defaultdict(list)
    for user in range(users):
        sender = f"bench-{user}"
        for kind, message in SCRIPT:
            started = time.perf_counter()
            replies = send(url, sender, message)
            timings[kind].append((time.perf_counter() - started) * 1000)
            if not replies:
                raise RuntimeError(f"no reply to a {kind} turn")
    return timings
