"""Hotline agent assist (issue #7): each agent's use of the suggestions, audited.

The Rasa server's assist channel (channels/assist.py) computes the
suggestions; before it does, it calls ``POST /v1/assist/events`` with the
agent's own token. The backend checks the token (backend.auth), writes the
audit row and says whether this agent may see personal data unmasked
(``ZW_ASSIST_UNMASKED_AGENTS``). So every call is audited in one place, and
the channel holds no agent tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from backend.auth import agent_name
from backend.errors import InvalidRequestError
from backend.repository import Caller, audit

EVENTS = frozenset({"suggest", "feedback"})
MAX_TURNS = 200
WHY_ASSIST = "hotline_assist"
WHY_ASSIST_UNMASKED = "hotline_assist_unmasked"
_CALL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FIELDS = frozenset({"event", "call_id", "turns", "unmasked"})


@dataclass(frozen=True)
class AssistEvent:
    """One agent's request to the assist channel, as the audit log keeps it."""

    event: str
    call_id: str | None
    turns: int
    unmasked: bool


@dataclass(frozen=True)
class AssistGrant:
    """Who asked, and whether they may see personal data unmasked."""

    agent: str
    unmasked: bool

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "unmasked": self.unmasked}


def parse_event(body: dict[str, Any]) -> AssistEvent:
    """Check a ``POST /v1/assist/events`` body.

    Raises:
        InvalidRequestError: unknown fields, an unknown event, a malformed
            call id, a turn count outside 0-200 or a non-boolean ``unmasked``.
    """
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise InvalidRequestError(f"body has unknown fields: {unknown}")
    event = body.get("event")
    if event not in EVENTS:
        raise InvalidRequestError(f"event must be one of {sorted(EVENTS)}")
    call_id = body.get("call_id")
    if call_id is not None and (
        not isinstance(call_id, str) or not _CALL_ID.fullmatch(call_id)
    ):
        raise InvalidRequestError("call_id must be 1-64 characters of A-Z a-z 0-9 _ -")
    turns = body.get("turns", 0)
    if (
        isinstance(turns, bool)
        or not isinstance(turns, int)
        or not 0 <= turns <= MAX_TURNS
    ):
        raise InvalidRequestError(f"turns must be a whole number from 0 to {MAX_TURNS}")
    unmasked = body.get("unmasked", False)
    if not isinstance(unmasked, bool):
        raise InvalidRequestError("unmasked must be true or false")
    return AssistEvent(event, call_id, turns, unmasked)


def record_event(
    session: Session,
    event: AssistEvent,
    caller: Caller,
    unmasked_agents: frozenset[str],
) -> AssistGrant:
    """Audit one assist request; unmasked data only for the agents listed."""
    agent = agent_name(caller.name) or caller.name
    unmasked = event.unmasked and agent in unmasked_agents
    audit(
        session,
        caller,
        f"assist.{event.event}",
        event.call_id or "-",
        reason=WHY_ASSIST_UNMASKED if unmasked else WHY_ASSIST,
    )
    session.commit()
    return AssistGrant(agent, unmasked)
