"""The WeChat protocol's pure functions: signatures, XML, crypto and shaping."""

from __future__ import annotations

import pytest
from wechatpy.crypto import PrpCrypto

from channels import wechat_protocol as protocol
from channels.wechat_protocol import (
    CHANNEL_TEXTS,
    InboundMessage,
    WeChatOptions,
    WeChatProtocolError,
)
from channels.wechat_sim import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    encrypt_body,
    message_xml,
    sign_query,
)

# Known-answer vectors, made once with wechatpy 1.8.18 and the 16-byte random
# prefix fixed to "0123456789abcdef" (see test_encrypt_matches_the_vector).
KAT_TOKEN = "kattoken"
KAT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
KAT_APP_ID = "wx0123456789abcdef"
KAT_TIMESTAMP = "1700000000"
KAT_NONCE = "katnonce"
KAT_SIGNATURE = "24c3f13c97ec7cb93cd405dc975d330b608bce5d"
KAT_PLAIN = (
    "<xml><ToUserName><![CDATA[gh_kat]]></ToUserName><FromUserName>"
    "<![CDATA[o-kat-user]]></FromUserName><CreateTime>1700000000</CreateTime>"
    "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content>"
    "<MsgId>6054768590064713728</MsgId></xml>"
)
KAT_ENCRYPT = (
    "Q3stYC6hdFzMh9T8HCvyDJ4rESBupRSxsJzqQVNO7y8xX05+JTK6WrzwTuW5Tew+KbSdTdCn/NT3"
    "tUghfHBvVoC+mx2Sc602hDuViV6Hafy6Jy5JyjjIug6P2cXVwtk9l8Qac0q/EhwMwvFJWe5dVEES"
    "GngdHXiFl/7S3xHljELkTcf21DDHTkqOpQb8GDZhdqiyX1vKt59niXId0F5kM/5ufNZSLzZx0D/f"
    "bTm3IoI2eQXA3rzGyGSxGj9hzhuo+LeuLtmsyGwNMJeLYFPXn4CEipFINPVOImFVBUl5prbSBGsh"
    "zajOHzh2NPjtwoQ42TVO/mXvItID3aJF1ySA9rbSmltLEa0NBn9rvmCBPf0t6PqRpRkNzkJNEc4f"
    "YyZC"
)
KAT_MSG_SIGNATURE = "b3147d48b0036e7ea13d3fe71d189917e774ffd4"
NOW = 1_700_000_000.0


def _options(mode: str = "safe", **overrides) -> WeChatOptions:
    return WeChatOptions(
        token=KAT_TOKEN,
        app_id=KAT_APP_ID,
        aes_key=KAT_AES_KEY,
        mode=mode,
        **overrides,
    )


def _kat_query(**overrides) -> dict[str, str]:
    query = {
        "signature": KAT_SIGNATURE,
        "timestamp": KAT_TIMESTAMP,
        "nonce": KAT_NONCE,
        "encrypt_type": "aes",
        "msg_signature": KAT_MSG_SIGNATURE,
    }
    query.update(overrides)
    return query


# --- signatures and timestamps -----------------------------------------------


def test_signature_matches_the_known_vector():
    assert protocol.signature(KAT_TOKEN, KAT_TIMESTAMP, KAT_NONCE) == KAT_SIGNATURE


def test_msg_signature_matches_the_known_vector():
    signed = protocol.signature(KAT_TOKEN, KAT_TIMESTAMP, KAT_NONCE, KAT_ENCRYPT)
    assert signed == KAT_MSG_SIGNATURE


def test_check_query_accepts_the_known_vector():
    protocol.check_query(_kat_query(), KAT_TOKEN, now=NOW)


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"nonce": "katnoncf"}, "bad_signature"),
        ({"signature": KAT_SIGNATURE[:-1] + "0"}, "bad_signature"),
        ({"signature": ""}, "bad_signature"),
        ({"nonce": ""}, "bad_nonce"),
        ({"timestamp": "abc"}, "bad_timestamp"),
        ({"timestamp": ""}, "bad_timestamp"),
    ],
)
def test_check_query_rejects_tampered_parameters(override, code):
    with pytest.raises(WeChatProtocolError) as caught:
        protocol.check_query(_kat_query(**override), KAT_TOKEN, now=NOW)
    assert caught.value.code == code


def test_verify_signature_uses_a_constant_time_comparison(monkeypatch):
    calls = []
    real = protocol.hmac.compare_digest
    monkeypatch.setattr(
        protocol.hmac,
        "compare_digest",
        lambda a, b: calls.append((a, b)) or real(a, b),
    )
    protocol.check_signature(KAT_SIGNATURE, KAT_TOKEN, KAT_TIMESTAMP, KAT_NONCE)
    assert calls == [(KAT_SIGNATURE, KAT_SIGNATURE)]


