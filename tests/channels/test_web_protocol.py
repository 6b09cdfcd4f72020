"""The web chat protocol without a server: body checks, reply shaping, JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels import errors
from channels.errors import InvalidRequestError, ProcessingError
from channels.web_protocol import (
    MAX_BODY_BYTES,
    BotReply,
    Button,
    ChannelOptions,
    InboundMessage,
    encode_json,
    error_body,
    parse_body,
    parse_options,
    shape_replies,
)

JSON = "application/json"


def _body(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"sender": "web-0123abcd", "message": "新生儿怎么办出生医学证明"},
            InboundMessage("web-0123abcd", "新生儿怎么办出生医学证明"),
        ),
        (
            {"sender": "a", "message": "  身份证过期了怎么办 \n"},
            InboundMessage("a", "身份证过期了怎么办"),
        ),
        (
            {"sender": "user_1", "message": "/affirm", "metadata": {"x": 1}},
            InboundMessage("user_1", "/affirm"),
        ),
        (
            {"sender": "s" * 64, "message": "字" * 1000},
            InboundMessage("s" * 64, "字" * 1000),
        ),
        # Zero-width spaces and direction marks are dropped: they split words.
        (
            {"sender": "a", "message": "结\u200b婚\u200d登记\u202e收费吗\ufeff"},
            InboundMessage("a", "结婚登记收费吗"),
        ),
    ],
)
def test_parse_body_accepts_valid_messages(payload, expected):
    assert parse_body(_body(payload), JSON) == expected


@pytest.mark.parametrize(
    ("raw", "code", "status"),
    [
        (b"", errors.INVALID_JSON, 400),
        (b"{not json", errors.INVALID_JSON, 400),
        (b"\xff\xfe", errors.INVALID_JSON, 400),
        (_body(["sender", "message"]), errors.INVALID_BODY, 400),
        (_body("你好"), errors.INVALID_BODY, 400),
        (_body({"sender": "web-1"}), errors.MISSING_MESSAGE, 400),
        (_body({"sender": "web-1", "message": None}), errors.MISSING_MESSAGE, 400),
        (_body({"sender": "web-1", "message": 42}), errors.INVALID_MESSAGE, 400),
        (_body({"sender": "web-1", "message": ["你好"]}), errors.INVALID_MESSAGE, 400),
        (
            _body({"sender": "web-1", "message": "a\u0000b"}),
            errors.INVALID_MESSAGE,
            400,
        ),
        (
            _body({"sender": "web-1", "message": "\u001b[31m"}),
            errors.INVALID_MESSAGE,
            400,
        ),
        (_body({"sender": "web-1", "message": "\u200b"}), errors.EMPTY_MESSAGE, 400),
        (_body({"sender": "web-1", "message": ""}), errors.EMPTY_MESSAGE, 400),
        (_body({"sender": "web-1", "message": " \n\t　"}), errors.EMPTY_MESSAGE, 400),
        (
            _body({"sender": "web-1", "message": "字" * 1001}),
            errors.MESSAGE_TOO_LONG,
            400,
        ),
        (_body({"message": "你好"}), errors.INVALID_SENDER, 400),
        (_body({"sender": "", "message": "你好"}), errors.INVALID_SENDER, 400),
        (_body({"sender": 12345, "message": "你好"}), errors.INVALID_SENDER, 400),
        (_body({"sender": "a" * 65, "message": "你好"}), errors.INVALID_SENDER, 400),
        (
            _body({"sender": "../etc/passwd", "message": "你好"}),
            errors.INVALID_SENDER,
            400,
        ),
        (_body({"sender": "张三", "message": "你好"}), errors.INVALID_SENDER, 400),
        (b" " * (MAX_BODY_BYTES + 1), errors.BODY_TOO_LARGE, 413),
    ],
)
def test_parse_body_rejects_invalid_bodies_with_a_stable_code(raw, code, status):
    with pytest.raises(InvalidRequestError) as caught:
        parse_body(raw, JSON)

    assert caught.value.code == code
    assert caught.value.status == status
    assert caught.value.message  # a Chinese sentence for the page


def test_parse_body_keeps_the_json_error_as_cause():
    with pytest.raises(InvalidRequestError) as caught:
        parse_body(b"{", JSON)

    assert isinstance(caught.value.__cause__, json.JSONDecodeError)


@pytest.mark.parametrize(
    "content_type",
    [None, "", "text/plain", "application/x-www-form-urlencoded", "text/json"],
)
def test_parse_body_requires_a_json_content_type(content_type):
    raw = _body({"sender": "web-1", "message": "你好"})

    with pytest.raises(InvalidRequestError) as caught:
        parse_body(raw, content_type)

    assert caught.value.code == errors.UNSUPPORTED_MEDIA_TYPE
    assert caught.value.status == 415


def test_parse_body_accepts_json_with_charset_parameter():
    raw = _body({"sender": "web-1", "message": "你好"})

    assert parse_body(raw, "Application/JSON; charset=utf-8").text == "你好"


def test_parse_body_uses_the_configured_length_limit():
    raw = _body({"sender": "web-1", "message": "一二三四五六"})

    with pytest.raises(InvalidRequestError) as caught:
        parse_body(raw, JSON, max_chars=5)

    assert caught.value.code == errors.MESSAGE_TOO_LONG
    assert "5" in caught.value.message


def test_error_messages_never_quote_the_message_text():
    secret = "我的手机号是13812345678" + "字" * 1000
    raw = _body({"sender": "web-1", "message": secret})

    with pytest.raises(InvalidRequestError) as caught:
        parse_body(raw, JSON)

    assert "13812345678" not in str(caught.value)
    assert "13812345678" not in caught.value.message


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        (None, ChannelOptions(max_message_chars=1000)),
        ({}, ChannelOptions(max_message_chars=1000)),
        ({"max_message_chars": 200}, ChannelOptions(max_message_chars=200)),
    ],
)
def test_parse_options_reads_the_credentials_section(credentials, expected):
    assert parse_options(credentials) == expected


@pytest.mark.parametrize("value", [0, -1, "1000", 1.5, True, None])
def test_parse_options_rejects_a_bad_length_limit_at_start_up(value):
    with pytest.raises(ValueError, match="max_message_chars"):
        parse_options({"max_message_chars": value})


def test_shape_replies_keeps_text_and_buttons_and_drops_images():
    collected = [
        {
            "recipient_id": "web-1",
            "text": "请问您要办理哪一项？",
            "buttons": [
                {"title": "首次申领", "payload": '/choose{"k":1}'},
                {"title": "换领", "payload": '/choose{"k":2}'},
            ],
        },
        {"recipient_id": "web-1", "image": "https://example.org/a.png"},
        {"recipient_id": "web-1", "custom": {"kind": "card"}},
        {"recipient_id": "web-1", "text": "来源：示例 https://example.gov.cn/a"},
    ]

    replies = shape_replies(collected)

    assert replies == [
        BotReply(
            "web-1",
            "请问您要办理哪一项？",
            (Button("首次申领", '/choose{"k":1}'), Button("换领", '/choose{"k":2}')),
        ),
        BotReply("web-1", "来源：示例 https://example.gov.cn/a"),
    ]


@pytest.mark.parametrize(
    ("number", "shown"),
    [("RG20261204000001", "RG20261204000001"), ("RG1<b>", ""), (12, "")],
)
def test_the_reply_that_queued_a_handoff_carries_its_number(number, shown):
    collected = [
        {"recipient_id": "web-1", "text": "已为您转接人工客服"},
        {"recipient_id": "web-1", "custom": {"handoff_started": number}},
    ]

    [reply] = shape_replies(collected)

    assert reply.handoff_no == shown
    assert ("handoff_no" in reply.to_dict()) == bool(shown)


@pytest.mark.parametrize(
    "buttons",
    [
        "not a list",
        [None, "x", 3],
        [{"title": "", "payload": "/a"}],
        [{"title": "是", "payload": None}],
        [{"title": 1, "payload": "/a"}],
        [{"payload": "/a"}],
    ],
)
def test_shape_replies_skips_malformed_buttons(buttons):
    replies = shape_replies([{"recipient_id": "u", "text": "好的", "buttons": buttons}])

    assert replies == [BotReply("u", "好的")]


def test_shape_replies_keeps_a_buttons_only_message():
    collected = [
        {"recipient_id": "u", "buttons": [{"title": "是", "payload": "/affirm"}]}
    ]

    assert shape_replies(collected) == [BotReply("u", "", (Button("是", "/affirm"),))]


def test_bot_reply_to_dict_has_the_rest_shape():
    reply = BotReply("u", "好的", (Button("是", "/affirm"),))

    assert reply.to_dict() == {
        "recipient_id": "u",
        "text": "好的",
        "buttons": [{"title": "是", "payload": "/affirm"}],
    }
    assert BotReply("u", "好的").to_dict() == {"recipient_id": "u", "text": "好的"}


def test_error_body_carries_code_message_and_request_id_only():
    body = error_body(ProcessingError(), "req-1")

    assert body == {
        "error": {
            "code": "processing_failed",
            "message": "服务暂时不可用，请稍后再试。",
        },
        "request_id": "req-1",
    }


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "a & b </b> &lt;",
        "\\<\\u003c",
        "来源：<title> https://example.gov.cn/?a=1&b=<2>",
    ],
)
def test_encode_json_never_contains_markup_characters(text):
    encoded = encode_json([{"text": text}])

    assert not set("<>&") & set(encoded)
    assert json.loads(encoded) == [{"text": text}]


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    )
)
def test_encode_json_round_trips_any_value_without_markup(value):
    encoded = encode_json(value)

    assert not set("<>&") & set(encoded)
    assert json.loads(encoded) == value
