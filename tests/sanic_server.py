"""Serve a Sanic app (a channel's blueprint, rasa-sdk's app) on a free port."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from sanic import Sanic


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def serving(app: Sanic) -> AsyncIterator[aiohttp.ClientSession]:
    """Start ``app`` on 127.0.0.1 and yield a client session bound to it.

    Call with ``Sanic.test_mode`` set (monkeypatch): Sanic rewrites its own
    methods once per process otherwise, and a second app would not start.
    """
    port = free_port()
    running = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    await running.startup()
    await running.start_serving()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
            yield session
    finally:
        running.close()
        await running.wait_closed()
