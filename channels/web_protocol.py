"""The web chat protocol: request checks, reply shaping and safe JSON.

Pure functions only, so tests call them without a server. The HTTP side lives
in ``channels.web``; the contract is written down in docs/channels.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot.privacy import INVISIBLE
from channels import errors
from channels.errors import ChannelError, InvalidRequestError
from channels.limits import LimitOptions, parse_limits

MAX_MESSAGE_CHARS = 1000
# Far above any valid body (1000 characters are at most 6 KB as JSON escapes),
# checked before parsing so a huge body is never decoded.
MAX_BODY_BYTES = 16 * 1024
# The page makes ``web-`` plus 32 hex digits; other clients may use any
# short id of these characters (it becomes the tracker's conversation id).
SENDER_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")

# JSON escapes for characters that would matter if a browser ever sniffed the
# body as HTML; JSON.parse turns them back into the same characters.
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


@dataclass(frozen=True)
class ChannelOptions:
    """Settings of the web channel read from credentials.yml."""

    max_message_chars: int = MAX_MESSAGE_CHARS
    limits: LimitOptions = field(default_factory=LimitOptions)


@dataclass(frozen=True)
class InboundMessage:
    """A checked message from the page: who sent it and what they typed."""

    sender_id: str
    text: str


@dataclass(frozen=True)
class Button:
    """A reply option: ``title`` is shown, ``payload`` is sent back when clicked."""

    title: str
    payload: str


@dataclass(frozen=True)
class BotReply:
    """One bot message as the page renders it; images and custom JSON are dropped.

    ``feedback_id`` is set on a knowledge-base answer the page may rate
    (channels.feedback).
    """

    recipient_id: str
    text: str = ""
    buttons: tuple[Button, ...] = field(default_factory=tuple)
    feedback_id: str = ""
    # Set on the reply that put the conversation in the agent queue: the
    # page then polls the agent's replies (channels.web, GET /agent).
    handoff_no: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The REST channel's shape, with only the keys the page uses."""
        body: dict[str, Any] = {"recipient_id": self.recipient_id, "text": self.text}
        if self.buttons:
            body["buttons"] = [
                {"title": button.title, "payload": button.payload}
                for button in self.buttons
            ]
        if self.feedback_id:
            body["feedback_id"] = self.feedback_id
        if self.handoff_no:
            body["handoff_no"] = self.handoff_no
        return body


def parse_options(credentials: Mapping[str, Any] | None) -> ChannelOptions:
    """Read the channel's section of credentials.yml.

    Raises:
        ValueError: ``max_message_chars`` is not a positive whole number, or
            ``limits`` is malformed (a deployment mistake, reported at start-up).
    """
    credentials = credentials or {}
    raw = credentials.get("max_message_chars", MAX_MESSAGE_CHARS)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise ValueError(
            f"web channel: max_message_chars must be a positive integer, got {raw!r}"
        )
    limits = parse_limits(credentials.get("limits"), "web")
    return ChannelOptions(max_message_chars=raw, limits=limits)


def parse_body(
    raw: bytes | None, content_type: str | None, max_chars: int = MAX_MESSAGE_CHARS
) -> InboundMessage:
    """Check a webhook body ``{"sender": str, "message": str}``.

    Args:
        raw: the request body as received.
        content_type: the request's Content-Type header; must be JSON, which
            also keeps plain cross-site form posts out.
        max_chars: the longest message accepted, in characters.

    Returns:
        The sender id and the message with surrounding whitespace removed.

    Raises:
        InvalidRequestError: the body is not a valid message; ``code`` says why.
    """
    check_envelope(raw, content_type)
    body = decode_json(raw or b"")

    sender = body.get("sender")
    if not isinstance(sender, str) or not SENDER_PATTERN.fullmatch(sender):
        raise InvalidRequestError(
            errors.INVALID_SENDER, "会话标识无效，请刷新页面后重试。"
        )

    return InboundMessage(sender_id=sender, text=_check_text(body, max_chars))


@dataclass(frozen=True)
class AgentPoll:
    """A checked ``GET /agent`` query."""

    sender_id: str
    handoff_no: str | None
    after: int


_HANDOFF_NO = re.compile(r"RG[0-9]{14}")
HANDOFF_STARTED = "handoff_started"  # actions.handoff's custom payload
MAX_SEQ = 10**9


def parse_agent_poll(args: Mapping[str, Any]) -> AgentPoll:
    """Check ``sender``, ``handoff`` and ``after`` of an agent poll.

    Raises:
        InvalidRequestError: a value is missing or malformed.
    """

    def one(name: str) -> str:
        values = args.get(name) or [""]
        value = values[0] if isinstance(values, list) else values
        return value if isinstance(value, str) else ""

    sender = one("sender")
    if not SENDER_PATTERN.fullmatch(sender):
        raise InvalidRequestError(
            errors.INVALID_SENDER, "会话标识无效，请刷新页面后重试。"
        )
    handoff = one("handoff")
    after = one("after") or "0"
    if (handoff and not _HANDOFF_NO.fullmatch(handoff)) or not (
        after.isascii() and after.isdigit() and int(after) <= MAX_SEQ
    ):
        raise InvalidRequestError(errors.INVALID_BODY, "请求格式不正确。")
    return AgentPoll(sender, handoff or None, int(after))


