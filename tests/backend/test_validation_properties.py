"""Properties of the backend's request checks: a typed value or a BackendError.

Any body, header or path value gives the checked value or one of the
backend's own errors (a 4xx with a stable code), never another exception;
valid bodies come back field for field, and the fingerprint depends on the
body's content, not on its key order.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend import validation
from backend.errors import BackendError
from tests.backend.samples import WITH_LICENCES, application_body, consent_body

PROPERTY = settings(max_examples=200, deadline=None)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
BODY_KEYS = st.sampled_from(
    ["scenario_id", "applicant", "answers", "items", "form", "id_number", "fields",
     "form_instance", "status", "reason", "other"]
)  # fmt: skip
PARSERS = [
    validation.parse_submission,
    validation.parse_consent,
    validation.parse_status_change,
]


def _checked(parse, value):
    """The parser's result, or None for one of the backend's own 4xx errors."""
    try:
        return parse(value)
    except BackendError as error:
        assert 400 <= error.status < 500 and error.code != BackendError.code
        return None


@PROPERTY
@given(st.binary(max_size=2048))
def test_any_bytes_give_an_object_or_invalid_json(raw):
    body = _checked(validation.parse_json_object, raw)

    assert body is None or isinstance(body, dict)


@PROPERTY
@given(st.dictionaries(BODY_KEYS, JSON_VALUES, max_size=8))
def test_any_object_gives_a_checked_body_or_a_client_error(body):
    for parse in PARSERS:
        _checked(parse, body)


@st.composite
def mutated_bodies(draw) -> dict:
    """A valid application body with one field replaced by anything."""
    body = application_body()
    where = draw(st.sampled_from(["body", "applicant", "item"]))
    target = {
        "body": body,
        "applicant": body["applicant"],
        "item": body["items"][0],
    }[where]
    key = draw(st.sampled_from([*target, "unknown"]))
    target[key] = draw(JSON_VALUES)
    return body


@PROPERTY
@given(mutated_bodies())
def test_a_valid_body_with_one_field_changed_is_checked_or_refused(body):
    _checked(validation.parse_submission, body)


ITEM_IDS = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
ROUTES = st.sampled_from(sorted(validation.ROUTES))
SHORT_TEXT = st.text(min_size=1, max_size=validation.MAX_TEXT).filter(str.strip)


@PROPERTY
@given(
    scenario_id=ITEM_IDS,
    items=st.lists(
        st.tuples(ITEM_IDS, SHORT_TEXT, SHORT_TEXT, ROUTES),
        min_size=1,
        max_size=validation.MAX_ITEMS,
        unique_by=lambda item: item[0],
    ),
    answers=st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=4),
)  # fmt: skip
def test_valid_submissions_come_back_field_for_field(scenario_id, items, answers):
    body = application_body(
        scenario_id=scenario_id,
        answers=answers,
        items=[
            {"item_id": i, "name": n, "department": d, "route": r}
            for i, n, d, r in items
        ],
    )

    submission = validation.parse_submission(body)

    assert submission.scenario_id == scenario_id
    assert submission.answers == answers
    assert [tuple(vars(item).values()) for item in submission.items] == items
    assert submission.applicant_id_number == WITH_LICENCES.id_number


@PROPERTY
@given(st.permutations(list(consent_body())), st.permutations(["name", "phone"]))
def test_the_fingerprint_ignores_key_order(keys, fields):
    body = consent_body(fields=fields)
    reordered = {key: body[key] for key in keys}

    assert validation.fingerprint(reordered) == validation.fingerprint(body)
    assert validation.parse_consent(reordered).fields == ("name", "phone")


@PROPERTY
@given(st.text(max_size=140))
def test_any_path_or_header_value_is_checked_or_refused(raw):
    for parse in (
        validation.parse_application_no,
        validation.parse_item_id,
        validation.parse_consent_id,
        validation.parse_idempotency_key,
        validation.parse_id_number,
    ):
        _checked(parse, raw)


@pytest.mark.parametrize("digits", ["０１２３４５６７８９", "٠١٢٣٤٥٦٧٨٩"])
def test_non_ascii_digits_are_never_a_valid_id_number(digits):
    number = "".join(digits[int(ch)] for ch in WITH_LICENCES.id_number[:17])

    assert _checked(validation.parse_id_number, number + digits[0]) is None


def test_a_lone_surrogate_in_a_body_is_a_client_error():
    raw = json.dumps(application_body(answers={"note": "\ud800"})).encode()

    assert _checked(validation.parse_json_object, raw) is None


def test_full_width_digits_are_not_an_application_number():
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in "20261203062645")

    assert _checked(validation.parse_application_no, f"ZW{full_width}") is None
