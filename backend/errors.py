"""Errors the backend returns, each with a stable ``code`` and its HTTP status.

The codes are part of the API (docs/backend-api.md): the action server
branches on them, so never rename one. This module is the one place that maps
an error to an HTTP status. Messages are English and meant for developers; they
never carry personal data, and citizens never see them.
"""

from __future__ import annotations


class BackendError(Exception):
    """Base class: a request the backend could not serve, with code and status."""

    code = "internal_error"
    status = 500
    default_message = "the backend failed to handle the request"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(f"{self.code}: {self.message}")


class InvalidJsonError(BackendError):
    """The body is not a JSON object."""

    code = "invalid_json"
    status = 400
    default_message = "the body must be a JSON object"


class InvalidRequestError(BackendError):
    """The JSON is well formed but a field is missing, unknown or malformed."""

    code = "invalid_request"
    status = 400
    default_message = "the request is malformed"


class InvalidIdNumberError(BackendError):
    """Not an 18-character 身份证号 with a valid GB 11643-1999 check digit."""

    code = "invalid_id_number"
    status = 400
    default_message = (
        "id_number must be 17 digits and a check character (0-9 or X)"
        " with a valid birth date and check digit (GB 11643-1999)"
    )


class InvalidApplicationNoError(BackendError):
    """An application number that cannot exist (``ZW`` and 14 digits)."""

    code = "invalid_application_no"
    status = 400
    default_message = "application_no must be ZW followed by 14 digits"


class MissingIdempotencyKeyError(BackendError):
    """A submission without the ``Idempotency-Key`` header."""

    code = "missing_idempotency_key"
    status = 400
    default_message = "this call needs an Idempotency-Key header"


class InvalidIdempotencyKeyError(BackendError):
    """An ``Idempotency-Key`` outside the allowed length or characters."""

    code = "invalid_idempotency_key"
    status = 400
    default_message = (
        "Idempotency-Key must be 8-128 characters from A-Z a-z 0-9 . _ : -"
    )


class InvalidConsentIdError(BackendError):
    """A ``consent_id`` that cannot exist (32 lowercase hex digits)."""

    code = "invalid_consent_id"
    status = 400
    default_message = "consent_id must be 32 lowercase hexadecimal digits"


class InvalidItemIdError(BackendError):
    """An item id in a path that cannot exist."""

    code = "invalid_item_id"
    status = 400
    default_message = "item_id must be lowercase a-z 0-9 _ -, up to 64 characters"


class UnauthorizedError(BackendError):
    """No bearer token, or one the backend does not know."""

    code = "unauthorized"
    status = 401
    default_message = "a valid bearer token is required"


class ForbiddenError(BackendError):
    """A known caller on a route its token does not open (backend.auth)."""

    code = "forbidden"
    status = 403
    default_message = "this token may not call this route"


class ConsentRequiredError(BackendError):
    """A profile read that names no consent: profiles are released only with one."""

    code = "consent_required"
    status = 403
    default_message = (
        "a profile is released only with the citizen's consent:"
        " record one with POST /v1/consents and pass its consent_id"
    )


class ConsentInvalidError(BackendError):
    """No consent with this id covers this citizen (or it was never recorded)."""

    code = "consent_invalid"
    status = 403
    default_message = "no recorded consent with this consent_id covers this id_number"


class ConsentExpiredError(BackendError):
    """The consent is older than the platform accepts for a pre-fill."""

    code = "consent_expired"
    status = 403
    default_message = "the consent has expired; ask the citizen again"


class ProfileNotFoundError(BackendError):
    """No citizen with this 身份证号."""

    code = "profile_not_found"
    status = 404
    default_message = "no profile for this id_number"


class ApplicationNotFoundError(BackendError):
    """No application with this number."""

    code = "application_not_found"
    status = 404
    default_message = "no application with this application_no"


class InvalidTicketNoError(BackendError):
    """A ticket number that cannot exist (not GD and 14 digits)."""

    code = "invalid_ticket_no"
    status = 400
    default_message = "ticket_no must be GD followed by 14 digits"


class TicketNotFoundError(BackendError):
    """No ticket has this number."""

    code = "ticket_not_found"
    status = 404
    default_message = "no ticket with this number"


class InvalidHandoffNoError(BackendError):
    """A handoff number that cannot exist (not RG and 14 digits)."""

    code = "invalid_handoff_no"
    status = 400
    default_message = "handoff_no must be RG followed by 14 digits"


class HandoffNotFoundError(BackendError):
    """No handoff has this number (or the conversation has no open one)."""

    code = "handoff_not_found"
    status = 404
    default_message = "no such handoff"


class HandoffClosedError(BackendError):
    """The handoff is closed: no claim and no message any more."""

    code = "handoff_closed"
    status = 409
    default_message = "the handoff is closed"


class HandoffTakenError(BackendError):
    """Another agent has already claimed the handoff."""

    code = "handoff_taken"
    status = 409
    default_message = "another agent has claimed this handoff"


class HandoffNotYoursError(BackendError):
    """An agent writes to (or closes) a handoff they have not claimed."""

    code = "handoff_not_yours"
    status = 409
    default_message = "claim the handoff before writing to it or closing it"


class ItemNotFoundError(BackendError):
    """The application has no item with this id."""

    code = "item_not_found"
    status = 404
    default_message = "the application has no item with this item_id"


class RouteNotFoundError(BackendError):
    """No route at this path."""

    code = "not_found"
    status = 404
    default_message = "no such resource"


class MethodNotAllowedError(BackendError):
    """The path exists but not with this method."""

    code = "method_not_allowed"
    status = 405
    default_message = "method not allowed on this resource"


class IdempotencyConflictError(BackendError):
    """The idempotency key was already used with a different body."""

    code = "idempotency_conflict"
    status = 409
    default_message = "this Idempotency-Key was already used with a different body"


class InvalidTransitionError(BackendError):
    """An item cannot move from its status to the one asked for."""

    code = "invalid_transition"
    status = 409
    default_message = "the item cannot move to this status from its current one"


class CancelNotAllowedError(BackendError):
    """An item of the application is already accepted (or done)."""

    code = "cancel_not_allowed"
    status = 409
    default_message = (
        "the application can no longer be cancelled: an item is already accepted"
    )


class BodyTooLargeError(BackendError):
    """The body is larger than the backend accepts."""

    code = "body_too_large"
    status = 413
    default_message = "the body is too large"


class DatabaseUnavailableError(BackendError):
    """The database cannot be reached or is busy; the client may retry."""

    code = "database_unavailable"
    status = 503
    default_message = "the database is unavailable, retry later"


# aiohttp raises its own HTTP exceptions before a handler runs (no route, wrong
# method, body over client_max_size); they become our errors here.
_BY_HTTP_STATUS: dict[int, type[BackendError]] = {
    400: InvalidRequestError,
    404: RouteNotFoundError,
    405: MethodNotAllowedError,
    413: BodyTooLargeError,
}


def from_http_status(status: int) -> BackendError:
    """The backend error for an HTTP status aiohttp raised itself.

    Returns:
        The matching error, or a generic ``internal_error`` for a status the
        backend never produces on purpose.
    """
    error_class = _BY_HTTP_STATUS.get(status, BackendError)
    return error_class()
