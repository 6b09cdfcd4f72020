"""Hotline agent assist: suggestions for a 12345 agent while they talk.

Enable it in credentials.yml as ``channels.assist.AssistInput:``. Routes,
under ``/webhooks/assist/``:

- ``GET /`` — the agent console (channels/static/assist.*);
- ``POST /v1/suggest`` — the call's transcript in, suggestions out
  (channels.assist_protocol);
- ``POST /v1/feedback`` — "this suggestion was wrong" / "nothing fit",
  stored as a review record for knowledge-base maintainers.

Each request carries the agent's own token (``ZW_AGENT_TOKENS``). The
backend checks it and audits the call before anything is computed
(``POST /v1/assist/events``, backend.assist), so this channel holds no agent
token and an unaudited call gets nothing. No route here sends anything to a
citizen. docs/hotline-assist.md has the contract.
"""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions import review
from actions.backend_client import (
    UNAUTHORIZED,
    BackendClient,
    BackendClientError,
    BackendRejected,
    ReviewRecordRequest,
)
from actions.errors import KnowledgeBaseUnavailable
from actions.kb_client import KbSearchResult, KnowledgeBaseClient
from bot.privacy import hash_user, redact
from bot.settings import check_secrets, load_settings
from channels import assist_protocol as protocol
from channels import errors
from channels.errors import ChannelError, InvalidRequestError, ProcessingError
from channels.http import json_error, json_response, send_asset
from channels.web_assets import (
    CONSOLE_NAME,
    CONSOLE_TYPES,
    STATIC_DIR,
    load_assets,
)
from knowledge_base.scenarios import Scenario, load_scenarios

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
CHANNEL = "hotline"
# What the channel itself holds: the backend token records feedback, the
# knowledge-base token searches.
ASSIST_SECRETS = ("ZW_USER_HASH_KEY", "ZW_BACKEND_TOKEN", "ZW_KB_TOKEN")


