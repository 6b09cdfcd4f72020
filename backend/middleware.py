"""What every request passes through: request id, authentication, error bodies.

Errors become ``{"error": {"code", "message"}, "request_id"}`` with the status
from :mod:`backend.errors`; nothing else (no stack trace, no echo of the
request) ever reaches the caller. The access log names the route template,
never the path, because paths carry 身份证号.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from functools import partial
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from backend import metrics
from backend.auth import TokenTable
from backend.errors import BackendError, UnauthorizedError, from_http_status
from bot.metrics import PATH as METRICS_PATH
from bot.metrics import authorized

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
TOKENS = web.AppKey("tokens", TokenTable)
# The scraper's ZW_METRICS_TOKEN: opens /metrics and nothing else.
METRICS_TOKEN = web.AppKey("metrics_token", str)
# Keys of per-request values (aiohttp wants plain strings here).
REQUEST_ID = "backend.request_id"
CALLER = "backend.caller"
ERROR_CODE = "backend.error_code"

# Routes anyone may call; every other path, known or not, needs a token.
PUBLIC_ROUTES = frozenset({"/health", "/openapi.yaml"})
_INCOMING_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

_dumps = partial(json.dumps, ensure_ascii=False)


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response that keeps Chinese readable (UTF-8, not ``\\u`` escapes)."""
    return web.json_response(data, status=status, dumps=_dumps)


def error_response(error: BackendError, request_id: str) -> web.Response:
    """The error body for ``error``, with its HTTP status."""
    body = {
        "error": {"code": error.code, "message": error.message},
        "request_id": request_id,
    }
    response = json_response(body, status=error.status)
    if isinstance(error, UnauthorizedError):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def route_template(request: web.Request) -> str:
    """``/v1/profiles/{id_number}`` rather than the path with the number in it."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request an id, turn every failure into an error body, log it."""
    request_id = _request_id(request.headers.get(REQUEST_ID_HEADER))
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    try:
        response = await handler(request)
    except BackendError as exc:
        response = _failed(request, exc, request_id)
    except web.HTTPException as exc:
        response = _failed(request, from_http_status(exc.status), request_id)
    except Exception:
        # The last line of defence: log the type, answer with a code only.
        logger.exception(
            "backend.request.crashed",
            extra={"route": route_template(request), "request_id": request_id},
        )
        response = _failed(request, BackendError(), request_id)
    response.headers[REQUEST_ID_HEADER] = request_id
    _log_done(request, response, started)
    seconds = time.perf_counter() - started
    metrics.count_request(route_template(request), response.status, seconds)
    return response


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Reject a call outside :data:`PUBLIC_ROUTES` without a known bearer token.

    ``/metrics`` takes the scraper's token instead, and the callers' tokens
    do not open it.

    Raises:
        UnauthorizedError: no token, or not one this route accepts.
    """
    if route_template(request) == METRICS_PATH:
        header = request.headers.get("Authorization")
        if not authorized(header, request.app[METRICS_TOKEN]):
            raise UnauthorizedError()
    elif route_template(request) not in PUBLIC_ROUTES:
        tokens = request.app[TOKENS]
        request[CALLER] = tokens.caller_for(request.headers.get("Authorization"))
    return await handler(request)


def _request_id(incoming: str | None) -> str:
    # Keep the caller's id so both sides log the same one; otherwise mint one.
    if incoming and _INCOMING_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def _failed(request: web.Request, error: BackendError, request_id: str) -> web.Response:
    request[ERROR_CODE] = error.code
    if error.status >= 500:
        logger.error(
            "backend.request.failed",
            extra={
                "route": route_template(request),
                "code": error.code,
                "request_id": request_id,
            },
        )
    return error_response(error, request_id)


def _log_done(
    request: web.Request, response: web.StreamResponse, started: float
) -> None:
    fields = {
        "method": request.method,
        "route": route_template(request),
        "status": response.status,
        "latency_ms": round((time.perf_counter() - started) * 1000),
        "request_id": request[REQUEST_ID],
    }
    for name, key in (("code", ERROR_CODE), ("caller", CALLER)):
        if key in request:
            fields[name] = request[key]
    logger.info("backend.request.done", extra=fields)
