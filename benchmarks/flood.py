"""Does a flood from one sender slow everyone else? (`make bench-flood`, ~1 min)

A real web channel (``channels.web`` on Sanic, in its own process) answers
through a stand-in for Rasa's ``on_new_message``: each turn holds the event
loop for ``cpu_ms`` (NLU and policies run on the loop in Rasa) and then
awaits ``io_ms`` (the action server), one turn at a time per conversation, as
Rasa's lock store does. Ordinary citizens send at a human pace while a
flooder sends as fast as ``flood_workers`` connections allow; each scenario
runs with and without the channel's limits. Clients come through a stand-in
proxy (``X-Forwarded-For``; the server trusts one proxy), so each citizen has
an address of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import random
import socket
import time
import uuid
from dataclasses import dataclass, field

import aiohttp

from benchmarks.table import markdown, percentile
from channels.limits import Limiter, LimitOptions

NO_LIMITS = LimitOptions(
    user_burst=0, address_burst=0, channel_burst=0, turns_per_day=0
)


@dataclass(frozen=True)
class Load:
    """The traffic of one scenario."""

    citizens: int = 30
    citizen_interval: float = 2.0
    seconds: float = 10.0
    flood_workers: int = 16
    cpu_ms: float = 5.0
    io_ms: float = 20.0


@dataclass
class Outcome:
    """What one scenario measured."""

    latencies_ms: list[float] = field(default_factory=list)
    citizens_refused: int = 0
    flood_sent: int = 0
    flood_admitted: int = 0
    flood_refused: int = 0


class StandInRasa:
    """Rasa's ``on_new_message`` with a fixed cost per turn and per-sender locks."""

    def __init__(self, cpu_ms: float, io_ms: float) -> None:
        self.cpu_seconds = cpu_ms / 1000
        self.io_seconds = io_ms / 1000
        self.locks: dict[str, asyncio.Lock] = {}

    async def __call__(self, message) -> None:
        lock = self.locks.setdefault(message.sender_id, asyncio.Lock())
        async with lock:
            until = time.perf_counter() + self.cpu_seconds
            while time.perf_counter() < until:
                pass
            await asyncio.sleep(self.io_seconds)
            await message.output_channel.send_text_message(message.sender_id, "好的")


def _serve(port: int, options: LimitOptions, load: Load) -> None:
    """The server process: the web channel over the stand-in, until killed."""
    import logging

    from sanic import Sanic

    from channels.web import WebChatInput

    logging.disable(logging.WARNING)
    app = Sanic(f"bench_flood_{uuid.uuid4().hex}")
    # As behind one reverse proxy (docs/channels.md: SANIC_PROXIES_COUNT=1).
    app.config.PROXIES_COUNT = 1
    channel = WebChatInput(user_hash_key="bench-key", limiter=Limiter(options))
    rasa = StandInRasa(load.cpu_ms, load.io_ms)
    app.blueprint(channel.blueprint(rasa), url_prefix="/webhooks/web")

    async def run() -> None:
        server = await app.create_server(
            host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
        )
        await server.startup()
        await server.start_serving()
        await asyncio.Event().wait()

    asyncio.run(run())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _post(session, url, sender: str, address: str) -> tuple[int, float]:
    started = time.perf_counter()
    async with session.post(
        url,
        json={"sender": sender, "message": "社保卡怎么补办"},
        headers={"X-Forwarded-For": address},
    ) as response:
        await response.read()
        return response.status, (time.perf_counter() - started) * 1000


async def _citizen(session, url, n: int, load: Load, stop: float, out: Outcome):
    sender, address = f"web-citizen-{n}", f"10.1.{n // 250}.{n % 250}"
    await asyncio.sleep(random.uniform(0, load.citizen_interval))
    while time.perf_counter() < stop:
        status, latency = await _post(session, url, sender, address)
        out.latencies_ms.append(latency)
        out.citizens_refused += status == 429
        await asyncio.sleep(load.citizen_interval)


async def _flooder(session, url, senders, stop: float, out: Outcome) -> None:
    while time.perf_counter() < stop:
        status, _ = await _post(session, url, next(senders), "10.9.9.9")
        out.flood_sent += 1
        out.flood_admitted += status == 200
        out.flood_refused += status == 429


async def _drive(url: str, load: Load, flood: str) -> Outcome:
    out = Outcome()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        stop = time.perf_counter() + load.seconds
        tasks = [
            _citizen(session, url, n, load, stop, out) for n in range(load.citizens)
        ]
        if flood:
            # "one": one conversation; "rotating": a new sender id each time
            # (the web page's sender id is chosen by the client).
            senders = (
                itertools.repeat("web-flooder")
                if flood == "one"
                else (f"web-flood-{n}" for n in itertools.count())
            )
            tasks += [
                _flooder(session, url, senders, stop, out)
                for _ in range(load.flood_workers)
            ]
        await asyncio.gather(*tasks)
    return out


async def _wait_listening(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(base + "/") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the benchmark's web channel never started")
            await asyncio.sleep(0.2)


def run_scenario(options: LimitOptions, load: Load, flood: str) -> Outcome:
    """Start a server with ``options``, drive one scenario, stop the server."""
    port = _free_port()
    context = multiprocessing.get_context("spawn")
    server = context.Process(target=_serve, args=(port, options, load), daemon=True)
    server.start()
    try:
        base = f"http://127.0.0.1:{port}/webhooks/web"
        asyncio.run(_wait_listening(base))
        return asyncio.run(_drive(base + "/webhook", load, flood))
    finally:
        server.kill()
        server.join()


SCENARIOS = [
    ("no flood", "", True),
    ("flood, one sender, limits off", "one", False),
    ("flood, one sender, limits on", "one", True),
    ("flood, new sender id each time, limits off", "rotating", False),
    ("flood, new sender id each time, limits on", "rotating", True),
]


def flood_table(load: Load | None = None) -> str:
    """Run every scenario and tabulate the other citizens' latency."""
    load = load or Load()
    rows = []
    for name, flood, limited in SCENARIOS:
        options = LimitOptions() if limited else NO_LIMITS
        out = run_scenario(options, load, flood)
        rows.append(
            [
                name,
                len(out.latencies_ms),
                f"{percentile(out.latencies_ms, 0.5):.0f}",
                f"{percentile(out.latencies_ms, 0.95):.0f}",
                out.citizens_refused,
                out.flood_sent,
                out.flood_admitted,
                out.flood_refused,
            ]
        )
    title = (
        f"Flood from one client vs {load.citizens} citizens (one message each"
        f" {load.citizen_interval:g} s, {load.seconds:g} s per row; real web"
        f" channel on Sanic, stand-in for Rasa: {load.cpu_ms:g} ms CPU +"
        f" {load.io_ms:g} ms I/O per turn; {load.flood_workers} flood"
        " connections; limits = credentials.yml defaults)"
    )
    header = [
        "scenario",
        "citizen msgs",
        "citizen p50 ms",
        "citizen p95 ms",
        "citizens refused",
        "flood sent",
        "flood admitted",
        "flood refused (429)",
    ]
    return markdown(title, header, rows)