@pytest.mark.parametrize("skew", [-301, 301, -86_400])
def test_stale_timestamps_are_rejected_as_replays(skew):
    with pytest.raises(WeChatProtocolError, match="stale_timestamp"):
        protocol.check_timestamp(str(int(NOW) + skew), now=NOW)


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_timestamps_within_the_skew_are_accepted(skew):
    assert protocol.check_timestamp(str(int(NOW) + skew), now=NOW) == NOW + skew


def test_verify_echo_returns_echostr_for_a_signed_check():
    query = {**_kat_query(), "echostr": "1234567890"}
    assert protocol.verify_echo(_options(), query, now=NOW) == "1234567890"


def test_verify_echo_rejects_a_missing_echostr():
    with pytest.raises(WeChatProtocolError, match="missing_echostr"):
        protocol.verify_echo(_options(), _kat_query(), now=NOW)


# --- crypto (wechatpy) --------------------------------------------------------


def test_decrypt_matches_the_known_vector():
    crypto = protocol.make_crypto(_options())
    assert protocol.decrypt(crypto, KAT_ENCRYPT) == KAT_PLAIN


def test_encrypt_matches_the_vector(monkeypatch):
    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda self: "0123456789abcdef")
    crypto = protocol.make_crypto(_options())

    envelope = protocol.encrypt_reply(crypto, KAT_PLAIN, KAT_NONCE, KAT_TIMESTAMP)

    fields = protocol.parse_xml(envelope.encode())
    assert fields["Encrypt"] == KAT_ENCRYPT
    assert fields["MsgSignature"] == KAT_MSG_SIGNATURE


def test_open_body_decrypts_the_known_vector_in_safe_mode():
    body = f"<xml><ToUserName>gh_kat</ToUserName><Encrypt>{KAT_ENCRYPT}</Encrypt></xml>"
    options = _options()

    fields, encrypted = protocol.open_body(
        options, _kat_query(), body.encode(), protocol.make_crypto(options)
    )

    assert encrypted
    assert fields["Content"] == "你好"
    assert fields["MsgId"] == "6054768590064713728"


def test_open_body_rejects_a_wrong_msg_signature():
    body = f"<xml><Encrypt>{KAT_ENCRYPT}</Encrypt></xml>".encode()
    options = _options()
    query = _kat_query(msg_signature="0" * 40)
    with pytest.raises(WeChatProtocolError, match="bad_signature"):
        protocol.open_body(options, query, body, protocol.make_crypto(options))


def test_decrypt_rejects_another_accounts_message():
    crypto = protocol.make_crypto(_options())
    crypto.app_id = "wxsomeoneelse00000"
    with pytest.raises(WeChatProtocolError, match="wrong_app_id"):
        protocol.decrypt(crypto, KAT_ENCRYPT)


@pytest.mark.parametrize("ciphertext", ["", "not base64!", "QUJD", "A" * 64])
def test_decrypt_rejects_garbage_without_crashing(ciphertext):
    crypto = protocol.make_crypto(_options())
    with pytest.raises(WeChatProtocolError, match="bad_ciphertext"):
        protocol.decrypt(crypto, ciphertext)


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
def test_every_mode_round_trips_a_message(mode):
    options = _options(mode)
    xml = message_xml("o-user", "gh_kat", msg_id="42", Content="社保卡怎么补办")
    query = sign_query(options.token)
    body = xml
    if mode != "plaintext":
        query, body = encrypt_body(options, xml, query)

    fields, encrypted = protocol.open_body(
        options, query, body.encode(), protocol.make_crypto(options)
    )

    assert encrypted == (mode != "plaintext")
    assert fields["Content"] == "社保卡怎么补办"


def test_compatible_mode_also_accepts_plaintext():
    options = _options("compatible")
    xml = message_xml("o-user", "gh_kat", msg_id="42", Content="你好")
    fields, encrypted = protocol.open_body(
        options, sign_query(options.token), xml.encode(), protocol.make_crypto(options)
    )
    assert not encrypted
    assert fields["Content"] == "你好"


def test_safe_mode_refuses_plaintext_and_plaintext_mode_refuses_aes():
    xml = message_xml("o-user", "gh_kat", msg_id="42", Content="你好").encode()
    with pytest.raises(WeChatProtocolError, match="plaintext_refused"):
        protocol.open_body(_options("safe"), sign_query(KAT_TOKEN), xml, None)
    query = {**sign_query(KAT_TOKEN), "encrypt_type": "aes"}
    with pytest.raises(WeChatProtocolError, match="encryption_not_configured"):
        protocol.open_body(_options("plaintext"), query, xml, None)


