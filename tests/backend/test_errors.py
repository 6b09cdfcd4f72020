from __future__ import annotations

import inspect

import pytest

from backend import errors
from backend.errors import BackendError, from_http_status

ERROR_CLASSES = [
    member
    for _, member in inspect.getmembers(errors, inspect.isclass)
    if issubclass(member, BackendError)
]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "invalid_request"),
        (404, "not_found"),
        (405, "method_not_allowed"),
        (413, "body_too_large"),
        (418, "internal_error"),
    ],
)
def test_aiohttp_statuses_become_backend_errors(status, code):
    error = from_http_status(status)

    assert error.code == code
    assert error.status == (500 if code == "internal_error" else status)


def test_every_code_is_unique_and_every_status_an_error_status():
    codes = [error_class.code for error_class in ERROR_CLASSES]
    assert len(codes) == len(set(codes))
    assert all(400 <= error_class.status < 600 for error_class in ERROR_CLASSES)


def test_a_message_replaces_the_default_and_keeps_the_code():
    error = errors.InvalidRequestError("items must be a list")

    assert error.message == "items must be a list"
    assert str(error) == "invalid_request: items must be a list"
