"""Properties of the WeChat protocol: any body ends in a message or its own error.

Well-formed random messages survive the round trip (plain and encrypted);
random bytes, mutated messages, entity bombs, external entities and huge
bodies end in :class:`WeChatProtocolError`, never in another exception.
"""

from __future__ import annotations

import base64

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels import wechat_protocol as protocol
from channels.wechat_protocol import WeChatOptions, WeChatProtocolError
from channels.wechat_sim import encrypt_body, message_xml, sign_query

PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
OPTIONS = WeChatOptions(
    token="proptoken",
    app_id="wx0123456789abcdef",
    aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    mode=protocol.SAFE,
)
CRYPTO = protocol.make_crypto(OPTIONS)
QUERY = {**sign_query(OPTIONS.token, timestamp="1700000000", nonce="propnonce")}


# XML 1.0 characters, less \r (a parser turns it into \n: it cannot round-trip).
XML_TEXT = st.text(
    st.characters(
        min_codepoint=0x20, max_codepoint=0xFFFD, blacklist_categories=("Cs",)
    )
    | st.sampled_from("\t\n"),
    max_size=300,
)
IDS = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=40)
MSG_IDS = st.integers(min_value=1, max_value=2**64 - 1).map(str)


def _raises_own_error(call, *args) -> WeChatProtocolError | None:
    """Run ``call``; None if it returned, its error if it raised ours."""
    try:
        call(*args)
    except WeChatProtocolError as error:
        return error
    return None


@PROPERTY
@given(user=IDS, account=IDS, content=XML_TEXT, msg_id=MSG_IDS)
def test_any_text_message_round_trips_through_parse_xml(user, account, content, msg_id):
    body = message_xml(user, account, msg_id=msg_id, Content=content)

    message = protocol.inbound_message(protocol.parse_xml(body.encode("utf-8")))

    assert (message.kind, message.user, message.account) == ("text", user, account)
    assert (message.text, message.msg_id) == (content.strip(), msg_id)


@PROPERTY
@given(user=IDS, content=XML_TEXT, msg_id=MSG_IDS)
def test_any_encrypted_message_round_trips_through_open_body(user, content, msg_id):
    xml = message_xml(user, "gh_account", msg_id=msg_id, Content=content)
    query, body = encrypt_body(OPTIONS, xml, QUERY)

    fields, encrypted = protocol.open_body(OPTIONS, query, body.encode(), CRYPTO)

    assert encrypted
    assert protocol.inbound_message(fields).text == content.strip()


@PROPERTY
@given(st.binary(max_size=2048))
def test_random_bytes_give_a_dict_or_the_protocols_error(raw):
    try:
        fields = protocol.parse_xml(raw)
    except WeChatProtocolError as error:
        assert error.code in ("invalid_xml", "xml_forbidden")
        return
    assert all(isinstance(v, str) for v in fields.values())


@st.composite
def mutated_messages(draw) -> bytes:
    """A valid message with bytes flipped, inserted or cut out."""
    xml = message_xml("o-user", "gh_account", msg_id="1", Content=draw(XML_TEXT))
    raw = bytearray(xml.encode("utf-8"))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(raw) - 1))
        operation = draw(st.sampled_from(["flip", "insert", "delete"]))
        if operation == "flip":
            raw[position] = draw(st.integers(0, 255))
        elif operation == "insert":
            raw[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif len(raw) > 1:
            del raw[position]
    return bytes(raw)


@PROPERTY
@given(mutated_messages())
def test_mutated_messages_give_a_message_or_the_protocols_error(raw):
    try:
        protocol.inbound_message(protocol.parse_xml(raw))
    except WeChatProtocolError as error:
        assert error.code in ("invalid_xml", "xml_forbidden", "invalid_message")


ENTITY_NAMES = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)


