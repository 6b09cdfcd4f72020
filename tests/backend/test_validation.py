from __future__ import annotations

import re

import pytest

from backend.errors import (
    InvalidApplicationNoError,
    InvalidIdempotencyKeyError,
    InvalidIdNumberError,
    InvalidJsonError,
    InvalidRequestError,
    MissingIdempotencyKeyError,
)
from backend.validation import (
    fingerprint,
    parse_application_no,
    parse_id_number,
    parse_idempotency_key,
    parse_json_object,
    parse_submission,
)
from tests.backend.samples import WITH_LICENCES, application_body


def test_parse_id_number_accepts_a_lowercase_x_and_blanks():
    assert parse_id_number(" 11010519491231002x ") == "11010519491231002X"


def test_parse_id_number_rejects_a_bad_check_digit():
    with pytest.raises(InvalidIdNumberError):
        parse_id_number("110105194912310021")


@pytest.mark.parametrize(
    "raw", ["ZW2026120300012", "zw20261203000123", "ZW2026120300012A"]
)
def test_parse_application_no_rejects_other_shapes(raw):
    with pytest.raises(InvalidApplicationNoError):
        parse_application_no(raw)


def test_parse_application_no_keeps_a_well_formed_number():
    assert parse_application_no("ZW20261203000123") == "ZW20261203000123"


@pytest.mark.parametrize("raw", [None, ""])
def test_parse_idempotency_key_requires_the_header(raw):
    with pytest.raises(MissingIdempotencyKeyError):
        parse_idempotency_key(raw)


@pytest.mark.parametrize(
    "raw", ["short", "k" * 129, "has space-in-it", "键键键键键键键键"]
)
def test_parse_idempotency_key_rejects_bad_keys(raw):
    with pytest.raises(InvalidIdempotencyKeyError):
        parse_idempotency_key(raw)


@pytest.mark.parametrize(
    "body",
    [
        b"{bad",
        b"\xff\xfe",
        b"[1, 2]",
        b'"text"',
        b"",
        b'{"answers": {"area": NaN}}',
        b'{"answers": {"area": -Infinity}}',
        b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        # Lone surrogate escapes: text with no UTF-8 form, in a value or a key.
        b'{"answers": {"note": "\\ud800"}}',
        b'{"answers": ["ok", "\\udfff"]}',
        b'{"\\udc00": 1}',
    ],
    ids=repr,
)
def test_parse_json_object_rejects_anything_but_a_utf8_json_object(body):
    with pytest.raises(InvalidJsonError):
        parse_json_object(body)


def test_parse_json_object_reads_chinese():
    assert parse_json_object('{"名称": "面馆"}'.encode()) == {"名称": "面馆"}


def test_parse_json_object_keeps_a_paired_surrogate_escape():
    assert parse_json_object(b'{"note": "\\ud83d\\ude00"}') == {"note": "\U0001f600"}


@pytest.mark.parametrize("digits", ["０１２３４５６７８９", "٠١٢٣٤٥٦٧٨٩"])
def test_parse_id_number_refuses_digits_of_other_scripts(digits):
    number = "".join(digits[int(ch)] for ch in WITH_LICENCES.id_number)

    with pytest.raises(InvalidIdNumberError):
        parse_id_number(number)


def test_parse_application_no_refuses_full_width_digits():
    with pytest.raises(InvalidApplicationNoError):
        parse_application_no("ZW２０２６１２０３０００１２３")


def test_fingerprint_ignores_key_order_and_sees_values():
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_parse_submission_returns_typed_items_and_the_normalized_applicant():
    body = application_body(applicant={"id_number": WITH_LICENCES.id_number.lower()})
    submission = parse_submission(body)
    assert submission.applicant_id_number == WITH_LICENCES.id_number
    assert [item.route for item in submission.items] == ["normal", "commitment"]
    assert submission.request_hash == fingerprint(body)


def _without(field: str) -> dict:
    body = application_body()
    del body[field]
    return body


def _item(**changes) -> list[dict]:
    item = application_body()["items"][0]
    item.update(changes)
    return [item]


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (_without("items"), "items"),
        (_without("applicant"), "applicant"),
        (_without("answers"), "answers"),
        (application_body(extra=1), "unknown fields"),
        (application_body(scenario_id="Restaurant!"), "scenario_id"),
        (application_body(scenario_id=""), "scenario_id"),
        (application_body(applicant={"name": "李春梅"}), "id_number"),
        (application_body(applicant={"id_number": "x", "email": "a"}), "unknown"),
        (application_body(items=[]), "items"),
        (application_body(items=["food"]), "items[0]"),
        (application_body(items=_item(route="express")), "route"),
        (application_body(items=_item(item_id="食品")), "item_id"),
        (application_body(items=_item(name="")), "name"),
        (application_body(items=_item(name="长" * 129)), "name"),
        (application_body(items=_item() + _item()), "repeat"),
        (application_body(form=[1]), "form"),
    ],
)
def test_parse_submission_names_the_bad_field(body, mentions):
    with pytest.raises(InvalidRequestError, match=re.escape(mentions)):
        parse_submission(body)


def test_parse_submission_checks_the_applicant_id_number():
    body = application_body(applicant={"id_number": "110105194912310021"})
    with pytest.raises(InvalidIdNumberError):
        parse_submission(body)
