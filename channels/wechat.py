"""The WeChat official-account (公众号) channel.

Enable it in credentials.yml as ``channels.wechat.WeChatInput:``. Routes,
under ``/webhooks/wechat/``, and the delivery policy are described in
docs/channels.md; the protocol work is in ``channels.wechat_protocol``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from rasa.core.channels.channel import (
    CollectingOutputChannel,
    InputChannel,
    UserMessage,
)
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.backend_client import BackendClient, BackendClientError
from bot.privacy import hash_user
from bot.settings import (
    CHANNEL_SECRETS,
    PROJECT_ROOT,
    WECHAT_SECRETS,
    check_secrets,
    load_settings,
)
from channels import errors, limits, metrics
from channels import wechat_protocol as protocol
from channels.handoff import HandoffRelay
from channels.wechat_api import WeChatApiClient
from channels.wechat_delivery import DeliveryDesk, Timing
from channels.wechat_protocol import ShapedReply, WeChatOptions, WeChatProtocolError

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

# WeChat lets a text message run to a few thousand characters; a question
# needs far fewer, and every character costs NLU and search time.
MAX_MESSAGE_CHARS = 1000
# How often agent replies are fetched for conversations a person owns, when
# the account can push them (the customer-service API).
AGENT_POLL_SECONDS = 3.0
HANDOFF_STARTED = "handoff_started"  # actions.handoff's custom payload


class WeChatInput(InputChannel):
    """Messages from a WeChat official account, answered within its deadline."""

    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WeChatInput:
        """Build the channel from its credentials.yml section and the settings.

        Raises:
            ValueError: an option is missing or malformed (named in the message).
            InsecureSettingsError: production mode with a development secret
                (the dev-only account included).
        """
        credentials = credentials or {}
        # The backend token reaches the agent queue while a person owns a
        # conversation (channels.handoff).
        names = (*CHANNEL_SECRETS, *WECHAT_SECRETS, "ZW_BACKEND_TOKEN")
        settings = check_secrets(load_settings(), names)
        max_chars = credentials.get("max_message_chars")
        relay = HandoffRelay.from_domain(
            BackendClient.from_settings(settings), PROJECT_ROOT / "domain.yml"
        )
        return cls(
            relay=relay,
            options=protocol.parse_options(credentials),
            user_hash_key=settings.user_hash_key,
            limiter=limits.Limiter(
                limits.parse_limits(credentials.get("limits"), "wechat")
            ),
            max_message_chars=limits.parse_max_chars(
                max_chars, "wechat", MAX_MESSAGE_CHARS
            ),
        )

    def __init__(
        self,
        options: WeChatOptions,
        user_hash_key: str,
        timing: Timing | None = None,
        clock: Callable[[], float] = time.time,
        limiter: limits.Limiter | None = None,
        limit_texts: Mapping[str, str] | None = None,
        max_message_chars: int = MAX_MESSAGE_CHARS,
        relay: HandoffRelay | None = None,
        agent_poll_seconds: float = AGENT_POLL_SECONDS,
    ) -> None:
        self.options = options
        # The agent queue (channels.handoff); None: every message goes to Rasa.
        self.relay = relay
        self.agent_poll_seconds = agent_poll_seconds
        # Conversations a person owns, by keyed hash, with the OpenID to push
        # to. In memory: after a restart the replies come with the next message.
        self.watched: dict[str, str] = {}
        self._poller: asyncio.Task | None = None
        self.user_hash_key = user_hash_key
        self.timing = timing or Timing()
        self.clock = clock
        self.limiter = limiter or limits.Limiter(limits.LimitOptions())
        self.limit_texts = limit_texts or limits.load_texts(PROJECT_ROOT / "domain.yml")
        self.max_message_chars = max_message_chars
        self.desk: DeliveryDesk | None = None
        self.api: WeChatApiClient | None = None

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """URL verification (GET) and messages (POST) on the same path."""
        crypto = protocol.make_crypto(self.options)
        if self.options.customer_service_api:
            self.api = WeChatApiClient(self.options)
        self.desk = DeliveryDesk(
            run_turn=lambda user, text: self._run_turn(on_new_message, user, text),
            send_text=self.api.send_text if self.api else None,
            timing=self.timing,
            user_hash_key=self.user_hash_key,
        )
        module = inspect.getmodule(self)
        wechat = Blueprint("wechat", module.__name__ if module else None)

        @wechat.route("/", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            try:
                echo = protocol.verify_echo(self.options, _query(request), self.clock())
            except WeChatProtocolError as exc:
                return _rejected(exc, "verify")
            logger.info("channels.wechat.url.verified")
            return response.text(echo)

        @wechat.route("/", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self.handle_delivery(request, crypto)

        @wechat.listener("after_server_stop")
        async def close(*_: Any) -> None:
            await self.close()

        return wechat

    async def close(self) -> None:
        """Finish customer-service sends under way and close the API client."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self.desk is not None:
            await self.desk.drain()
        if self.api is not None:
            await self.api.close()

    async def handle_delivery(self, request: Request, crypto: Any) -> HTTPResponse:
        """Check, decode and answer one delivery of a message."""
        arrived = time.monotonic()
        query = _query(request)
        try:
            protocol.check_query(query, self.options.token, self.clock())
            fields, encrypted = protocol.open_body(
                self.options, query, request.body or b"", crypto
            )
            message = protocol.inbound_message(fields)
        except WeChatProtocolError as exc:
            metrics.count_turn(self.name(), "rejected")
            return _rejected(exc, "message")

        assert self.desk is not None
        text = self._refusal(message)
        if text is not None:
            metrics.count_turn(self.name(), "limited")
        else:
            text = await self.desk.deliver(message, arrived)
        logger.info(
            "channels.wechat.delivery.answered",
            extra={
                "user": hash_user(message.user, self.user_hash_key),
                "kind": message.kind,
                "passive": text is not None,
                "latency_ms": round((time.monotonic() - arrived) * 1000),
            },
        )
        if text is None:
            return response.text("success")
        reply = protocol.text_reply_xml(message, text, int(self.clock()))
        if encrypted:
            nonce = secrets.token_hex(8)
            reply = protocol.encrypt_reply(crypto, reply, nonce, str(int(self.clock())))
        return response.text(reply, content_type="application/xml; charset=utf-8")

    def _refusal(self, message: protocol.InboundMessage) -> str | None:
        """The passive reply when a limit keeps the message from Rasa, else None.

        Only a new message that would run a turn is counted: WeChat's
        re-deliveries of one message, and events that run none, pass free.
        """
        assert self.desk is not None
        text = protocol.user_text(message)
        if text is None or message.dedup_key in self.desk.turns:
            return None

        user = hash_user(message.user, self.user_hash_key)
        if len(text) > self.max_message_chars:
            logger.info(
                "channels.wechat.message.limited",
                extra={"code": errors.MESSAGE_TOO_LONG, "user": user},
            )
            reply = self.limit_texts["message_too_long"]
            return reply.replace("{max_chars}", str(self.max_message_chars))

        decision = self.limiter.check(user)
        if decision.allowed:
            return None
        # One warning per flood, the rest at debug (as in channels.web).
        logger.log(
            logging.DEBUG if decision.repeated else logging.WARNING,
            "channels.wechat.message.limited",
            extra={
                "code": limits.ERROR_CODES[decision.reason],
                "limit": decision.reason,
                "user": user,
            },
        )
        return self.limit_texts[decision.reason]

    async def _run_turn(
        self, on_new_message: OnNewMessage, user: str, text: str
    ) -> ShapedReply:
        """Run one turn in Rasa; WeChat's re-deliveries of it share this run.

        While a person owns the conversation the message goes to them
        instead, and agent replies not yet given come with the answer.
        """
        before: tuple[str, ...] = ()
        if self.relay is not None:
            conversation = hash_user(user, self.user_hash_key)
            relayed = await self.relay.relay(conversation, text, deliver_pending=True)
            if not relayed.to_rasa:
                metrics.count_turn(self.name(), "relayed")
                self._watch(conversation, user)
                return protocol.shape_turn({"text": part} for part in relayed.texts)
            before = relayed.texts
        collector = CollectingOutputChannel()
        started = time.perf_counter()
        try:
            await on_new_message(
                UserMessage(text, collector, user, input_channel=self.name())
            )
        except Exception:
            # DeliveryDesk logs the failure and answers with a fixed text.
            metrics.count_turn(self.name(), "failed", time.perf_counter() - started)
            raise
        metrics.count_turn(self.name(), "handled", time.perf_counter() - started)
        if any(_starts_handoff(message) for message in collector.messages):
            self._watch(hash_user(user, self.user_hash_key), user)
        earlier = [{"text": part} for part in before]
        return protocol.shape_turn([*earlier, *collector.messages])

    def _watch(self, conversation: str, user: str) -> None:
        """Push this conversation's agent replies (customer-service API only)."""
        if self.api is None or self.relay is None or self.desk is None:
            return
        self.watched[conversation] = user
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll_agents())

    async def _poll_agents(self) -> None:
        """Pass agent replies on as they come, until no conversation is watched."""
        assert self.relay is not None and self.desk is not None
        while self.watched:
            await asyncio.sleep(self.agent_poll_seconds)
            for conversation, user in list(self.watched.items()):
                try:
                    texts = await self.relay.undelivered(conversation)
                    latest = await self.relay.backend.latest_handoff(conversation)
                except BackendClientError as exc:
                    logger.warning(
                        "channels.wechat.agent_poll.failed", extra={"code": exc.code}
                    )
                    continue
                if texts:
                    self.desk.hand_over(user, protocol.split_text("\n\n".join(texts)))
                if latest is None or latest.status == "closed":
                    self.watched.pop(conversation, None)


def _starts_handoff(message: Mapping[str, Any]) -> bool:
    custom = message.get("custom")
    return isinstance(custom, Mapping) and HANDOFF_STARTED in custom


def _query(request: Request) -> dict[str, str]:
    return {key: values[0] for key, values in request.args.items() if values}


def _rejected(exc: WeChatProtocolError, stage: str) -> HTTPResponse:
    # No detail for the caller: a prober learns nothing from the body.
    logger.warning(
        "channels.wechat.request.rejected", extra={"code": exc.code, "stage": stage}
    )
    status = 413 if exc.code == "body_too_large" else 403
    if exc.code in ("invalid_xml", "xml_forbidden", "invalid_message"):
        status = 400
    return response.text("rejected", status=status)
