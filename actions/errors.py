"""Errors the actions raise and turn into named Chinese responses, each with a code.

The backend client's errors (``BackendUnavailable`` …) live in
``actions.backend_client``; one place per action maps an error to a response.
"""

from __future__ import annotations


class ActionError(Exception):
    """Base class for errors raised inside the action server."""

    code = "action_error"


class KnowledgeBaseUnavailable(ActionError):
    """The knowledge-base service could not be reached or answered badly.

    The reply is ``utter_service_unavailable``; ``reason`` is for the log.
    """

    code = "kb_unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownScenario(ActionError):
    """A scenario id with no package in ``knowledge_base/data/scenarios``."""

    code = "scenario_unknown"
