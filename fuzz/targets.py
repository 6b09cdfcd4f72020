"""What each fuzz target feeds to which parser, and which errors are its own.

A target turns the fuzzer's bytes into one call of a parser. An exception in
``allowed`` is the parser refusing the input as designed; anything else is a
finding. Seeds are valid inputs, so the fuzzer starts from the paths that
matter (a signed, encrypted WeChat message; a full application body).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import atheris

from actions import parsing
from actions.scenario_answers import extract_answers, parse_answer
from backend import validation
from backend.errors import BackendError
from channels import web_protocol, wechat_protocol
from channels.errors import InvalidRequestError
from channels.wechat_protocol import WeChatOptions, WeChatProtocolError
from knowledge_base.errors import InvalidDataError
from knowledge_base.loader import load_faq
from knowledge_base.scenarios import Question, load_scenarios

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = load_scenarios(PROJECT_ROOT / "knowledge_base" / "data" / "scenarios")
OPTIONS = WeChatOptions(
    token="fuzztoken",
    app_id="wx0123456789abcdef",
    aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    mode=wechat_protocol.SAFE,
)
CRYPTO = wechat_protocol.make_crypto(OPTIONS)
TIMESTAMP, NONCE = "1700000000", "fuzznonce"
CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "text/plain"]
KINDS = sorted({"area", "yes_no", "choice", "district", "date", "id_number",
                "credit_code", "phone"})  # fmt: skip
# The importer reads files: each input is written here (build/ is not committed).
_FAQ_FILE = PROJECT_ROOT / "build" / "fuzz" / "faq_import" / "input.jsonl"


@dataclass(frozen=True)
class Target:
    """One parser under the fuzzer."""

    name: str
    check: Callable[[bytes], object]
    allowed: tuple[type[BaseException], ...]
    seeds: tuple[bytes, ...]


def wechat_xml(data: bytes) -> object:
    """A plaintext POST body: the XML parser and the message classifier."""
    return wechat_protocol.inbound_message(wechat_protocol.parse_xml(data))


def wechat_encrypted(data: bytes) -> object:
    """A safe-mode POST: a correctly signed envelope around a fuzzed ciphertext,
    or a correctly encrypted fuzzed plaintext, so the fuzzer reaches the AES
    and inner-XML paths behind the signature check."""
    provider = atheris.FuzzedDataProvider(data)
    if provider.ConsumeBool():
        ciphertext = provider.ConsumeUnicodeNoSurrogates(len(data))
    else:
        inner = provider.ConsumeUnicodeNoSurrogates(len(data))
        envelope = CRYPTO.encrypt_message(inner, NONCE, TIMESTAMP)
        ciphertext = wechat_protocol.parse_xml(envelope.encode())["Encrypt"]
    body = f"<xml><Encrypt>{wechat_protocol.cdata(ciphertext)}</Encrypt></xml>"
    query = {
        "timestamp": TIMESTAMP,
        "nonce": NONCE,
        "encrypt_type": "aes",
        "msg_signature": wechat_protocol.signature(
            OPTIONS.token, TIMESTAMP, NONCE, ciphertext
        ),
    }
    fields, _ = wechat_protocol.open_body(OPTIONS, query, body.encode(), CRYPTO)
    return wechat_protocol.inbound_message(fields)


def web_body(data: bytes) -> object:
    """The web channel's webhook body under one of its content types."""
    provider = atheris.FuzzedDataProvider(data)
    content_type = provider.PickValueInList(CONTENT_TYPES)
    return web_protocol.parse_body(provider.ConsumeBytes(len(data)), content_type)


def scenario_answers(data: bytes) -> object:
    """Every answer reader on one message, and the free-sentence extraction."""
    provider = atheris.FuzzedDataProvider(data)
    text = provider.ConsumeUnicodeNoSurrogates(len(data))
    for kind in KINDS:
        question = Question(
            slot="x", kind=kind, label="x", ask="utter_ask_x", invalid="utter_x"
        )
        parse_answer(question, text, None)
    parsing.find_area(text)
    parsing.find_application_no(text)
    parsing.parse_ordinal(text)
    return [extract_answers(scenario, text) for scenario in SCENARIOS.values()]


def backend_body(data: bytes) -> object:
    """A backend POST body through every body check."""
    body = validation.parse_json_object(data)
    for parse in (
        validation.parse_submission,
        validation.parse_consent,
        validation.parse_status_change,
    ):
        try:
            parse(body)
        except BackendError:
            continue
    return body


def faq_import(data: bytes) -> object:
    """An FAQ JSON Lines file, as ``python -m knowledge_base add`` reads it."""
    _FAQ_FILE.parent.mkdir(parents=True, exist_ok=True)
    _FAQ_FILE.write_bytes(data)
    return load_faq(_FAQ_FILE)


def planted(data: bytes) -> object:
    """A parser with a planted bug: the fuzz runner's own test needs a finding."""
    if data[:1] == b"\xff":
        raise UnicodeDecodeError("utf-8", data, 0, 1, "planted")
    return data.decode("utf-8", errors="ignore")


def _signed_plain_message() -> bytes:
    return (
        "<xml><ToUserName><![CDATA[gh_fuzz]]></ToUserName>"
        "<FromUserName><![CDATA[o-fuzz-user]]></FromUserName>"
        "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[身份证丢了怎么补办]]></Content><MsgId>1</MsgId></xml>"
    ).encode()


def _application_body() -> bytes:
    body = {
        "scenario_id": "restaurant",
        "applicant": {"id_number": "990101198503120117", "name": "测试"},
        "answers": {"venue_area": 80},
        "items": [
            {
                "item_id": "food_business_licence",
                "name": "食品经营许可",
                "department": "市场监督管理局",
                "route": "normal",
            }
        ],
        "form": {},
    }
    return json.dumps(body, ensure_ascii=False).encode()


TARGETS = {
    target.name: target
    for target in (
        Target(
            "wechat_xml",
            wechat_xml,
            (WeChatProtocolError,),
            (_signed_plain_message(), b"<xml><Content>&a;</Content></xml>"),
        ),
        Target(
            "wechat_encrypted",
            wechat_encrypted,
            (WeChatProtocolError,),
            (b"\x00" + _signed_plain_message(), b"\x01QUJDRA=="),
        ),
        Target(
            "web_body",
            web_body,
            (InvalidRequestError,),
            (b'\x00{"sender": "web-1", "message": "\\u4f60\\u597d"}',),
        ),
        Target(
            "scenario_answers",
            scenario_answers,
            (),
            (
                "我想开一家两百平的火锅店，不卖烟，有营业执照".encode(),
                "身份证号11010519900101123X，电话138 0013 8000".encode(),
                "2026年3月1日 91350100M000100Y43".encode(),
            ),
        ),
        Target(
            "backend_body",
            backend_body,
            (BackendError,),
            (_application_body(), b'{"status": "returned", "reason": "x"}'),
        ),
        Target(
            "faq_import",
            faq_import,
            (InvalidDataError,),
            ('{"id": "faq-1", "question": "问", "answer": "答"}\n'.encode(),),
        ),
    )
}

# Only the tests of the runner turn this on (a child process inherits it).
if os.environ.get("ZW_FUZZ_PLANTED") == "1":
    TARGETS["planted"] = Target("planted", planted, (), (b"ok",))
