"""Sanic responses the chat page's and the agent console's channels share.

JSON with markup characters escaped and no caching, the error body every
failure returns, and the pages' files with their security headers.
"""

from __future__ import annotations

from typing import Any

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import web_protocol
from channels.errors import ChannelError, LimitExceededError
from channels.web_assets import Asset


def send_asset(request: Request, asset: Asset) -> HTTPResponse:
    """A page file, or 304 when the browser's copy is current."""
    if request.headers.get("if-none-match") == asset.etag:
        return response.empty(status=304, headers=asset.headers())
    return response.raw(
        asset.body, headers=asset.headers(), content_type=asset.content_type
    )


def json_response(
    payload: Any, status: int = 200, request_id: str = ""
) -> HTTPResponse:
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    if request_id:
        headers["X-Request-Id"] = request_id
    return response.text(
        web_protocol.encode_json(payload),
        status=status,
        headers=headers,
        content_type="application/json; charset=utf-8",
    )


def json_error(error: ChannelError, request_id: str) -> HTTPResponse:
    """``{"error": {"code", "message"}, "request_id"}``; Retry-After on a limit."""
    body = web_protocol.error_body(error, request_id)
    reply = json_response(body, status=error.status, request_id=request_id)
    if isinstance(error, LimitExceededError):
        reply.headers["Retry-After"] = str(error.retry_after)
    return reply
