"""A small aiohttp client for the knowledge-base service (docs/interfaces.md).

One session per client, created on first use inside the running event loop;
2 s to connect, 5 s in total. Every failure reaches the caller as
:class:`~actions.errors.KnowledgeBaseUnavailable`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from actions.errors import KnowledgeBaseUnavailable

logger = logging.getLogger(__name__)

OUTCOMES = frozenset({"answer", "clarify", "no_answer"})
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=5, connect=2)


@dataclass(frozen=True)
class KbHit:
    """One guide or FAQ entry; ``score`` in [0, 1], higher is better.

    ``field_answer`` is the one fact the query asked for (materials, time,
    place, fee, online service, conditions) when the entry has it.
    """

    doc_id: str
    kind: str
    title: str
    answer: str
    department: str | None
    source_url: str | None
    score: float
    field: str | None = None
    field_answer: str | None = None


@dataclass(frozen=True)
class KbSearchResult:
    """What the service decided: ``answer``, ``clarify`` or ``no_answer``."""

    outcome: str
    hits: tuple[KbHit, ...]


class KnowledgeBaseClient:
    """``POST /search`` and ``GET /docs/{id}`` against one service URL."""

    def __init__(
        self,
        base_url: str,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        token: str = "",
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        # The service's bearer token (ZW_KB_TOKEN); never logged.
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._session: aiohttp.ClientSession | None = None

    async def search(self, query: str, top_k: int = 3) -> KbSearchResult:
        """Search the knowledge base.

        Raises:
            KnowledgeBaseUnavailable: unreachable, timed out, or a malformed reply.
        """
        started = time.monotonic()
        body = await self._request("POST", "/search", {"query": query, "top_k": top_k})
        result = parse_search_result(body)
        logger.debug(
            "kb.client.search.done",
            extra={
                "outcome": result.outcome,
                "hits": len(result.hits),
                "latency_ms": round((time.monotonic() - started) * 1000),
            },
        )
        return result

    async def document(self, doc_id: str) -> KbHit | None:
        """The entry with ``doc_id``, or ``None`` when the service has none.

        Raises:
            KnowledgeBaseUnavailable: unreachable, timed out, or a malformed reply.
        """
        body = await self._request("GET", f"/docs/{doc_id}", None, missing_ok=True)
        return None if body is None else parse_hit(body)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def _request(
        self, method: str, path: str, payload: Any, missing_ok: bool = False
    ) -> Any:
        session = self._get_session()
        try:
            async with session.request(
                method, self._base_url + path, json=payload
            ) as response:
                if response.status == 404 and missing_ok:
                    return None
                if response.status != 200:
                    raise KnowledgeBaseUnavailable(f"http_{response.status}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise KnowledgeBaseUnavailable(type(exc).__name__) from exc

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers=self._headers
            )
        return self._session


def parse_search_result(body: Any) -> KbSearchResult:
    """Check a ``/search`` reply.

    Raises:
        KnowledgeBaseUnavailable: the reply does not follow docs/interfaces.md.
    """
    if not isinstance(body, dict) or body.get("outcome") not in OUTCOMES:
        raise KnowledgeBaseUnavailable("malformed_search_reply")
    hits = body.get("hits") or []
    if not isinstance(hits, list):
        raise KnowledgeBaseUnavailable("malformed_search_reply")
    return KbSearchResult(
        outcome=body["outcome"], hits=tuple(parse_hit(hit) for hit in hits)
    )


def parse_hit(raw: Any) -> KbHit:
    """Check one hit object.

    Raises:
        KnowledgeBaseUnavailable: a required field is missing or of the wrong type.
    """
    try:
        return KbHit(
            doc_id=_required(raw, "doc_id"),
            kind=str(raw.get("kind") or "faq"),
            title=_required(raw, "title"),
            answer=_required(raw, "answer"),
            department=raw.get("department") or None,
            source_url=raw.get("source_url") or None,
            score=float(raw.get("score") or 0.0),
            field=_optional_text(raw, "field"),
            field_answer=_optional_text(raw, "field_answer"),
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise KnowledgeBaseUnavailable("malformed_hit") from exc


def _optional_text(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) and value else None


def _required(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"hit.{key} missing")
    return value
