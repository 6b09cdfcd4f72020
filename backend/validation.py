"""Checking what callers send: path values, headers and the application body.

Pure functions from raw input to typed values; every failure raises a
:mod:`backend.errors` error naming the field, never echoing its value.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from backend.errors import (
    ConsentRequiredError,
    InvalidApplicationNoError,
    InvalidConsentIdError,
    InvalidIdempotencyKeyError,
    InvalidIdNumberError,
    InvalidItemIdError,
    InvalidJsonError,
    InvalidRequestError,
    MissingIdempotencyKeyError,
)
from bot.id_numbers import is_valid_id_number, normalize_id_number

ROUTES = frozenset({"normal", "commitment"})
MAX_ITEMS = 50
MAX_TEXT = 128

_SCENARIO_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_ITEM_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_APPLICATION_NO = re.compile(r"ZW[0-9]{14}")  # ASCII only: \d takes any script
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:-]{8,128}")
_BODY_FIELDS = frozenset({"scenario_id", "applicant", "answers", "items", "form"})
_APPLICANT_FIELDS = frozenset({"id_number", "name", "phone", "address"})
_ITEM_FIELDS = ("item_id", "name", "department", "route")
_CONSENT_ID = re.compile(r"[0-9a-f]{32}")
_FORM_INSTANCE = re.compile(r"[A-Za-z0-9._:-]{8,128}")
_CONSENT_FIELDS = frozenset({"id_number", "fields", "scenario_id", "form_instance"})
_STATUS_FIELDS = frozenset({"status", "reason"})
# What a consent may release; the profile answer carries only the consented ones.
PROFILE_FIELDS = ("name", "phone", "address", "licences")
# Item statuses an operator may set; ``cancelled`` comes only from a cancel.
ITEM_STATUSES = ("received", "accepted", "returned", "done")
MAX_REASON = 256


@dataclass(frozen=True)
class SubmittedItem:
    """A service item the dialogue decided applies, as the caller sent it."""

    item_id: str
    name: str
    department: str
    route: str


@dataclass(frozen=True)
class Submission:
    """A checked application body and the fingerprint of what was sent."""

    scenario_id: str
    applicant_id_number: str
    answers: dict[str, Any]
    items: tuple[SubmittedItem, ...]
    form: dict[str, Any]
    request_hash: str


def parse_id_number(raw: str) -> str:
    """The normalized 身份证号.

    Raises:
        InvalidIdNumberError: wrong shape, impossible birth date or check digit.
    """
    id_number = normalize_id_number(raw)
    if not is_valid_id_number(id_number):
        raise InvalidIdNumberError()
    return id_number


def parse_application_no(raw: str) -> str:
    """The application number, unchanged.

    Raises:
        InvalidApplicationNoError: not ``ZW`` and 14 digits.
    """
    if not _APPLICATION_NO.fullmatch(raw):
        raise InvalidApplicationNoError()
    return raw


def parse_item_id(raw: str) -> str:
    """An item id from a path, unchanged.

    Raises:
        InvalidItemIdError: not lowercase ``a-z 0-9 _ -`` up to 64 characters.
    """
    if not _ITEM_ID.fullmatch(raw):
        raise InvalidItemIdError()
    return raw


def parse_consent_id(raw: str | None) -> str:
    """The ``consent_id`` a profile read relies on.

    Raises:
        ConsentRequiredError: none was given.
        InvalidConsentIdError: not 32 lowercase hex digits.
    """
    if not raw:
        raise ConsentRequiredError()
    if not _CONSENT_ID.fullmatch(raw):
        raise InvalidConsentIdError()
    return raw


def parse_idempotency_key(raw: str | None) -> str:
    """The ``Idempotency-Key`` header value.

    Raises:
        MissingIdempotencyKeyError: the header is absent or empty.
        InvalidIdempotencyKeyError: wrong length or characters.
    """
    if not raw:
        raise MissingIdempotencyKeyError()
    if not _IDEMPOTENCY_KEY.fullmatch(raw):
        raise InvalidIdempotencyKeyError()
    return raw


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Decode a UTF-8 JSON object.

    Raises:
        InvalidJsonError: not UTF-8, not JSON, JSON but not an object, or an
            object holding text with no UTF-8 form (a lone surrogate escape).
    """
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and NaN/Infinity, which JSON does
        # not have; RecursionError a body nested thousands of levels deep.
        raise InvalidJsonError() from exc
    if not isinstance(value, dict):
        raise InvalidJsonError()
    _require_utf8_text(value)
    return value


def _require_utf8_text(value: dict[str, Any]) -> None:
    """Refuse text that :func:`fingerprint` (and the database) cannot encode.

    Valid UTF-8 bytes never decode to a surrogate, but a JSON escape such as
    ``"\\ud800"`` without its pair does. Checked here rather than made
    lenient in ``fingerprint``, whose hashes must stay equal for replays.
    """
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidJsonError() from exc


