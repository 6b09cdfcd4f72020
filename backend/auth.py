"""Bearer-token authentication of the callers of ``/v1/*``, and what each may call.

Each token has a caller name, which the audit log records instead of the
token. Tokens are compared in constant time. The action server's token opens
the citizen-facing routes; the operator's token opens only the item-status
route, and the action server's does not.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from backend.errors import ForbiddenError, UnauthorizedError
from bot.settings import Settings

ACTION_SERVER = "action_server"
# One shared operator token: the audit log says "operator", not who.
# TODO(#8): a token (or login) per operator, and rotation without a restart.
OPERATOR = "operator"
# (method, route template) pairs only an operator may call; every other /v1
# call is the action server's alone (it records review records, the operator
# reads them).
OPERATOR_ROUTES = frozenset(
    {
        ("POST", "/v1/applications/{application_no}/items/{item_id}/status"),
        ("GET", "/v1/review-records"),
    }
)
_SCHEME = "bearer"


@dataclass(frozen=True)
class TokenTable:
    """Known tokens and the caller name each one stands for."""

    callers: dict[str, str] = field(repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenTable:
        """The action server's ``ZW_BACKEND_TOKEN`` and the ``ZW_OPERATOR_TOKEN``.

        Development defaults are refused in production mode by the start-up
        check (``bot.settings.check_secrets``), not here.

        Raises:
            ValueError: a token is empty, or both are the same.
        """
        tokens = {
            "ZW_BACKEND_TOKEN": settings.backend_token,
            "ZW_OPERATOR_TOKEN": settings.operator_token,
        }
        for name, token in tokens.items():
            if not token:
                raise ValueError(f"{name} must not be empty")
        if settings.backend_token == settings.operator_token:
            raise ValueError("ZW_OPERATOR_TOKEN must differ from ZW_BACKEND_TOKEN")
        return cls(
            callers={
                settings.backend_token: ACTION_SERVER,
                settings.operator_token: OPERATOR,
            }
        )

    def caller_for(self, authorization: str | None) -> str:
        """The caller name for an ``Authorization`` header value.

        Raises:
            UnauthorizedError: no header, another scheme, or an unknown token.
        """
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != _SCHEME or not token:
            raise UnauthorizedError()
        presented = token.strip().encode("utf-8")
        found = None
        # Compare with every token so timing does not depend on which matched.
        for known, name in self.callers.items():
            if hmac.compare_digest(presented, known.encode("utf-8")):
                found = name
        if found is None:
            raise UnauthorizedError()
        return found


def check_route(caller: str, method: str, route: str) -> None:
    """Let ``caller`` through to ``method`` on ``route`` (a template) or refuse it.

    Raises:
        ForbiddenError: an operator outside :data:`OPERATOR_ROUTES`, or any
            other caller on one of them.
    """
    if (caller == OPERATOR) != ((method, route) in OPERATOR_ROUTES):
        raise ForbiddenError()
