"""Properties of the web channel's body parser: a message or InvalidRequestError.

Whatever the page (or anyone else) posts, :func:`parse_body` returns a checked
message or raises the channel's own error with a stable code; and a message
it returns is exactly what was sent, stripped.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from channels import errors
from channels.errors import InvalidRequestError
from channels.web_protocol import (
    MAX_BODY_BYTES,
    MAX_MESSAGE_CHARS,
    SENDER_PATTERN,
    parse_body,
)

PROPERTY = settings(max_examples=200, deadline=None)
JSON = "application/json"
CODES = {
    errors.INVALID_JSON,
    errors.INVALID_BODY,
    errors.UNSUPPORTED_MEDIA_TYPE,
    errors.BODY_TOO_LARGE,
    errors.MISSING_MESSAGE,
    errors.INVALID_MESSAGE,
    errors.EMPTY_MESSAGE,
    errors.MESSAGE_TOO_LONG,
    errors.INVALID_SENDER,
}
SENDERS = st.from_regex(SENDER_PATTERN, fullmatch=True)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=25,
)
CONTENT_TYPES = st.one_of(
    st.just(JSON),
    st.just("application/json; charset=utf-8"),
    st.just("APPLICATION/JSON"),
    st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "", None]),
    st.text(max_size=30),
)


# Written out here rather than imported: the oracle should not share the code.
CONTROL = {chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]}
INVISIBLE = {chr(c) for c in [*range(0x200B, 0x2010), *range(0x202A, 0x202F),
                              *range(0x2060, 0x2065), 0xFEFF]}  # fmt: skip


def _outcome(raw: bytes | None, content_type: str | None):
    """The message, or the error's code; any other exception fails the test."""
    try:
        return parse_body(raw, content_type)
    except InvalidRequestError as error:
        assert error.code in CODES and 400 <= error.status < 500
        return error.code


@PROPERTY
@given(sender=SENDERS, text=st.text(max_size=MAX_MESSAGE_CHARS + 50))
def test_a_well_formed_message_comes_back_stripped_or_is_refused(sender, text):
    raw = json.dumps({"sender": sender, "message": text}).encode("utf-8")

    outcome = _outcome(raw, JSON)

    stripped = "".join(ch for ch in text if ch not in INVISIBLE).strip()
    if any(ch in CONTROL or 0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        assert outcome == errors.INVALID_MESSAGE
    elif not stripped:
        assert outcome == errors.EMPTY_MESSAGE
    elif len(stripped) > MAX_MESSAGE_CHARS:
        assert outcome == errors.MESSAGE_TOO_LONG
    else:
        assert (outcome.sender_id, outcome.text) == (sender, stripped)


@PROPERTY
@given(raw=st.binary(max_size=4096), content_type=CONTENT_TYPES)
def test_random_bytes_give_a_message_or_the_channels_error(raw, content_type):
    _outcome(raw, content_type)


@PROPERTY
@given(body=JSON_VALUES)
def test_any_json_value_gives_a_message_or_the_channels_error(body):
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")

    _outcome(raw, JSON)


@PROPERTY
@given(
    body=st.dictionaries(
        st.sampled_from(["sender", "message", "metadata", "extra"]), JSON_VALUES
    )
)
def test_any_object_with_the_known_keys_gives_a_message_or_an_error(body):
    _outcome(json.dumps(body).encode("utf-8"), JSON)


@settings(max_examples=25, deadline=None)
@given(extra=st.integers(1, 100_000))
def test_bodies_over_the_cap_are_refused_before_decoding(extra):
    raw = b'{"sender":"web-1","message":"' + b"a" * (MAX_BODY_BYTES + extra) + b'"}'

    assert _outcome(raw, JSON) == errors.BODY_TOO_LARGE


def test_deeply_nested_json_is_an_invalid_body():
    raw = b"[" * (MAX_BODY_BYTES - 1)

    assert _outcome(raw, JSON) == errors.INVALID_JSON


def test_a_lone_surrogate_escape_is_not_accepted_as_text():
    raw = b'{"sender": "web-1", "message": "\\ud800abc"}'

    outcome = _outcome(raw, JSON)

    assert isinstance(outcome, str) or outcome.text.encode("utf-8")
