"""A fake of WeChat's API on 127.0.0.1: access tokens and customer-service text.

For tests and the simulator only; it never talks to the internet. It issues
numbered tokens, can expire the current one on demand (errcode 42001) and
records every customer-service message it accepts.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from aiohttp import web

TOKEN_EXPIRED = 42001
INVALID_TOKEN = 40001


@dataclass
class SentText:
    """A customer-service message the fake accepted."""

    user: str
    text: str
    at: float


@dataclass
class FakeWeChatApi:
    """The fake's state; ``url`` is set once :meth:`start` has bound a port."""

    app_id: str
    app_secret: str
    token_lifetime: int = 7200
    sent: list[SentText] = field(default_factory=list)
    token_fetches: int = 0
    rejected_tokens: int = 0
    # Error codes the next sends answer with (e.g. 45015: the user has not
    # written in 48 hours), one per send.
    send_errors: list[int] = field(default_factory=list)
    url: str = ""
    _token: str = ""
    _runner: web.AppRunner | None = None

    def expire_token(self) -> None:
        """The next call with the current token gets errcode 42001."""
        self._token = "expired"

    def texts_for(self, user: str) -> list[str]:
        return [item.text for item in self.sent if item.user == user]

    async def start(self, port: int = 0) -> str:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token_endpoint)
        app.router.add_post("/cgi-bin/message/custom/send", self._send_endpoint)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # noqa: SLF001
        self.url = f"http://127.0.0.1:{bound}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _token_endpoint(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("appid") != self.app_id or query.get("secret") != self.app_secret:
            return _json({"errcode": 40125, "errmsg": "invalid appsecret"})
        self.token_fetches += 1
        self._token = f"fake-token-{self.token_fetches}"
        return _json({"access_token": self._token, "expires_in": self.token_lifetime})

    async def _send_endpoint(self, request: web.Request) -> web.Response:
        token = request.query.get("access_token", "")
        if token != self._token or self._token == "expired":
            self.rejected_tokens += 1
            code = TOKEN_EXPIRED if self._token == "expired" else INVALID_TOKEN
            return _json({"errcode": code, "errmsg": "access_token expired"})
        if self.send_errors:
            return _json({"errcode": self.send_errors.pop(0), "errmsg": "refused"})
        body = json.loads(await request.read())
        content = body.get("text", {}).get("content", "")
        self.sent.append(SentText(body.get("touser", ""), content, time.monotonic()))
        return _json({"errcode": 0, "errmsg": "ok"})


def _json(payload: dict) -> web.Response:
    return web.json_response(payload, dumps=lambda o: json.dumps(o, ensure_ascii=False))
