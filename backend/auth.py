"""Bearer-token authentication of the callers of ``/v1/*``, and what each may call.

Each token has a caller name, which the audit log records instead of the
token. Tokens are compared in constant time. The action server's token opens
the citizen-facing routes; the operator's token opens only the operator's
routes; each agent's token (``ZW_AGENT_TOKENS``) opens only the handoff
queue's agent routes, some of which the action server shares.
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
# Each agent has a token of their own; the audit log says which agent.
AGENT_PREFIX = "agent:"
# Every (method, route template) an agent may call (the handoff queue).
AGENT_ROUTES = frozenset(
    {
        ("GET", "/v1/handoffs"),
        ("GET", "/v1/handoffs/{handoff_no}"),
        ("POST", "/v1/handoffs/{handoff_no}/claim"),
        ("GET", "/v1/handoffs/{handoff_no}/messages"),
        ("POST", "/v1/handoffs/{handoff_no}/messages"),
        ("POST", "/v1/handoffs/{handoff_no}/close"),
        # Hotline assist: the Rasa server's assist channel passes the
        # agent's own token on (backend.assist).
        ("POST", "/v1/assist/events"),
    }
)
# The agent routes the action server may call too: reading a handoff, its
# messages both ways (the citizen's side), and closing it for the citizen.
SHARED_ROUTES = frozenset(
    {
        ("GET", "/v1/handoffs/{handoff_no}"),
        ("GET", "/v1/handoffs/{handoff_no}/messages"),
        ("POST", "/v1/handoffs/{handoff_no}/messages"),
        ("POST", "/v1/handoffs/{handoff_no}/close"),
    }
)
_SCHEME = "bearer"


def agent_caller(name: str) -> str:
    """The caller name of agent ``name``, as the audit log records it."""
    return AGENT_PREFIX + name


def agent_name(caller: str) -> str | None:
    """The agent's name if ``caller`` is an agent, else None."""
    if caller.startswith(AGENT_PREFIX):
        return caller.removeprefix(AGENT_PREFIX)
    return None


@dataclass(frozen=True)
class TokenTable:
    """Known tokens and the caller name each one stands for."""

    callers: dict[str, str] = field(repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenTable:
        """``ZW_BACKEND_TOKEN``, ``ZW_OPERATOR_TOKEN`` and ``ZW_AGENT_TOKENS``.

        Development defaults are refused in production mode by the start-up
        check (``bot.settings.check_secrets``), not here.

        Raises:
            ValueError: a token is empty, or two callers share one.
        """
        tokens = [
            ("ZW_BACKEND_TOKEN", settings.backend_token, ACTION_SERVER),
            ("ZW_OPERATOR_TOKEN", settings.operator_token, OPERATOR),
        ]
        tokens += [
            (f"ZW_AGENT_TOKENS (agent {name})", token, agent_caller(name))
            for name, token in settings.agent_tokens
        ]
        callers: dict[str, str] = {}
        owners: dict[str, str] = {}
        for setting, token, caller in tokens:
            if not token:
                raise ValueError(f"{setting} must not be empty")
            if token in callers:
                raise ValueError(f"{setting} must differ from {owners[token]}")
            callers[token], owners[token] = caller, setting
        return cls(callers=callers)

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

    Three kinds of caller, each with its own table: an operator calls only
    :data:`OPERATOR_ROUTES`; an agent only :data:`AGENT_ROUTES`; the action
    server every other route, plus the agent routes in :data:`SHARED_ROUTES`.

    Raises:
        ForbiddenError: the caller's table does not hold this call.
    """
    call = (method, route)
    if caller == OPERATOR:
        allowed = call in OPERATOR_ROUTES
    elif agent_name(caller) is not None:
        allowed = call in AGENT_ROUTES
    else:
        allowed = call not in OPERATOR_ROUTES and (
            call not in AGENT_ROUTES or call in SHARED_ROUTES
        )
    if not allowed:
        raise ForbiddenError()
