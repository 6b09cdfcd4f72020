"""Bearer-token authentication of the callers of ``/v1/*``.

Each token has a caller name, which the audit log records instead of the
token. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from backend.errors import UnauthorizedError
from bot.settings import Settings

ACTION_SERVER = "action_server"
_SCHEME = "bearer"


@dataclass(frozen=True)
class TokenTable:
    """Known tokens and the caller name each one stands for."""

    callers: dict[str, str] = field(repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenTable:
        """One caller, the action server, with ``ZW_BACKEND_TOKEN``.

        Raises:
            ValueError: the token is empty.
        """
        # SECURITY: the embedded development token is still accepted here;
        # refusing it in production mode is TODO(#8).
        if not settings.backend_token:
            raise ValueError("ZW_BACKEND_TOKEN must not be empty")
        return cls(callers={settings.backend_token: ACTION_SERVER})

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
