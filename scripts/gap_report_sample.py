"""A sample gap report from real citizen questions, through the whole review loop.

The questions of the Beijing unanswerable set and a few hundred 咨询 messages
of the labelled citizen messages go through the real knowledge-base search;
each no-answer becomes a ``no_answer`` record and each clarification a
``clarify_rejected`` one (as if the citizen had pressed 都不是). They are
posted to a backend served in-process on a temporary SQLite file, and
``python -m knowledge_base gaps`` reads them back over HTTP.

    .venv/bin/python -m scripts.gap_report_sample [--messages 300] [--top 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import tempfile
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from itertools import zip_longest
from pathlib import Path

from aiohttp import web

from backend.app import create_app
from backend.db import create_db_engine, upgrade_schema
from bot.privacy import hash_user
from bot.settings import PROJECT_ROOT, load_settings
from knowledge_base import cli, pipeline

SHARED = PROJECT_ROOT.parent / "shared"
UNANSWERABLE = SHARED / "eval" / "beijing_unanswerable_dev.jsonl"
MESSAGES = (
    SHARED / "data" / "msgabench_beijing_gov_qa" / "citizen_messages_labelled.jsonl"
)
ACTION_TOKEN = "sample-backend-token-0001"
OPERATOR_TOKEN = "sample-operator-token-0001"
KINDS = {"no_answer": "no_answer", "clarify": "clarify_rejected"}


def questions(messages: int) -> list[str]:
    """The unanswerable questions, then ``messages`` 咨询 messages.

    The messages are taken in turn from each domain (城建, 教育, 交通, …)
    in file order: the file lists 城建 first, and two thirds of it are 城建.
    """
    found = [json.loads(line)["query"] for line in _lines(UNANSWERABLE)]
    by_domain: dict[str, list[str]] = {}
    for line in _lines(MESSAGES):
        row = json.loads(line)
        if row.get("request_type") == "咨询":
            by_domain.setdefault(row.get("domain", ""), []).append(row["message"])
    rounds = zip_longest(*by_domain.values())
    taken = [text for turn in rounds for text in turn if text is not None]
    return found + taken[:messages]


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line]


def records(texts: list[str]) -> tuple[list[dict], Counter]:
    """One record per question the search did not answer, as the actions send it."""
    searcher = pipeline.open_searcher(pipeline.Layout.from_settings(load_settings()))
    results = searcher.search_many(texts, top_k=3)
    outcomes = Counter(result.outcome for result in results)
    bodies = [
        {
            "kind": KINDS[result.outcome],
            "question": text[:1000],
            "matches": [{"doc_id": h.doc_id, "score": h.score} for h in result.hits],
            "channel": "web",
            "user_hash": hash_user(f"sample-{number}", "sample-hash-key"),
        }
        for number, (text, result) in enumerate(zip(texts, results, strict=True))
        if result.outcome in KINDS
    ]
    return bodies, outcomes


@contextmanager
def backend_server(db_path: Path) -> Iterator[str]:
    """The real backend app on a free port, in a thread; yields its URL."""
    engine = create_db_engine(f"sqlite:///{db_path}")
    upgrade_schema(engine)
    settings = replace(
        load_settings({}), backend_token=ACTION_TOKEN, operator_token=OPERATOR_TOKEN
    )
    app = create_app(settings, engine)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        engine.dispose()


def post(url: str, body: dict) -> None:
    request = urllib.request.Request(
        f"{url}/v1/review-records",
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        headers={
            "Authorization": f"Bearer {ACTION_TOKEN}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--similarity", type=float)
    args = parser.parse_args()

    texts = questions(args.messages)
    bodies, outcomes = records(texts)
    print(f"questions: {len(texts)}; search outcomes: {dict(outcomes)}")
    with (
        tempfile.TemporaryDirectory() as folder,
        backend_server(Path(folder) / "backend.db") as url,
    ):
        for body in bodies:
            post(url, body)
        os.environ["ZW_OPERATOR_TOKEN"] = OPERATOR_TOKEN
        argv = ["gaps", "--since", "1", "--top", str(args.top), "--backend-url", url]
        if args.similarity:
            argv += ["--similarity", str(args.similarity)]
        return cli.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
