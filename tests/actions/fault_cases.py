"""The delivery fault cases of issue #5, run against a real backend process.

Each case confirms applications through ``action_submit_application`` with
the real client and outbox, breaks something, and counts what reached the
platform's database: ``submitted`` (confirmed runs with an application),
``duplicated`` (applications beyond one per run) and ``lost`` (confirmed runs
without one). ``tests/actions/test_delivery_faults.py`` asserts the counts;
run this module to print them::

    .venv/bin/python -m tests.actions.fault_cases            # SQLite
    .venv/bin/python -m tests.actions.fault_cases --postgres # and PostgreSQL
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import create_engine, select, text

from actions.application import ActionSubmitApplication
from actions.backend_client import BackendClient
from actions.delivery import DeliveryLoop, deliver_due
from actions.outbox import DELIVERED, PENDING, Outbox
from actions.scenario_state import idempotency_key
from actions.services import Services, use_services
from backend.db import Application
from bot.logs import configure_logging
from bot.settings import PROJECT_ROOT
from bot.stack import free_port
from knowledge_base.scenarios import load_scenarios
from tests.actions.conftest import FICTIONAL_ID, SCENARIO_DIR, make_tracker

TOKEN = "fault-case-token"
FAST = aiohttp.ClientTimeout(total=2, connect=1)
RUN_SLOTS = {
    "scenario": "restaurant",
    "venue_area": 120.0,
    "has_entertainment": False,
    "has_business_licence": False,
    "business_type": "individual",
    "sells_tobacco": True,
    "outdoor_sign": False,
    "prefill_consent": False,
    "id_number": FICTIONAL_ID,
    "confirm_submission": True,
}


@dataclass(frozen=True)
class Counts:
    """What one fault case did to the platform's applications."""

    case: str
    confirmed: int
    submitted: int
    duplicated: int
    lost: int


@dataclass
class Platform:
    """The reference backend as its own process, on one port and database."""

    db_url: str
    var_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        env = {
            **os.environ,
            "ZW_BACKEND_TOKEN": TOKEN,
            "ZW_BACKEND_DB_URL": self.db_url,
            "ZW_VAR_DIR": str(self.var_dir),
            "ZW_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(PROJECT_ROOT),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "backend", "serve", "--port", str(self.port)],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the backend exited during start-up")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the backend did not become healthy")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def application_keys(self) -> list[str]:
        engine = create_engine(self.db_url, future=True)
        try:
            with engine.connect() as connection:
                query = select(Application.idempotency_key)
                return list(connection.execute(query).scalars())
        finally:
            engine.dispose()


def count(case: str, platform: Platform, confirmed_keys: list[str]) -> Counts:
    keys = platform.application_keys()
    submitted = len(set(confirmed_keys) & set(keys))
    return Counts(
        case=case,
        confirmed=len(confirmed_keys),
        submitted=submitted,
        duplicated=len(keys) - submitted,
        lost=len(confirmed_keys) - submitted,
    )


def install_services(platform: Platform, outbox: Outbox) -> Services:
    client = BackendClient(platform.url, TOKEN, timeout=FAST, backoff_s=0.05)
    services = Services(
        kb=None,
        backend=client,
        scenarios=load_scenarios(SCENARIO_DIR),
        outbox=outbox,
    )
    use_services(services)
    return services


async def confirm(sender_id: str, instance_id: str) -> list[str]:
    """One 确认提交 of a run: the response names the action sent."""
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "确认提交",
        intent="submit_application",
        slots={**RUN_SLOTS, "scenario_instance_id": instance_id},
        sender_id=sender_id,
    )
    await ActionSubmitApplication().run(dispatcher, tracker, {})
    return [message.get("response") for message in dispatcher.messages]


async def duplicate_deliveries(platform: Platform, var_dir: Path) -> Counts:
    """Three 确认提交 of one run one after another, three of another at once."""
    platform.start()
    outbox = Outbox(var_dir / "outbox.db")
    services = install_services(platform, outbox)
    try:
        replies = [await confirm("wechat-user-1", "run-sequential") for _ in range(3)]
        replies += await asyncio.gather(
            *(confirm("wechat-user-1", "run-concurrent") for _ in range(3))
        )
    finally:
        await services.backend.close()
        outbox.close()
        platform.stop()
    assert all(reply == ["utter_application_submitted"] for reply in replies), replies
    keys = [
        idempotency_key("wechat-user-1", run)
        for run in ("run-sequential", "run-concurrent")
    ]
    return count("three 确认提交 per run (sequential, concurrent)", platform, keys)


