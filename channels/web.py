"""The web chat channel: serves the chat page, its webhook and the 👍/👎 route.

Enable it in credentials.yml as ``channels.web.WebChatInput:``. Routes, under
``/webhooks/web/``, are described in docs/channels.md.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions import review
from actions.backend_client import BackendClient, BackendClientError
from bot.privacy import hash_user
from bot.settings import CHANNEL_SECRETS, PROJECT_ROOT, check_secrets, load_settings
from channels import errors, feedback, limits, metrics, web_protocol
from channels.errors import (
    InvalidRequestError,
    LimitExceededError,
    ProcessingError,
)
from channels.handoff import HandoffRelay
from channels.http import json_error, json_response, send_asset
from channels.web_assets import PAGE_NAME, STATIC_DIR, load_assets

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
# The agent poll's answer when no handoff is known.
NO_HANDOFF = {"handoff_no": None, "status": None, "after": 0, "replies": []}


class WebChatInput(RestInput):
    """The citizen-facing chat page and the webhook it talks to."""

    @classmethod
    def name(cls) -> str:
        return "web"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WebChatInput:
        """Build the channel from its credentials.yml section and the settings.

        Raises:
            ValueError: the section holds an invalid option.
            InsecureSettingsError: production mode with a development secret.
        """
        options = web_protocol.parse_options(credentials)
        # The backend token records thumbs-downs (POST /v1/review-records).
        # It also reaches the agent queue while a person owns a conversation.
        names = (*CHANNEL_SECRETS, "ZW_BACKEND_TOKEN")
        settings = check_secrets(load_settings(), names)
        backend = BackendClient.from_settings(settings)
        return cls(
            user_hash_key=settings.user_hash_key,
            max_message_chars=options.max_message_chars,
            limiter=limits.Limiter(options.limits),
            backend=backend,
            relay=HandoffRelay.from_domain(backend, PROJECT_ROOT / "domain.yml"),
        )

    def __init__(
        self,
        user_hash_key: str,
        max_message_chars: int = web_protocol.MAX_MESSAGE_CHARS,
        static_dir: Path = STATIC_DIR,
        limiter: limits.Limiter | None = None,
        limit_texts: Mapping[str, str] | None = None,
        backend: Any = None,
        feedback_book: feedback.FeedbackBook | None = None,
        relay: HandoffRelay | None = None,
    ) -> None:
        self.user_hash_key = user_hash_key
        # Where thumbs-downs go (a BackendClient); None logs them only.
        self.backend = backend
        # The agent queue (channels.handoff); None: every message goes to Rasa.
        self.relay = relay
        self.feedback_book = feedback_book or feedback.FeedbackBook()
        self.max_message_chars = max_message_chars
        self.static_dir = static_dir
        self.limiter = limiter or limits.Limiter(limits.LimitOptions())
        self.limit_texts = limit_texts or limits.load_texts(PROJECT_ROOT / "domain.yml")

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The page, its files, a health check and the webhook.

        Raises:
            AssetMissingError: a file of the page is missing (at start-up).
        """
        assets = load_assets(self.static_dir)
        module = inspect.getmodule(self)
        web = Blueprint("web_chat", module.__name__ if module else None)

        @web.route("/", methods=["GET"])
        async def page(request: Request) -> HTTPResponse:
            # Relative links in the page need the trailing slash.
            if not request.path.endswith("/"):
                return response.redirect(request.path + "/", status=308)
            return send_asset(request, assets[PAGE_NAME])

        @web.route("/static/<name>", methods=["GET"])
        async def static(request: Request, name: str) -> HTTPResponse:
            asset = assets.get(name)
            if asset is None or name == PAGE_NAME:
                error = InvalidRequestError(errors.NOT_FOUND, "页面不存在。", 404)
                return json_error(error, uuid.uuid4().hex)
            return send_asset(request, asset)

        @web.route("/health", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            agent = getattr(request.app.ctx, "agent", None)
            if agent is None or not agent.is_ready():
                return json_response({"status": "loading"}, status=503)
            return json_response({"status": "ok"})

        @web.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self.handle_turn(request, on_new_message)

        @web.route("/feedback", methods=["POST"])
        async def rate(request: Request) -> HTTPResponse:
            return self.handle_vote(request)

        @web.route("/agent", methods=["GET"])
        async def agent(request: Request) -> HTTPResponse:
            return await self.handle_agent_poll(request)

        return web

    async def handle_turn(
        self, request: Request, on_new_message: OnNewMessage
    ) -> HTTPResponse:
        """Check the body, run one turn and return the bot's replies."""
        request_id = uuid.uuid4().hex
        try:
            inbound = web_protocol.parse_body(
                request.body, request.content_type, self.max_message_chars
            )
        except InvalidRequestError as exc:
            logger.info(
                "channels.web.request.rejected",
                extra={"code": exc.code, "request_id": request_id},
            )
            metrics.count_turn(self.name(), "rejected")
            return json_error(exc, request_id)

        user = hash_user(inbound.sender_id, self.user_hash_key)
        refusal = self._refusal(request, user, request_id)
        if refusal is not None:
            metrics.count_turn(self.name(), "limited")
            return json_error(refusal, request_id)

        if self.relay is not None:
            relayed = await self.relay.relay(user, inbound.text)
            if not relayed.to_rasa:
                metrics.count_turn(self.name(), "relayed")
                replies = [
                    web_protocol.BotReply(inbound.sender_id, text)
                    for text in relayed.texts
                ]
                return json_response(
                    [reply.to_dict() for reply in replies], request_id=request_id
                )

        self.feedback_book.note_message(user, inbound.text)
        started = time.perf_counter()
        collector = CollectingOutputChannel()
        message = UserMessage(
            inbound.text, collector, inbound.sender_id, input_channel=self.name()
        )
        try:
            await on_new_message(message)
        except asyncio.CancelledError:
            # The server gave up on this request; let the cancellation through.
            logger.warning(
                "channels.web.message.cancelled",
                extra={"user": user, "request_id": request_id},
            )
            raise
        except Exception as exc:
            metrics.count_turn(self.name(), "failed", time.perf_counter() - started)
            error = ProcessingError()
            # The exception text may quote the message, so only its type.
            logger.error(
                "channels.web.message.failed",
                extra={
                    "code": error.code,
                    "request_id": request_id,
                    "user": user,
                    "exc_type": type(exc).__name__,
                },
            )
            return json_error(error, request_id)

        seconds = time.perf_counter() - started
        metrics.count_turn(self.name(), "handled", seconds)
        replies = web_protocol.shape_replies(
            collector.messages,
            lambda payload: self.feedback_book.issue(user, payload),
        )
        logger.info(
            "channels.web.message.handled",
            extra={
                "user": user,
                "chars": len(inbound.text),
                "replies": len(replies),
                "latency_ms": round(seconds * 1000),
                "request_id": request_id,
            },
        )
        return json_response(
            [reply.to_dict() for reply in replies], request_id=request_id
        )

    def handle_vote(self, request: Request) -> HTTPResponse:
        """A 👍/👎 on an answer; a 👎 becomes a ``thumbs_down`` review record.

        The record is sent in the background (actions.review): the page gets
        its answer at once, and a backend that is down costs a warning only.
        """
        request_id = uuid.uuid4().hex
        try:
            vote = feedback.parse_vote(request.body, request.content_type)
        except InvalidRequestError as exc:
            return json_error(exc, request_id)

        user = hash_user(vote.sender_id, self.user_hash_key)
        refusal = self._refusal(request, user, request_id)
        if refusal is not None:
            return json_error(refusal, request_id)
        rated = self.feedback_book.take(vote.feedback_id, user)
        if rated is None:
            error = InvalidRequestError(
                errors.FEEDBACK_UNKNOWN, "这条回答已无法评价。", 404
            )
            return json_error(error, request_id)

        if vote.vote == "down":
            self._record_thumbs_down(rated)
        logger.info(
            "channels.web.feedback.received",
            extra={"vote": vote.vote, "user": user, "request_id": request_id},
        )
        return json_response({"status": "ok"}, request_id=request_id)

    async def handle_agent_poll(self, request: Request) -> HTTPResponse:
        """What the agent said since the page last asked (``GET /agent``).

        Query: ``sender``, ``handoff`` (the RG number the page follows, may be
        empty) and ``after`` (the last message number it showed).
        """
        request_id = uuid.uuid4().hex
        try:
            poll = web_protocol.parse_agent_poll(request.args)
        except InvalidRequestError as exc:
            return json_error(exc, request_id)
        if self.relay is None:
            return json_response(NO_HANDOFF)
        user = hash_user(poll.sender_id, self.user_hash_key)
        try:
            update = await self.relay.agent_update(user, poll.handoff_no, poll.after)
        except BackendClientError as exc:
            logger.warning(
                "channels.web.agent_poll.failed",
                extra={"code": exc.code, "user": user, "request_id": request_id},
            )
            error = ProcessingError()
            return json_error(error, request_id)
        return json_response(
            {
                "handoff_no": update.handoff_no,
                "status": update.status,
                "after": update.last_seq,
                "replies": [{"text": text} for text in update.texts],
            },
            request_id=request_id,
        )

    def _record_thumbs_down(self, rated: feedback.Rated) -> None:
        if self.backend is None:
            logger.warning("channels.web.feedback.not_recorded")
            return
        request = review.review_request(
            review.THUMBS_DOWN,
            rated.question,
            [(rated.doc_id, rated.score)],
            self.name(),
            rated.user,
        )
        review.record_in_background(self.backend, request)

    def _refusal(
        self, request: Request, user: str, request_id: str
    ) -> LimitExceededError | None:
        """The error to answer with when a limit refuses the message, else None."""
        # Behind a proxy, Sanic's remote_addr is the client only when the
        # proxy is configured (SANIC_PROXIES_COUNT or SANIC_REAL_IP_HEADER);
        # else every citizen shares the proxy's address (docs/channels.md).
        address = request.remote_addr or request.ip
        decision = self.limiter.check(user, "addr:" + address if address else None)
        if decision.allowed:
            return None

        code = limits.ERROR_CODES[decision.reason]
        # One warning per flood, the rest of it at debug, so that a flood
        # cannot flood the logs as well.
        logger.log(
            logging.DEBUG if decision.repeated else logging.WARNING,
            "channels.web.message.limited",
            extra={
                "code": code,
                "limit": decision.reason,
                "user": user,
                "request_id": request_id,
            },
        )
        text = self.limit_texts[decision.reason]
        return LimitExceededError(code, text, decision.retry_after)