# --- XML ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (BILLION_LAUGHS.encode(), "xml_forbidden"),
        (EXTERNAL_ENTITY.encode(), "xml_forbidden"),
        (b"<xml>" + b"a" * (protocol.MAX_BODY_BYTES + 1) + b"</xml>", "body_too_large"),
        (b"<xml><unclosed></xml>", "invalid_xml"),
        (b"<notxml/>", "invalid_xml"),
        (b"\xff\xfe", "invalid_xml"),
        (b"", "invalid_xml"),
    ],
)
def test_parse_xml_rejects_hostile_and_malformed_bodies(body, code):
    with pytest.raises(WeChatProtocolError) as caught:
        protocol.parse_xml(body)
    assert caught.value.code == code


def test_cdata_cannot_be_closed_by_the_text():
    xml = f"<xml><Content>{protocol.cdata('a]]><b/>c')}</Content></xml>"
    assert protocol.parse_xml(xml.encode())["Content"] == "a]]><b/>c"


def test_text_reply_swaps_sender_and_receiver():
    message = InboundMessage("text", user="o-user", account="gh_acc", create_time=1)

    fields = protocol.parse_xml(protocol.text_reply_xml(message, "好的", 7).encode())

    assert fields == {
        "ToUserName": "o-user",
        "FromUserName": "gh_acc",
        "CreateTime": "7",
        "MsgType": "text",
        "Content": "好的",
    }


# --- message kinds --------------------------------------------------------------

BASE = {"FromUserName": "o-user", "ToUserName": "gh_acc", "CreateTime": "1700000000"}


@pytest.mark.parametrize(
    ("fields", "text", "fixed"),
    [
        ({"MsgType": "text", "Content": " 你好 ", "MsgId": "1"}, "你好", None),
        (
            {"MsgType": "voice", "Recognition": "失业金怎么领", "MsgId": "2"},
            "失业金怎么领",
            None,
        ),
        (
            {"MsgType": "voice", "Recognition": "", "MsgId": "3"},
            None,
            CHANNEL_TEXTS["voice_unrecognised"],
        ),
        ({"MsgType": "event", "Event": "subscribe"}, "/greet", None),
        (
            {"MsgType": "event", "Event": "CLICK", "EventKey": "/check_status"},
            "/check_status",
            None,
        ),
        (
            {"MsgType": "event", "Event": "CLICK", "EventKey": "我想开餐馆"},
            "我想开餐馆",
            None,
        ),
        ({"MsgType": "event", "Event": "unsubscribe"}, None, None),
        (
            {"MsgType": "image", "PicUrl": "http://x", "MsgId": "4"},
            None,
            CHANNEL_TEXTS["unsupported"],
        ),
        (
            {"MsgType": "location", "Label": "某地", "MsgId": "5"},
            None,
            CHANNEL_TEXTS["unsupported"],
        ),
        ({"MsgType": "shortvideo", "MsgId": "6"}, None, CHANNEL_TEXTS["unsupported"]),
    ],
)
def test_message_kinds_map_to_a_turn_or_a_fixed_reply(fields, text, fixed):
    message = protocol.inbound_message({**BASE, **fields})
    assert protocol.user_text(message) == text
    assert protocol.fixed_reply(message) == fixed


@pytest.mark.parametrize("missing", ["FromUserName", "ToUserName", "CreateTime"])
def test_a_message_without_sender_account_or_time_is_invalid(missing):
    fields = {**BASE, "MsgType": "text", "Content": "x"}
    del fields[missing]
    with pytest.raises(WeChatProtocolError, match="invalid_message"):
        protocol.inbound_message(fields)


def test_msg_id_as_int_and_as_string_is_one_message():
    as_int = protocol.inbound_message({**BASE, "MsgType": "text", "MsgId": 123})
    as_str = protocol.inbound_message({**BASE, "MsgType": "text", "MsgId": " 123"})
    assert as_int.dedup_key == as_str.dedup_key == ("o-user", "msg:123")


def test_equal_msg_ids_of_two_users_are_two_messages():
    first = protocol.inbound_message({**BASE, "MsgType": "text", "MsgId": "9"})
    second = protocol.inbound_message(
        {**BASE, "FromUserName": "o-other", "MsgType": "text", "MsgId": "9"}
    )
    assert first.dedup_key != second.dedup_key