async def platform_down_then_up(platform: Platform, var_dir: Path) -> Counts:
    """Confirmed while the platform is down; the delivery loop sends it once."""
    outbox = Outbox(var_dir / "outbox.db")
    services = install_services(platform, outbox)
    key = idempotency_key("wechat-user-2", "run-down")
    loop = DeliveryLoop(outbox, services.backend, interval_s=0.2)
    try:
        assert await confirm("wechat-user-2", "run-down") == ["utter_submission_queued"]
        assert await confirm("wechat-user-2", "run-down") == ["utter_submission_queued"]
        platform.start()
        loop.start()
        await _until(lambda: outbox.get(key).status == DELIVERED, timeout=30)
        await asyncio.sleep(1)  # more rounds: nothing is sent twice
        await loop.stop()
        assert await confirm("wechat-user-2", "run-down") == [
            "utter_application_submitted"
        ]
    finally:
        await loop.stop()
        await services.backend.close()
        outbox.close()
        platform.stop()
    return count("platform down, then up (delivery loop)", platform, [key])


async def killed_between_confirm_and_submit(
    platform: Platform, var_dir: Path
) -> Counts:
    """The action server dies after writing the outbox, before the platform answers.

    A child process runs the submit action against a port that accepts and
    never answers, and is killed (SIGKILL) once the row is on disk. A new
    outbox over the same file (the restarted server) delivers it.
    """
    key = idempotency_key("wechat-user-3", "run-killed")
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(16)
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.actions.fault_cases",
                "--child",
                str(var_dir),
                f"http://127.0.0.1:{black_hole.getsockname()[1]}",
            ],
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        )
        try:
            await _until(lambda: _has_row(var_dir, key), timeout=60)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
    assert child.returncode == -signal.SIGKILL

    platform.start()
    outbox = Outbox(var_dir / "outbox.db")
    client = BackendClient(platform.url, TOKEN, timeout=FAST, backoff_s=0.05)
    try:
        assert outbox.get(key).status == PENDING
        await deliver_due(outbox, client)
        await deliver_due(outbox, client)  # a second round sends nothing
        assert outbox.get(key).status == DELIVERED
    finally:
        await client.close()
        outbox.close()
        platform.stop()
    return count("action server killed between confirm and submit", platform, [key])


def _has_row(var_dir: Path, key: str) -> bool:
    # Plain sqlite3, read only: an Outbox here would race the child's
    # CREATE TABLE on a fresh file.
    path = var_dir / "outbox.db"
    if not path.exists():
        return False
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        try:
            row = connection.execute(
                "SELECT 1 FROM outbox WHERE idempotency_key = ?", (key,)
            ).fetchone()
        except sqlite3.OperationalError:
            return False  # the table is not there yet
    return row is not None


async def _until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise TimeoutError("the condition never held")
        await asyncio.sleep(0.1)


async def _child(var_dir: Path, backend_url: str) -> None:
    """The doomed action server: confirm, then hang on a platform that never answers."""
    outbox = Outbox(var_dir / "outbox.db")
    slow = aiohttp.ClientTimeout(total=600)
    use_services(
        Services(
            kb=None,
            backend=BackendClient(backend_url, TOKEN, timeout=slow),
            scenarios=load_scenarios(SCENARIO_DIR),
            outbox=outbox,
        )
    )
    await confirm("wechat-user-3", "run-killed")


CASES: dict[str, Callable[[Platform, Path], Awaitable[Counts]]] = {
    "duplicates": duplicate_deliveries,
    "down_then_up": platform_down_then_up,
    "killed": killed_between_confirm_and_submit,
}


def sqlite_url(var_dir: Path) -> str:
    return f"sqlite:///{var_dir / 'backend.db'}"


def postgres_schema_url(base_url: str) -> tuple[str, Callable[[], None]]:
    """A fresh schema in the test database, and how to drop it."""
    schema = f"fault_cases_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, future=True)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{base_url}?options=-csearch_path%3D{schema}", drop


async def run_all(postgres: bool) -> list[tuple[str, Counts]]:
    from tests.backend.conftest import postgres_url

    results = []
    databases = ["sqlite"] + (["postgresql"] if postgres else [])
    for database in databases:
        for run in CASES.values():
            with tempfile.TemporaryDirectory() as tmp:
                var_dir = Path(tmp)
                drop = None
                if database == "sqlite":
                    url = sqlite_url(var_dir)
                else:
                    base = postgres_url()
                    if base is None:
                        raise SystemExit("PostgreSQL is not reachable")
                    url, drop = postgres_schema_url(base)
                try:
                    results.append(
                        (database, await run(Platform(url, var_dir), var_dir))
                    )
                finally:
                    if drop:
                        drop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.actions.fault_cases")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    configure_logging("ERROR")  # the retries are expected; keep the table readable
    if args.child:
        asyncio.run(_child(Path(args.child[0]), args.child[1]))
        return 0
    results = asyncio.run(run_all(args.postgres))
    header = ("database", "case", "confirmed", "submitted", "duplicated", "lost")
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for database, counts in results:
        print(
            f"| {database} | {counts.case} | {counts.confirmed} | {counts.submitted}"
            f" | {counts.duplicated} | {counts.lost} |"
        )
    return 0 if all(c.duplicated == c.lost == 0 for _, c in results) else 1


if __name__ == "__main__":
    sys.exit(main())