class AssistInput(InputChannel):
    """The 12345 agent console and its JSON API."""

    @classmethod
    def name(cls) -> str:
        return "assist"

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> AssistInput:
        """Build the channel from the settings (its credentials section is empty).

        Raises:
            InsecureSettingsError: production mode with a development secret.
            InvalidScenarioError: a scenario package is broken.
        """
        settings = check_secrets(load_settings(), ASSIST_SECRETS)
        return cls(
            backend=BackendClient.from_settings(settings),
            kb=KnowledgeBaseClient(settings.kb_url, token=settings.kb_token),
            scenarios=load_scenarios(settings.kb_data_dir / "scenarios"),
            user_hash_key=settings.user_hash_key,
        )

    def __init__(
        self,
        backend: Any,
        kb: Any,
        scenarios: Mapping[str, Scenario],
        user_hash_key: str,
        static_dir: Path = STATIC_DIR,
    ) -> None:
        self.backend = backend
        self.kb = kb
        self.scenarios = dict(scenarios)
        self.user_hash_key = user_hash_key
        self.static_dir = static_dir

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The console, its files and the API; ``on_new_message`` is never called.

        Raises:
            AssetMissingError: a file of the console is missing (at start-up).
        """
        assets = load_assets(self.static_dir, CONSOLE_TYPES)
        module = inspect.getmodule(self)
        assist = Blueprint("hotline_assist", module.__name__ if module else None)

        @assist.route("/", methods=["GET"])
        async def console(request: Request) -> HTTPResponse:
            if not request.path.endswith("/"):
                return response.redirect(request.path + "/", status=308)
            return send_asset(request, assets[CONSOLE_NAME])

        @assist.route("/static/<name>", methods=["GET"])
        async def static(request: Request, name: str) -> HTTPResponse:
            asset = assets.get(name)
            if asset is None or name == CONSOLE_NAME:
                error = InvalidRequestError(errors.NOT_FOUND, "页面不存在。", 404)
                return json_error(error, uuid.uuid4().hex)
            return send_asset(request, asset)

        @assist.route("/v1/suggest", methods=["POST"])
        async def suggest(request: Request) -> HTTPResponse:
            return await self.handle_suggest(request)

        @assist.route("/v1/feedback", methods=["POST"])
        async def feedback(request: Request) -> HTTPResponse:
            return await self.handle_feedback(request)

        return assist

    async def handle_suggest(self, request: Request) -> HTTPResponse:
        """Audit, then search and read the transcript."""
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        try:
            token = protocol.agent_token(request.headers.get("authorization"))
            asked = protocol.parse_suggest(protocol.decode_body(request.body))
            grant = await self._audit(
                token, "suggest", asked.call_id, len(asked.turns), asked.unmasked
            )
        except ChannelError as exc:
            return json_error(exc, request_id)
        result = await self._search(protocol.query_text(asked.turns), request_id)
        body = protocol.suggest_body(
            asked, result, self.scenarios, grant.unmasked, request_id
        )
        logger.info(
            "channels.assist.suggested",
            extra={
                "agent": grant.agent,
                "turns": len(asked.turns),
                "outcome": body["outcome"],
                "suggestions": len(body["suggestions"]),
                "scenario": (body["scenario"] or {}).get("id"),
                "fields": len(body["fields"]),
                "unmasked": grant.unmasked,
                "latency_ms": round((time.perf_counter() - started) * 1000),
                "request_id": request_id,
            },
        )
        return json_response(body, request_id=request_id)

    async def handle_feedback(self, request: Request) -> HTTPResponse:
        """Store "wrong" or "missing" for the review loop (actions.review)."""
        request_id = uuid.uuid4().hex
        try:
            token = protocol.agent_token(request.headers.get("authorization"))
            said = protocol.parse_feedback(protocol.decode_body(request.body))
            grant = await self._audit(token, "feedback", said.call_id, 0, False)
            matches = () if said.doc_id is None else ((said.doc_id, said.score),)
            record = ReviewRecordRequest(
                kind=review.AGENT_WRONG,
                question=redact(said.question)[: review.MAX_QUESTION],
                matches=matches,
                channel=CHANNEL,
                user_hash=hash_user(f"agent:{grant.agent}", self.user_hash_key),
            )
            await self.backend.record_review(record)
        except ChannelError as exc:
            return json_error(exc, request_id)
        except BackendClientError as exc:
            logger.warning(
                "channels.assist.feedback_failed",
                extra={"code": exc.code, "request_id": request_id},
            )
            return json_error(_unavailable(), request_id)
        logger.info(
            "channels.assist.feedback",
            extra={
                "agent": grant.agent,
                "verdict": said.verdict,
                "request_id": request_id,
            },
        )
        return json_response(
            {"status": "recorded", "request_id": request_id}, status=201
        )

    async def _audit(
        self, token: str, event: str, call_id: str | None, turns: int, unmasked: bool
    ) -> Any:
        """The backend's grant for this agent, after it wrote the audit row.

        Raises:
            InvalidRequestError: 401 for a token the backend does not know,
                403 for one it does not take here.
            ProcessingError: 503 when the audit cannot be written; nothing
                is computed without it.
        """
        try:
            return await self.backend.assist_event(
                token, event, call_id, turns, unmasked
            )
        except BackendRejected as exc:
            if exc.status == 403:
                raise InvalidRequestError(
                    "forbidden", "该令牌无权使用坐席辅助。", 403
                ) from exc
            raise _unavailable() from exc
        except BackendClientError as exc:
            if exc.code == UNAUTHORIZED:
                raise InvalidRequestError(
                    "unauthorized", "坐席令牌无效，请重新登录。", 401
                ) from exc
            logger.warning("channels.assist.audit_failed", extra={"code": exc.code})
            raise _unavailable() from exc

    async def _search(self, query: str, request_id: str) -> KbSearchResult | None:
        """The knowledge base's candidates, or None when it does not answer."""
        try:
            return await self.kb.search(query, top_k=protocol.TOP_K)
        except KnowledgeBaseUnavailable:
            logger.warning(
                "channels.assist.kb_unavailable", extra={"request_id": request_id}
            )
            return None


def _unavailable() -> ProcessingError:
    error = ProcessingError()
    error.status = 503
    return error