def check_envelope(raw: bytes | None, content_type: str | None) -> None:
    """Refuse a body that is not JSON by its type, or too large to decode."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise InvalidRequestError(
            errors.UNSUPPORTED_MEDIA_TYPE, "请求格式应为 JSON。", status=415
        )
    if raw is not None and len(raw) > MAX_BODY_BYTES:
        raise InvalidRequestError(errors.BODY_TOO_LARGE, "请求内容过大。", status=413)


def decode_json(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or InvalidRequestError with the reason."""
    try:
        body = json.loads(raw.decode("utf-8"))
    # RecursionError: brackets nested thousands deep still fit the size cap.
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidRequestError(errors.INVALID_JSON, "请求不是有效的 JSON。") from exc
    if not isinstance(body, dict):
        raise InvalidRequestError(
            errors.INVALID_BODY, "请求应为包含 sender 和 message 的对象。"
        )
    return body


def _check_text(body: Mapping[str, Any], max_chars: int) -> str:
    if "message" not in body or body["message"] is None:
        raise InvalidRequestError(errors.MISSING_MESSAGE, "请输入您要咨询的问题。")
    text = body["message"]
    if not isinstance(text, str) or not _encodable(text) or _CONTROL.search(text):
        raise InvalidRequestError(errors.INVALID_MESSAGE, "消息应为文字。")
    text = INVISIBLE.sub("", text).strip()
    if not text:
        raise InvalidRequestError(errors.EMPTY_MESSAGE, "请输入您要咨询的问题。")
    if len(text) > max_chars:
        raise InvalidRequestError(
            errors.MESSAGE_TOO_LONG, f"消息过长，请控制在{max_chars}字以内。"
        )
    return text


# Control characters (NUL, escape, …) are no part of a typed message.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _encodable(text: str) -> bool:
    # JSON may escape a lone surrogate (\ud800); no store or log can write it.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# The custom payload of a knowledge-base answer (actions/answer.py).
FEEDBACK_KEY = "kb_feedback"

IssueFeedback = Callable[[Mapping[str, Any]], "str | None"]


def shape_replies(
    messages: Iterable[Mapping[str, Any]], issue_feedback: IssueFeedback | None = None
) -> list[BotReply]:
    """Turn Rasa's collected messages into what the page renders.

    Text and buttons are kept as plain strings; a message with neither (an
    image, an attachment, custom JSON) is dropped, since the page shows
    neither. Malformed buttons are skipped rather than failing the turn.
    With ``issue_feedback``, an answer's ``kb_feedback`` payload (which Rasa
    sends as a message of its own, right after the text) gives the reply
    before it the feedback id that ``issue_feedback`` returns. Likewise the
    ``handoff_started`` payload (actions.handoff) gives the reply before it
    the handoff's number.
    """
    replies: list[BotReply] = []
    for message in messages:
        custom = message.get("custom")
        if replies and isinstance(custom, Mapping):
            payload = custom.get(FEEDBACK_KEY)
            if issue_feedback and isinstance(payload, Mapping):
                feedback_id = issue_feedback(payload) or ""
                replies[-1] = replace(replies[-1], feedback_id=feedback_id)
            handoff_no = custom.get(HANDOFF_STARTED)
            if isinstance(handoff_no, str) and _HANDOFF_NO.fullmatch(handoff_no):
                replies[-1] = replace(replies[-1], handoff_no=handoff_no)
        text = message.get("text")
        text = text if isinstance(text, str) else ""
        buttons = tuple(_shape_buttons(message.get("buttons")))
        if text or buttons:
            recipient = str(message.get("recipient_id", ""))
            replies.append(BotReply(recipient, text, buttons))
    return replies


def _shape_buttons(raw: Any) -> Iterable[Button]:
    if not isinstance(raw, list):
        return
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        title, payload = item.get("title"), item.get("payload")
        if isinstance(title, str) and title and isinstance(payload, str) and payload:
            yield Button(title=title, payload=payload)


def error_body(error: ChannelError, request_id: str) -> dict[str, Any]:
    """The error body every failure returns: a code, a message and a request id."""
    return {
        "error": {"code": error.code, "message": error.message},
        "request_id": request_id,
    }


def encode_json(payload: Any) -> str:
    """JSON text for a response, with ``<``, ``>`` and ``&`` escaped.

    The result never contains markup, whatever the bot's text holds, and
    ``JSON.parse`` in the page returns exactly the original strings.
    """
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    for char, escape in _JSON_ESCAPES.items():
        text = text.replace(char, escape)
    return text