@st.composite
def entity_documents(draw) -> bytes:
    """Documents with a DTD: nested entity bombs, external or parameter entities."""
    kind = draw(st.sampled_from(["bomb", "system", "public", "parameter", "bare"]))
    name = draw(ENTITY_NAMES)
    if kind == "bomb":
        depth, width = draw(st.integers(1, 8)), draw(st.integers(1, 12))
        names = [f"{name}{level}" for level in range(depth)]
        decls = [f'<!ENTITY {names[0]} "{draw(st.text("lol", max_size=20))}">']
        for lower, upper in zip(names, names[1:], strict=False):
            decls.append(f'<!ENTITY {upper} "{f"&{lower};" * width}">')
        dtd, use = "".join(decls), f"&{names[-1]};"
    elif kind in ("system", "public"):
        url = draw(st.sampled_from(["file:///etc/passwd", "http://127.0.0.1:1/x"]))
        public = ' PUBLIC "-//x//y"' if kind == "public" else " SYSTEM"
        dtd, use = f'<!ENTITY {name}{public} "{url}">', f"&{name};"
    elif kind == "parameter":
        dtd, use = f'<!ENTITY % {name} SYSTEM "file:///etc/passwd"> %{name};', "x"
    else:
        dtd, use = "", "x"
    doctype = f"<!DOCTYPE {draw(st.sampled_from(['xml', 'foo']))} [{dtd}]>"
    prolog = draw(st.sampled_from(['<?xml version="1.0"?>', ""]))
    body = f"{prolog}{doctype}<xml><Content>{use}</Content></xml>"
    return body.encode("utf-8")


@PROPERTY
@given(entity_documents())
def test_any_document_type_declaration_is_forbidden(raw):
    error = _raises_own_error(protocol.parse_xml, raw)

    assert error is not None and error.code == "xml_forbidden"


@settings(max_examples=25, deadline=None)
@given(
    extra=st.integers(1, 200_000),
    filler=st.sampled_from([b"a", b"\xe5\xa5\xbd", b"<", b"\x00"]),
)
def test_bodies_over_the_cap_are_refused_before_parsing(extra, filler):
    raw = b"<xml><Content>" + filler * (protocol.MAX_BODY_BYTES + extra)

    error = _raises_own_error(protocol.parse_xml, raw)

    assert error is not None and error.code == "body_too_large"


BASE64ISH = st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", max_size=400
)


@PROPERTY
@given(st.one_of(BASE64ISH, st.text(max_size=200), st.binary(max_size=300).map(
    lambda raw: base64.b64encode(raw).decode()
)))  # fmt: skip
def test_any_ciphertext_decrypts_or_gives_the_protocols_error(ciphertext):
    try:
        protocol.decrypt(CRYPTO, ciphertext)
    except WeChatProtocolError as error:
        assert error.code in ("bad_ciphertext", "wrong_app_id")


@PROPERTY
@given(
    body=st.one_of(st.binary(max_size=512), mutated_messages()),
    encrypt_type=st.sampled_from(["aes", "raw", "AES", ""]),
    msg_signature=st.text("0123456789abcdef", max_size=40),
    mode=st.sampled_from(protocol.MODES),
)
def test_open_body_gives_fields_or_the_protocols_error(
    body, encrypt_type, msg_signature, mode
):
    options = WeChatOptions(
        token=OPTIONS.token, app_id=OPTIONS.app_id, aes_key=OPTIONS.aes_key, mode=mode
    )
    query = {**QUERY, "encrypt_type": encrypt_type, "msg_signature": msg_signature}

    _raises_own_error(
        protocol.open_body, options, query, body, protocol.make_crypto(options)
    )


FIELD_VALUES = st.one_of(st.text(max_size=30), st.integers(), st.none())


@PROPERTY
@given(
    st.dictionaries(
        st.sampled_from(
            ["FromUserName", "ToUserName", "CreateTime", "MsgType", "Content",
             "Recognition", "Event", "EventKey", "MsgId", "Other"]
        ),
        FIELD_VALUES,
    )
)  # fmt: skip
def test_any_field_set_classifies_or_gives_invalid_message(fields):
    error = _raises_own_error(protocol.inbound_message, fields)

    assert error is None or error.code == "invalid_message"


@PROPERTY
@given(text=st.text(max_size=3000), limit=st.integers(8, 2048))
def test_split_text_parts_fit_and_keep_every_character(text, limit):
    parts = protocol.split_text(text, limit)

    assert all(0 < len(part.encode("utf-8")) <= limit for part in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())


@PROPERTY
@given(XML_TEXT)
def test_cdata_keeps_any_text_including_its_own_terminator(text):
    raw = f"<xml><Content>{protocol.cdata(text + ']]>' + text)}</Content></xml>"

    assert protocol.parse_xml(raw.encode())["Content"] == (text + "]]>" + text).strip()