def fingerprint(body: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON form: equal for bodies equal as JSON."""
    canonical = json.dumps(
        body, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_submission(body: dict[str, Any]) -> Submission:
    """Check a ``POST /v1/applications`` body (docs/backend-api.md).

    Raises:
        InvalidRequestError: a field is missing, unknown or malformed.
        InvalidIdNumberError: ``applicant.id_number`` is not a valid 身份证号.
    """
    _reject_unknown(body, _BODY_FIELDS, "body")
    scenario_id = _text(body, "scenario_id", "body")
    if not _SCENARIO_ID.fullmatch(scenario_id):
        raise InvalidRequestError("scenario_id must be lowercase a-z 0-9 _ -")
    applicant = _object(body, "applicant")
    _reject_unknown(applicant, _APPLICANT_FIELDS, "applicant")
    for name in _APPLICANT_FIELDS - {"id_number"}:
        if name in applicant:
            _text(applicant, name, "applicant")
    return Submission(
        scenario_id=scenario_id,
        applicant_id_number=parse_id_number(_text(applicant, "id_number", "applicant")),
        answers=_object(body, "answers"),
        items=_items(body.get("items")),
        form=_object(body, "form"),
        request_hash=fingerprint(body),
    )


@dataclass(frozen=True)
class ConsentSubmission:
    """A checked ``POST /v1/consents`` body and its fingerprint."""

    id_number: str
    fields: tuple[str, ...]  # sorted, distinct, from PROFILE_FIELDS
    scenario_id: str
    form_instance: str
    request_hash: str


@dataclass(frozen=True)
class StatusChange:
    """An operator's move of one item to ``status``, with the reason if returned."""

    status: str
    reason: str | None


def parse_consent(body: dict[str, Any]) -> ConsentSubmission:
    """Check a ``POST /v1/consents`` body (docs/backend-api.md).

    Raises:
        InvalidRequestError: a field is missing, unknown or malformed.
        InvalidIdNumberError: ``id_number`` is not a valid 身份证号.
    """
    _reject_unknown(body, _CONSENT_FIELDS, "body")
    scenario_id = _text(body, "scenario_id", "body")
    if not _SCENARIO_ID.fullmatch(scenario_id):
        raise InvalidRequestError("scenario_id must be lowercase a-z 0-9 _ -")
    form_instance = _text(body, "form_instance", "body")
    if not _FORM_INSTANCE.fullmatch(form_instance):
        raise InvalidRequestError(
            "form_instance must be 8-128 characters from A-Z a-z 0-9 . _ : -"
        )
    fields = body.get("fields")
    valid = (
        isinstance(fields, list)
        and fields
        and all(isinstance(name, str) and name in PROFILE_FIELDS for name in fields)
        and len(set(fields)) == len(fields)
    )
    if not valid:
        raise InvalidRequestError(
            f"fields must be a non-empty list of distinct names from {PROFILE_FIELDS}"
        )
    return ConsentSubmission(
        id_number=parse_id_number(_text(body, "id_number", "body")),
        fields=tuple(sorted(fields)),
        scenario_id=scenario_id,
        form_instance=form_instance,
        request_hash=fingerprint(body),
    )


def parse_status_change(body: dict[str, Any]) -> StatusChange:
    """Check a ``POST .../items/{item_id}/status`` body.

    A ``returned`` item needs the reason the citizen will read (what to fix);
    any other status takes none.

    Raises:
        InvalidRequestError: unknown status, a missing or unexpected reason.
    """
    _reject_unknown(body, _STATUS_FIELDS, "body")
    status = body.get("status")
    if status not in ITEM_STATUSES:
        raise InvalidRequestError(f"status must be one of {list(ITEM_STATUSES)}")
    if status != "returned":
        if "reason" in body:
            raise InvalidRequestError("reason is only for status returned")
        return StatusChange(status, None)
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidRequestError(
            f"a returned item needs a reason of 1-{MAX_REASON} characters"
        )
    return StatusChange(status, reason.strip())


def _items(raw: Any) -> tuple[SubmittedItem, ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_ITEMS:
        raise InvalidRequestError(f"items must be a list of 1-{MAX_ITEMS} objects")
    items = tuple(_item(entry, index) for index, entry in enumerate(raw))
    if len({item.item_id for item in items}) != len(items):
        raise InvalidRequestError("items must not repeat an item_id")
    return items


def _item(entry: Any, index: int) -> SubmittedItem:
    where = f"items[{index}]"
    if not isinstance(entry, dict):
        raise InvalidRequestError(f"{where} must be an object")
    _reject_unknown(entry, frozenset(_ITEM_FIELDS), where)
    item = SubmittedItem(*(_text(entry, name, where) for name in _ITEM_FIELDS))
    if not _ITEM_ID.fullmatch(item.item_id):
        raise InvalidRequestError(f"{where}.item_id must be lowercase a-z 0-9 _ -")
    if item.route not in ROUTES:
        raise InvalidRequestError(f"{where}.route must be one of {sorted(ROUTES)}")
    return item


def _reject_unknown(value: dict[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(set(value) - known)
    if unknown:
        raise InvalidRequestError(f"{where} has unknown fields: {unknown}")


def _text(value: dict[str, Any], name: str, where: str) -> str:
    text = value.get(name)
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise InvalidRequestError(
            f"{where}.{name} must be a non-empty string of at most"
            f" {MAX_TEXT} characters"
        )
    return text


def _object(value: dict[str, Any], name: str) -> dict[str, Any]:
    member = value.get(name)
    if not isinstance(member, dict):
        raise InvalidRequestError(f"{name} must be an object")
    return member
