"""The WeChat official-account protocol: signatures, safe XML, crypto, replies.

Pure functions only, so tests call them without a server. The HTTP side and
the delivery policy live in ``channels.wechat``; the contract is written down
in docs/channels.md. Spec: https://developers.weixin.qq.com/doc/offiaccount/
Basic_Information/Access_Overview.html and …/Message_Management/.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import defusedxml
import defusedxml.ElementTree as SafeElementTree
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException

from channels import web_protocol

PLAINTEXT, COMPATIBLE, SAFE = "plaintext", "compatible", "safe"
MODES = (PLAINTEXT, COMPATIBLE, SAFE)

# WeChat's messages are well under 2 KB; the cap keeps a huge body from ever
# reaching the XML parser.
MAX_BODY_BYTES = 32 * 1024
# A delivery signed more than this far from our clock is a replay (or a badly
# wrong clock); WeChat signs each delivery when it sends it.
MAX_CLOCK_SKEW_SECONDS = 300
# WeChat cuts a text reply (passive or customer-service) at 2048 bytes.
MAX_REPLY_BYTES = 2048
AES_KEY_LENGTH = 43
_AES_KEY_PATTERN = re.compile(r"[A-Za-z0-9+/]{43}")
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9]{3,32}")

# Channel-level fixed texts. The bot's own sentences come from domain.yml
# responses; these are said by the channel where no Rasa turn runs (a
# message kind Rasa never sees, a reply still being prepared, button hints).
CHANNEL_TEXTS = {
    "unsupported": (
        "抱歉，目前只能处理文字和语音消息。"
        "请直接输入或说出您要办理的事项，例如“身份证丢了怎么补办”。"
    ),
    "voice_unrecognised": "抱歉，没有听清您的语音，请再说一遍或直接输入文字。",
    "still_working": "您的问题还在处理中，请稍后发送任意消息查看答复。",
    "choose_by_number": "请回复数字选择：",
    # The wording of utter_service_unavailable (a test keeps them equal).
    "failed": (
        "抱歉，查询服务暂时不可用，请稍后再试。"
        "着急的话可以拨打12345政务服务便民热线。"
    ),
}

TEXT, VOICE, EVENT, UNSUPPORTED = "text", "voice", "event", "unsupported"
SUBSCRIBE, UNSUBSCRIBE, CLICK = "subscribe", "unsubscribe", "CLICK"
# A new follower's first turn: the payload of the greet intent, which answers
# with utter_greet (what the assistant can do).
SUBSCRIBE_PAYLOAD = "/greet"


class WeChatProtocolError(ValueError):
    """A request the channel refuses; ``code`` is a stable log field."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class WeChatOptions:
    """Settings of the WeChat channel read from credentials.yml."""

    token: str
    app_id: str
    app_secret: str = field(default="", repr=False)
    aes_key: str = field(default="", repr=False)
    mode: str = SAFE
    customer_service_api: bool = False
    api_base: str = "https://api.weixin.qq.com"


@dataclass(frozen=True)
class InboundMessage:
    """One checked message from WeChat, in the fields the channel uses.

    ``user`` is the sender's OpenID (personal data: never logged in clear).
    """

    kind: str
    user: str
    account: str
    create_time: int
    msg_id: str = ""
    text: str = ""
    event: str = ""
    event_key: str = ""

    @property
    def dedup_key(self) -> tuple[str, str]:
        """What makes two deliveries the same message.

        Messages carry a MsgId (a 64-bit number: compared as its decimal text,
        so 123 and "123" match); events have none, so the send time stands in.
        """
        if self.msg_id:
            return (self.user, f"msg:{self.msg_id}")
        return (self.user, f"event:{self.create_time}:{self.event}")


@dataclass(frozen=True)
class ShapedReply:
    """One turn's answer as WeChat text parts, and the choices it offered."""

    parts: tuple[str, ...]
    choices: tuple[str, ...] = ()


