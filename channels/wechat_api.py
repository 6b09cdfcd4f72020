"""The WeChat API calls the channel makes: access token and customer-service text.

One access token per account, cached until shortly before it expires and
refreshed once for all concurrent callers; a token WeChat calls expired
(errcode 40001, 40014, 42001) is refreshed and the call retried once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import aiohttp

from channels.wechat_protocol import WeChatOptions, customer_service_body

logger = logging.getLogger(__name__)

# Refresh this long before WeChat's stated expiry (7200 s), so a token is
# never used in its last minutes.
REFRESH_MARGIN_SECONDS = 300
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
TIMEOUT = aiohttp.ClientTimeout(total=10)


class WeChatApiError(RuntimeError):
    """WeChat answered with an error code (or not at all)."""

    def __init__(self, errcode: int, where: str) -> None:
        super().__init__(f"{where}: errcode {errcode}")
        self.errcode = errcode


class WeChatApiClient:
    """Calls api.weixin.qq.com (or a fake of it) for one account."""

    def __init__(self, options: WeChatOptions) -> None:
        self.options = options
        self._token = ""
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self.token_fetches = 0

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send_text(self, user: str, text: str) -> None:
        """Send one customer-service text message.

        Raises:
            WeChatApiError: WeChat refused it (after one token refresh).
        """
        body = customer_service_body(user, text)
        for attempt in (1, 2):
            token = await self.access_token(force=attempt == 2)
            answer = await self._call(
                "POST", "/cgi-bin/message/custom/send", {"access_token": token}, body
            )
            errcode = int(answer.get("errcode", 0))
            if errcode == 0:
                return
            if errcode not in TOKEN_ERRCODES or attempt == 2:
                raise WeChatApiError(errcode, "custom_send")
            self._forget(token)
        raise AssertionError("unreachable")  # pragma: no cover

    async def access_token(self, force: bool = False) -> str:
        """A valid access token, fetched at most once for concurrent callers."""
        seen = self._token
        async with self._lock:
            fresh = self._token and time.monotonic() < self._expires_at
            # A caller forcing a refresh after another already replaced the
            # token uses the new one instead of fetching again.
            if fresh and (not force or self._token != seen):
                return self._token
            answer = await self._call(
                "GET",
                "/cgi-bin/token",
                {
                    "grant_type": "client_credential",
                    "appid": self.options.app_id,
                    "secret": self.options.app_secret,
                },
            )
            self.token_fetches += 1
            if "access_token" not in answer:
                raise WeChatApiError(int(answer.get("errcode", -1)), "token")
            lifetime = int(answer.get("expires_in", 7200))
            self._token = str(answer["access_token"])
            self._expires_at = time.monotonic() + lifetime - REFRESH_MARGIN_SECONDS
            logger.info("channels.wechat.token.fetched", extra={"expires_in": lifetime})
            return self._token

    def _forget(self, token: str) -> None:
        if self._token == token:
            self._expires_at = 0.0

    async def _call(
        self, method: str, path: str, params: dict[str, str], body: Any = None
    ) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        url = self.options.api_base + path
        try:
            # Chinese as UTF-8, not \u escapes, which WeChat shows literally.
            data = None if body is None else json.dumps(body, ensure_ascii=False)
            async with self._session.request(
                method,
                url,
                params=params,
                data=None if data is None else data.encode("utf-8"),
                headers={"Content-Type": "application/json; charset=utf-8"},
            ) as response:
                answer = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise WeChatApiError(-1, path) from exc
        return answer if isinstance(answer, dict) else {"errcode": -1}
