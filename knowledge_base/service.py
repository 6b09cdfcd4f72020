"""The knowledge-base HTTP service (docs/interfaces.md): health, search, docs.

The model and the index are loaded once, before the server listens; a
missing one stops start-up with a message naming ``make setup``. Handlers
are thin: parse, check, search in a worker thread, reply. Errors are JSON
with a stable code and the request id, and logs never hold the query text.

A watcher checks the index's manifest every ``reload_seconds``; when a
build has written a new index it is loaded beside the old one and swapped
in between two requests, so an added, changed or withdrawn entry shows in
search without a restart, and a half-loaded index is never served.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from bot.metrics import PATH as METRICS_PATH
from bot.metrics import authorized
from knowledge_base import metrics
from knowledge_base.errors import (
    DocumentNotFoundError,
    InvalidQueryError,
    KnowledgeBaseError,
)
from knowledge_base.index import KbIndex, read_manifest
from knowledge_base.pipeline import Layout, open_searcher
from knowledge_base.search import Searcher
from knowledge_base.tokenizer import KbTokenizer

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 500
MAX_TOP_K = 10
MAX_BODY_BYTES = 16 * 1024
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The same code as the backend uses for an oversized body.
_HTTP_CODES = {413: "body_too_large"}

DEFAULT_RELOAD_SECONDS = 2.0
RETRY_FAILED_SECONDS = 30.0


class SearcherHolder:
    """The searcher requests use now; the watcher replaces it whole."""

    def __init__(self, searcher: Searcher):
        self.current = searcher
        # An index that failed to load is retried after RETRY_FAILED_SECONDS
        # (it may have been caught mid-replace) and logged once.
        self.failed_index_id: str | None = None
        self.failed_at = 0.0


SEARCHER = web.AppKey("searcher", SearcherHolder)
TOKEN = web.AppKey("token", str)
METRICS_TOKEN = web.AppKey("metrics_token", str)
# Paths anyone may call (the launcher's health check); the rest need the
# bearer token ZW_KB_TOKEN, which only the action server holds, except
# /metrics, which needs the scraper's ZW_METRICS_TOKEN instead.
PUBLIC_PATHS = frozenset({"/health"})
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_dumps = functools.partial(json.dumps, ensure_ascii=False)


def _error(status: int, code: str, message: str, request_id: str) -> web.Response:
    body = {"error": {"code": code, "message": message}, "request_id": request_id}
    return web.json_response(body, status=status, dumps=_dumps)


def _request_id(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


@web.middleware
async def error_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Give every request an id and turn every failure into a JSON error."""
    request_id = _request_id(request)
    request["request_id"] = request_id
    try:
        response = await handler(request)
    except InvalidQueryError as exc:
        response = _error(400, exc.code, str(exc), request_id)
    except DocumentNotFoundError as exc:
        response = _error(404, exc.code, "no document with this id", request_id)
    except web.HTTPException as exc:
        code = _HTTP_CODES.get(exc.status) or exc.reason.lower().replace(" ", "_")
        response = _error(exc.status, code, exc.reason, request_id)
    except Exception as exc:
        logger.error(
            "kb.request.failed",
            extra={"request_id": request_id, "error": type(exc).__name__},
        )
        response = _error(500, "internal_error", "internal error", request_id)
    response.headers[REQUEST_ID_HEADER] = request_id
    metrics.count_request(request, response.status)
    return response


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a call outside :data:`PUBLIC_PATHS` without the bearer token.

    Each token opens its own paths only: the action server's does not open
    ``/metrics``, and the scraper's opens nothing else.
    """
    key = METRICS_TOKEN if request.path == METRICS_PATH else TOKEN
    header = request.headers.get("Authorization")
    if request.path not in PUBLIC_PATHS and not authorized(header, request.app[key]):
        response = _error(
            401,
            "unauthorized",
            "a valid bearer token is required",
            request["request_id"],
        )
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    return await handler(request)


async def _read_json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidQueryError("the body must be a JSON object") from exc
    if not isinstance(body, dict):
        raise InvalidQueryError("the body must be a JSON object")
    return body


def _has_lone_surrogate(text: str) -> bool:
    # JSON may carry "\ud800", which decodes to a str no encoder accepts.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_search(body: dict[str, Any]) -> tuple[str, int]:
    """``(query, top_k)`` from a search body.

    Raises:
        InvalidQueryError: the query is missing, empty, too long, or top_k
            is not a whole number from 1 to ``MAX_TOP_K``.
    """
    query, top_k = body.get("query"), body.get("top_k", 3)
    if not isinstance(query, str) or not query.strip():
        raise InvalidQueryError("query must be non-empty text")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidQueryError(f"query must be at most {MAX_QUERY_CHARS} characters")
    if not query.isascii() and _has_lone_surrogate(query):
        raise InvalidQueryError("query must be valid Unicode text")
    if (
        isinstance(top_k, bool)
        or not isinstance(top_k, int)
        or not 1 <= top_k <= MAX_TOP_K
    ):
        raise InvalidQueryError(f"top_k must be a whole number from 1 to {MAX_TOP_K}")
    return query.strip(), top_k


async def health(request: web.Request) -> web.Response:
    manifest = request.app[SEARCHER].current.index.manifest
    body = {
        "status": "ok",
        "docs": manifest.doc_count,
        "model": manifest.model_id,
        "index_id": manifest.index_id,
    }
    return web.json_response(body, dumps=_dumps)


async def search(request: web.Request) -> web.Response:
    query, top_k = parse_search(await _read_json(request))

    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    searcher = request.app[SEARCHER].current
    result = await loop.run_in_executor(
        request.app[EXECUTOR], searcher.search, query, top_k
    )
    seconds = time.perf_counter() - started
    metrics.count_search(result.outcome, seconds)

    logger.info(
        "kb.search.done",
        extra={
            "request_id": request["request_id"],
            "query_chars": len(query),
            "outcome": result.outcome,
            "hits": len(result.hits),
            "top_score": result.top_score,
            "latency_ms": round(seconds * 1000),
        },
    )
    rewrites = result.expansion.rewrites if result.expansion else ()
    body = {
        "outcome": result.outcome,
        "field": result.field,
        "rewrites": [{"alias": r.alias, "term": r.term} for r in rewrites],
        "hits": [hit.to_dict() for hit in result.hits],
    }
    return web.json_response(body, dumps=_dumps)


async def get_document(request: web.Request) -> web.Response:
    hit = request.app[SEARCHER].current.document(request.match_info["doc_id"])
    return web.json_response(hit.to_dict(), dumps=_dumps)


async def _close_executor(app: web.Application) -> None:
    app[EXECUTOR].shutdown(wait=True)


def reload_if_changed(holder: SearcherHolder, layout: Layout) -> bool:
    """Swap in the index at ``layout.index_dir`` if it is not the one served.

    Returns:
        Whether a new index is now served. An unreadable index (a build
        still writing, or a broken one) leaves the old one in place.
    """
    manifest = read_manifest(layout.index_dir)
    current = holder.current
    if manifest is None or manifest.index_id == current.index.manifest.index_id:
        return False
    retried = manifest.index_id == holder.failed_index_id
    if retried and time.monotonic() - holder.failed_at < RETRY_FAILED_SECONDS:
        return False
    started = time.perf_counter()
    try:
        index = KbIndex.load(layout.index_dir, KbTokenizer.load(layout.dict_dir))
        searcher = current.with_index(index)
    except KnowledgeBaseError as exc:
        holder.failed_index_id, holder.failed_at = manifest.index_id, time.monotonic()
        metrics.count_reload(loaded=False)
        if not retried:
            logger.warning("kb.index.reload_failed", extra={"error": exc.code})
        return False
    holder.current = searcher
    metrics.count_reload(loaded=True)
    metrics.serve_index(manifest.doc_count)
    logger.info(
        "kb.index.reloaded",
        extra={
            "index_id": manifest.index_id,
            "docs": manifest.doc_count,
            "seconds": round(time.perf_counter() - started, 2),
        },
    )
    return True


def _watch(layout: Layout, seconds: float):
    async def watcher(app: web.Application):
        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                await asyncio.to_thread(reload_if_changed, app[SEARCHER], layout)

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return watcher


def create_app(
    searcher: Searcher,
    layout: Layout | None = None,
    reload_seconds: float = DEFAULT_RELOAD_SECONDS,
    *,
    token: str,
    metrics_token: str = "",
) -> web.Application:
    """The aiohttp application over a loaded searcher.

    With ``layout``, a new index written there is picked up without a
    restart (checked every ``reload_seconds``). Every path but ``/health``
    and ``/metrics`` needs ``Authorization: Bearer <token>``; ``/metrics``
    needs ``metrics_token`` (empty: refused to everyone).

    SECURITY: no rate limit of its own: its one caller, the action server,
    runs only turns the channels' limits let through. Plain HTTP: keep it on
    127.0.0.1 or a private network (TLS between hosts is TODO(#10)).

    Raises:
        ValueError: ``token`` is empty.
    """
    if not token:
        raise ValueError("ZW_KB_TOKEN must not be empty")
    app = web.Application(
        middlewares=[error_middleware, require_token], client_max_size=MAX_BODY_BYTES
    )
    app[TOKEN] = token
    app[METRICS_TOKEN] = metrics_token
    app[SEARCHER] = SearcherHolder(searcher)
    metrics.serve_index(searcher.index.manifest.doc_count)
    if layout is not None:
        app.cleanup_ctx.append(_watch(layout, reload_seconds))
    # One worker: the model is CPU-bound, and queued requests keep latency flat.
    app[EXECUTOR] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-search")
    app.on_cleanup.append(_close_executor)
    app.router.add_get("/health", health)
    app.router.add_post("/search", search)
    app.router.add_get("/docs/{doc_id}", get_document)
    app.router.add_get(METRICS_PATH, metrics.scrape)
    return app


def serve(
    layout: Layout, host: str, port: int, token: str, metrics_token: str = ""
) -> None:
    """Load the model and index, then serve until interrupted.

    ``token`` is the bearer token callers must present (``ZW_KB_TOKEN``);
    ``metrics_token`` the scraper's, for ``/metrics`` (``ZW_METRICS_TOKEN``).

    Raises:
        KnowledgeBaseError: the model, the index or the dictionary is
            missing; the message names the command that builds it.
    """
    searcher = open_searcher(layout)
    logger.info("kb.service.starting", extra={"host": host, "port": port})
    web.run_app(
        create_app(searcher, layout, token=token, metrics_token=metrics_token),
        host=host,
        port=port,
        access_log=None,
        print=None,
    )