def parse_options(credentials: Mapping[str, Any] | None) -> WeChatOptions:
    """Read and check the channel's section of credentials.yml.

    Raises:
        ValueError: an option is missing or malformed; the message names it
            (a deployment mistake, reported at start-up).
    """
    credentials = credentials or {}
    problems = []
    token = str(credentials.get("token") or "")
    if not _TOKEN_PATTERN.fullmatch(token):
        problems.append("token must be 3-32 letters or digits (ZW_WECHAT_TOKEN)")
    app_id = str(credentials.get("app_id") or "")
    if not app_id:
        problems.append("app_id is empty (ZW_WECHAT_APP_ID)")
    mode = str(credentials.get("mode") or SAFE).strip().lower()
    if mode not in MODES:
        problems.append(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    aes_key = str(credentials.get("aes_key") or "")
    if mode != PLAINTEXT and not _valid_aes_key(aes_key):
        problems.append(
            f"aes_key must be the 43-character EncodingAESKey in {mode} mode"
            " (ZW_WECHAT_AES_KEY)"
        )
    customer_service = _parse_bool(credentials.get("customer_service_api", False))
    if customer_service is None:
        problems.append("customer_service_api must be true or false")
    app_secret = str(credentials.get("app_secret") or "")
    if customer_service and not app_secret:
        problems.append("app_secret is needed for the customer-service API")
    api_base = str(credentials.get("api_base") or "https://api.weixin.qq.com")
    if not api_base.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        problems.append("api_base must be https:// (or http:// on 127.0.0.1)")
    if problems:
        raise ValueError("wechat channel: " + "; ".join(problems))
    return WeChatOptions(
        token=token,
        app_id=app_id,
        app_secret=app_secret,
        aes_key=aes_key,
        mode=mode,
        customer_service_api=bool(customer_service),
        api_base=api_base.rstrip("/"),
    )


def _valid_aes_key(key: str) -> bool:
    if not _AES_KEY_PATTERN.fullmatch(key):
        return False
    try:
        return len(base64.b64decode(key + "=")) == 32
    except binascii.Error:
        return False


def _parse_bool(raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off", ""):
        return False
    return None


def signature(token: str, *parts: str) -> str:
    """WeChat's SHA-1 signature: the token and the parts, sorted and joined."""
    joined = "".join(sorted([token, *parts]))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


def check_signature(expected: str | None, token: str, *parts: str) -> None:
    """Compare a received signature with ours in constant time.

    Raises:
        WeChatProtocolError: ``bad_signature``.
    """
    ours = signature(token, *parts)
    if not expected or not hmac.compare_digest(ours, expected.lower()):
        raise WeChatProtocolError("bad_signature")


def check_timestamp(raw: str | None, now: float | None = None) -> int:
    """The request's timestamp, if close enough to our clock.

    Raises:
        WeChatProtocolError: ``bad_timestamp`` (missing, not a number) or
            ``stale_timestamp`` (further than the allowed skew: a replay).
    """
    if not raw or not raw.isdigit() or len(raw) > 12:
        raise WeChatProtocolError("bad_timestamp")
    timestamp = int(raw)
    now = time.time() if now is None else now
    if abs(now - timestamp) > MAX_CLOCK_SKEW_SECONDS:
        raise WeChatProtocolError("stale_timestamp")
    return timestamp


def check_query(query: Mapping[str, str], token: str, now: float | None = None) -> None:
    """Check ``signature``, ``timestamp`` and ``nonce`` on any request.

    Raises:
        WeChatProtocolError: a parameter is missing, stale or signed wrongly.
    """
    timestamp = check_timestamp(query.get("timestamp"), now)
    nonce = query.get("nonce") or ""
    if not nonce or len(nonce) > 64:
        raise WeChatProtocolError("bad_nonce")
    check_signature(query.get("signature"), token, str(timestamp), nonce)


def parse_xml(raw: bytes) -> dict[str, str]:
    """The child elements of a WeChat ``<xml>`` document, as text.

    Raises:
        WeChatProtocolError: ``body_too_large``, ``xml_forbidden`` (a DTD,
            entity or external reference: billion laughs, XXE) or
            ``invalid_xml``.
    """
    if len(raw) > MAX_BODY_BYTES:
        raise WeChatProtocolError("body_too_large")
    try:
        root = SafeElementTree.fromstring(raw, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise WeChatProtocolError("xml_forbidden") from exc
    except (ElementTree.ParseError, ValueError) as exc:
        raise WeChatProtocolError("invalid_xml") from exc
    if root.tag != "xml":
        raise WeChatProtocolError("invalid_xml")
    return {child.tag: (child.text or "").strip() for child in root}


def open_body(
    options: WeChatOptions,
    query: Mapping[str, str],
    raw: bytes,
    crypto: WeChatCrypto | None,
) -> tuple[dict[str, str], bool]:
    """The message fields of a POST body, decrypted when it is encrypted.

    The query's ``signature`` must already be checked (``check_query``).

    Returns:
        The fields, and whether the message came encrypted (so the reply
        must be encrypted too).

    Raises:
        WeChatProtocolError: the body does not fit the configured mode, its
            ``msg_signature`` is wrong, or it does not decrypt.
    """
    fields = parse_xml(raw)
    encrypted = query.get("encrypt_type", "raw").lower() == "aes"
    if options.mode == SAFE and not encrypted:
        raise WeChatProtocolError("plaintext_refused")
    if options.mode == PLAINTEXT and encrypted:
        raise WeChatProtocolError("encryption_not_configured")
    if not encrypted:
        return fields, False
    if crypto is None or not fields.get("Encrypt"):
        raise WeChatProtocolError("missing_encrypt")
    check_signature(
        query.get("msg_signature"),
        options.token,
        query.get("timestamp", ""),
        query.get("nonce", ""),
        fields["Encrypt"],
    )
    return parse_xml(decrypt(crypto, fields["Encrypt"]).encode("utf-8")), True


def make_crypto(options: WeChatOptions) -> WeChatCrypto | None:
    """wechatpy's AES helper for the account, or None in plaintext mode."""
    if options.mode == PLAINTEXT:
        return None
    return WeChatCrypto(options.token, options.aes_key, options.app_id)


def decrypt(crypto: WeChatCrypto, ciphertext: str) -> str:
    """Decrypt an ``Encrypt`` field (its signature already checked).

    wechatpy compares signatures with ``!=``, so we check them ourselves
    and only call its AES part here.

    Raises:
        WeChatProtocolError: ``bad_ciphertext`` or ``wrong_app_id``.
    """
    try:
        return PrpCrypto(crypto.key).decrypt(ciphertext, crypto.app_id)
    except InvalidAppIdException as exc:
        raise WeChatProtocolError("wrong_app_id") from exc
    except (ValueError, TypeError, IndexError, struct.error) as exc:
        # binascii.Error and UnicodeDecodeError are ValueErrors.
        raise WeChatProtocolError("bad_ciphertext") from exc


def encrypt_reply(
    crypto: WeChatCrypto, reply_xml: str, nonce: str, timestamp: str
) -> str:
    """The encrypted envelope WeChat expects for a reply in safe mode."""
    return crypto.encrypt_message(reply_xml, nonce, timestamp)


def verify_echo(
    options: WeChatOptions, query: Mapping[str, str], now: float | None = None
) -> str:
    """The ``echostr`` to send back when WeChat checks the server URL.

    Raises:
        WeChatProtocolError: bad or stale signature, or no ``echostr``.
    """
    check_query(query, options.token, now)
    echo = query.get("echostr") or ""
    if not echo or len(echo) > 256:
        raise WeChatProtocolError("missing_echostr")
    return echo


def inbound_message(fields: Mapping[str, Any]) -> InboundMessage:
    """Classify a decoded message.

    Raises:
        WeChatProtocolError: ``invalid_message`` (no sender, no time).
    """
    user = str(fields.get("FromUserName") or "")
    account = str(fields.get("ToUserName") or "")
    create_time = str(fields.get("CreateTime") or "").strip()
    if not user or not account or not create_time.isdigit():
        raise WeChatProtocolError("invalid_message")
    common = {
        "user": user,
        "account": account,
        "create_time": int(create_time),
        "msg_id": str(fields.get("MsgId") or "").strip(),
    }
    msg_type = str(fields.get("MsgType") or "").lower()
    if msg_type == "text":
        return InboundMessage(TEXT, text=str(fields.get("Content") or ""), **common)
    if msg_type == "voice":
        return InboundMessage(
            VOICE, text=str(fields.get("Recognition") or ""), **common
        )
    if msg_type == "event":
        return InboundMessage(
            EVENT,
            event=str(fields.get("Event") or ""),
            event_key=str(fields.get("EventKey") or ""),
            **common,
        )
    return InboundMessage(UNSUPPORTED, **common)


def user_text(message: InboundMessage) -> str | None:
    """What the message asks Rasa, or None when no turn should run.

    A menu click sends its key: an intent payload (``/check_status``) or
    words the NLU understands (``我想开餐馆``).
    """
    if message.kind in (TEXT, VOICE):
        return message.text.strip() or None
    if message.kind == EVENT and message.event == SUBSCRIBE:
        return SUBSCRIBE_PAYLOAD
    if message.kind == EVENT and message.event == CLICK:
        return message.event_key.strip() or None
    return None


def fixed_reply(message: InboundMessage) -> str | None:
    """The channel's own answer to a message no turn runs for, if any."""
    if message.kind == UNSUPPORTED:
        return CHANNEL_TEXTS["unsupported"]
    if message.kind == VOICE and not message.text.strip():
        return CHANNEL_TEXTS["voice_unrecognised"]
    return None


def choose(text: str, choices: tuple[str, ...]) -> str:
    """Map a bare digit answering numbered choices back to the button payload."""
    stripped = text.strip()
    if stripped.isdigit() and 1 <= int(stripped) <= len(choices):
        return choices[int(stripped) - 1]
    return text


def shape_turn(
    messages: Iterable[Mapping[str, Any]], limit: int = MAX_REPLY_BYTES
) -> ShapedReply:
    """Merge one turn's bot messages into WeChat text parts.

    Buttons become numbered lines; the payloads come back as ``choices`` so
    a digit can be mapped back (:func:`choose`).
    """
    blocks: list[str] = []
    choices: list[str] = []
    for reply in web_protocol.shape_replies(messages):
        lines = [reply.text] if reply.text else []
        if reply.buttons:
            lines.append(CHANNEL_TEXTS["choose_by_number"])
            for button in reply.buttons:
                choices.append(button.payload)
                lines.append(f"{len(choices)}. {button.title}")
        blocks.append("\n".join(lines))
    return ShapedReply(split_text("\n\n".join(blocks), limit), tuple(choices))


def split_text(text: str, limit: int = MAX_REPLY_BYTES) -> tuple[str, ...]:
    """Cut ``text`` into parts of at most ``limit`` UTF-8 bytes.

    Cuts fall at a blank line, else a line end, else between characters —
    never inside a character.
    """
    text = text.strip()
    parts: list[str] = []
    while len(text.encode("utf-8")) > limit:
        head = _prefix_within(text, limit)
        cut = max(head.rfind("\n\n"), 0) or max(head.rfind("\n"), 0) or len(head)
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return tuple(parts)


def _prefix_within(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")[:limit]
    return encoded.decode("utf-8", errors="ignore")


def join_parts(
    parts: Iterable[str], limit: int = MAX_REPLY_BYTES
) -> tuple[str, tuple[str, ...]]:
    """Pack leading parts into one reply within ``limit``.

    Each part must already fit (:func:`split_text`).

    Returns:
        The reply text (parts joined by a blank line) and the parts that did
        not fit.
    """
    pending = [part for part in parts if part]
    taken: list[str] = []
    while pending:
        candidate = "\n\n".join([*taken, pending[0]])
        if taken and len(candidate.encode("utf-8")) > limit:
            break
        taken.append(pending.pop(0))
    return "\n\n".join(taken), tuple(pending)


def cdata(text: str) -> str:
    """``text`` inside CDATA, with any ``]]>`` split so it cannot close it."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply_xml(message: InboundMessage, text: str, now: int) -> str:
    """A passive text reply to ``message`` (sender and receiver swapped)."""
    return (
        "<xml>"
        f"<ToUserName>{cdata(message.user)}</ToUserName>"
        f"<FromUserName>{cdata(message.account)}</FromUserName>"
        f"<CreateTime>{now}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(text)}</Content>"
        "</xml>"
    )


def customer_service_body(user: str, text: str) -> dict[str, Any]:
    """The JSON body of a customer-service text message."""
    return {"touser": user, "msgtype": "text", "text": {"content": text}}
