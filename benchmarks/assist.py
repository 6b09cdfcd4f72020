"""Hotline assist latency: POST /webhooks/assist/v1/suggest on a fresh stack.

Each request carries a call's transcript so far: caller turns are real
citizen questions from the shared eval sets (with a fictional 身份证号 and
phone in one of them, so the field reader has work), agent turns are the
short things an agent says. Transcripts of 2 and 10 turns, sent one at a
time and from 4 agents at once. The target (issue #7) is p95 under 300 ms
for 10 turns.
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle
from pathlib import Path

from benchmarks.table import markdown, percentile
from bot.settings import DEV_AGENT_TOKEN, PROJECT_ROOT
from bot.stack import start_stack

SHARED_EVAL = PROJECT_ROOT.parent / "shared" / "eval"
EVAL_SETS = ("beijing_faq_dev.jsonl", "guangdong_guides_dev.jsonl")
AGENT_LINES = (
    "您好，12345热线，请讲。",
    "好的，请稍等，我帮您查一下。",
    "还有别的问题吗？",
)
# Fictional: the backend's seed data.
PERSONAL = "我身份证号990101198503120117，电话13000000001"
WARMUP = 10


def caller_lines() -> list[str]:
    lines = []
    for name in EVAL_SETS:
        path = SHARED_EVAL / name
        if path.is_file():
            with path.open(encoding="utf-8") as handle:
                lines += [json.loads(line)["query"] for line in handle if line.strip()]
    return lines or ["第一次办身份证要带什么", "失业金怎么领", "我想开个餐馆"]


def transcripts(turns: int, count: int) -> Iterator[list[dict[str, str]]]:
    """``count`` transcripts of ``turns`` turns, agent and caller taking turns."""
    questions = cycle(caller_lines())
    for number in range(count):
        said = []
        for turn in range(turns):
            if turn % 2 == 0:
                said.append({"role": "agent", "text": AGENT_LINES[turn // 2 % 3]})
            elif turn == 3 and number % 2 == 0:
                said.append({"role": "caller", "text": PERSONAL})
            else:
                said.append({"role": "caller", "text": next(questions)})
        if said[-1]["role"] != "caller":
            said.append({"role": "caller", "text": next(questions)})
            said = said[1:]
        yield said


def suggest(url: str, turns: list[dict[str, str]]) -> float:
    """One request; its wall time in ms. Raises on anything but 200."""
    body = json.dumps({"turns": turns}, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url,
        data=body,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {DEV_AGENT_TOKEN}",
        },
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        json.load(response)
    return (time.perf_counter() - started) * 1000


def run(url: str, turns: int, count: int, agents: int) -> list[float]:
    calls = list(transcripts(turns, count))
    with ThreadPoolExecutor(max_workers=agents) as pool:
        return list(pool.map(lambda said: suggest(url, said), calls))


def assist_table(count: int = 200) -> str:
    """Start the stack, measure suggest latency, tabulate."""
    with tempfile.TemporaryDirectory(prefix="bench-assist-") as var_dir:
        stack = start_stack(Path(var_dir))
        try:
            url = f"{stack.rasa_url}/webhooks/assist/v1/suggest"
            run(url, 10, WARMUP, 1)
            rows = []
            for turns, agents in ((2, 1), (10, 1), (10, 4)):
                values = run(url, turns, count, agents)
                rows.append(
                    (
                        turns,
                        agents,
                        len(values),
                        f"{percentile(values, 0.5):.0f}",
                        f"{percentile(values, 0.95):.0f}",
                        f"{percentile(values, 0.99):.0f}",
                        f"{max(values):.0f}",
                    )
                )
        finally:
            stack.stop()
    header = (
        "turns",
        "agents at once",
        "requests",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
    )
    return markdown(
        "Hotline assist: POST /v1/suggest (audit + search + reading)", header, rows
    )