def test_events_deduplicate_on_user_and_create_time():
    event = {**BASE, "MsgType": "event", "Event": "subscribe"}
    again = protocol.inbound_message(event)
    later = protocol.inbound_message({**event, "CreateTime": "1700000001"})
    assert protocol.inbound_message(event).dedup_key == again.dedup_key
    assert again.dedup_key != later.dedup_key


# --- reply shaping -------------------------------------------------------------


def test_shape_turn_merges_messages_and_numbers_buttons():
    shaped = protocol.shape_turn(
        [
            {"recipient_id": "u", "text": "您好"},
            {"recipient_id": "u", "image": "http://x/a.png"},
            {
                "recipient_id": "u",
                "text": "请问办理哪一项？",
                "buttons": [
                    {"title": "首次申领", "payload": "/first"},
                    {"title": "补领", "payload": "补领身份证"},
                ],
            },
        ]
    )
    assert shaped.parts == (
        "您好\n\n请问办理哪一项？\n"
        f"{CHANNEL_TEXTS['choose_by_number']}\n1. 首次申领\n2. 补领",
    )
    assert shaped.choices == ("/first", "补领身份证")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", "/first"), (" 2 ", "补领身份证"), ("3", "3"), ("0", "0"), ("1个", "1个")],
)
def test_choose_maps_a_digit_back_to_its_payload(text, expected):
    assert protocol.choose(text, ("/first", "补领身份证")) == expected


@pytest.mark.parametrize(
    "text",
    [
        "字" * 2000,
        ("第一段说明。" * 60 + "\n\n") * 5,
        ("一行办事说明" * 30 + "\n") * 12,
        "a" * 5000,
        "😀" * 1000,
    ],
)
def test_split_text_keeps_every_part_within_the_byte_limit(text):
    parts = protocol.split_text(text)
    assert all(
        0 < len(part.encode("utf-8")) <= protocol.MAX_REPLY_BYTES for part in parts
    )
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_split_text_prefers_blank_lines():
    text = "甲" * 500 + "\n\n" + "乙" * 500
    assert protocol.split_text(text) == ("甲" * 500, "乙" * 500)


def test_join_parts_packs_what_fits_and_returns_the_rest():
    reply, rest = protocol.join_parts(["甲" * 400, "乙" * 200, "丙" * 300])
    assert reply == "甲" * 400 + "\n\n" + "乙" * 200
    assert rest == ("丙" * 300,)


def test_join_parts_never_packs_past_the_limit():
    parts = protocol.split_text("长" * 3000)
    reply, rest = protocol.join_parts(parts)
    assert len(reply.encode()) <= protocol.MAX_REPLY_BYTES
    assert rest == parts[1:]
    assert all(len(part.encode()) <= protocol.MAX_REPLY_BYTES for part in rest)


# --- options -------------------------------------------------------------------


def test_parse_options_reads_expanded_strings():
    options = protocol.parse_options(
        {
            "token": "tok123",
            "app_id": "wx1",
            "app_secret": "s",
            "aes_key": KAT_AES_KEY,
            "mode": "Safe",
            "customer_service_api": "true",
            "api_base": "http://127.0.0.1:9/",
        }
    )
    assert options.mode == "safe"
    assert options.customer_service_api is True
    assert options.api_base == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("credentials", "named"),
    [
        ({}, "token"),
        ({"token": "a b", "app_id": "wx"}, "token"),
        ({"token": "tok", "app_id": ""}, "app_id"),
        ({"token": "tok", "app_id": "wx", "mode": "aes"}, "mode"),
        (
            {"token": "tok", "app_id": "wx", "mode": "safe", "aes_key": "short"},
            "aes_key",
        ),
        (
            {
                "token": "tok",
                "app_id": "wx",
                "mode": "plaintext",
                "customer_service_api": "maybe",
            },
            "customer_service_api",
        ),
        (
            {
                "token": "tok",
                "app_id": "wx",
                "mode": "plaintext",
                "customer_service_api": "true",
            },
            "app_secret",
        ),
        (
            {
                "token": "tok",
                "app_id": "wx",
                "mode": "plaintext",
                "api_base": "http://evil",
            },
            "api_base",
        ),
    ],
)
def test_parse_options_names_what_is_wrong(credentials, named):
    with pytest.raises(ValueError, match=named):
        protocol.parse_options(credentials)


def test_plaintext_mode_needs_no_aes_key():
    options = protocol.parse_options(
        {"token": "tok", "app_id": "wx", "mode": "plaintext"}
    )
    assert protocol.make_crypto(options) is None


def test_the_failure_text_is_the_domains_service_unavailable_response():
    import yaml

    from bot.settings import PROJECT_ROOT

    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    [response] = domain["responses"]["utter_service_unavailable"]
    assert CHANNEL_TEXTS["failed"] == response["text"]
