"""The action server's metrics, served at ``GET /metrics`` (docs/operations.md).

``rasa_sdk_plugins`` times every ``POST /webhook`` (one action run) and
serves the route; the actions count what they decided: knowledge-base answers and
submissions. The intents and the hand-offs are counted by the Rasa server,
which sees every turn once (``channels.metrics``).
"""

from __future__ import annotations

import json
import zlib

from prometheus_client import Counter, Histogram

from bot import metrics

REGISTRY = metrics.new_registry()

# answered: an entry shown (a search's best hit, or the candidate picked
# from a clarification); clarified: candidates offered; no_answer: nothing
# good enough, said so; unavailable: the KB service could not be reached;
# ticket_offered: no answer, and triage read a complaint or a suggestion.
# handed_off: a second miss in a row, or an unsure complaint, went to a person.
KB_OUTCOMES = (
    "answered",
    "clarified",
    "no_answer",
    "unavailable",
    "ticket_offered",
    "handed_off",
)
# 12345 tickets (actions.ticket): what became of each ticket form.
TICKET_RESULTS = ("filed", "unavailable", "rejected", "cancelled")
# What the citizen is told after 确认提交: delivered (an application number),
# queued (kept in the outbox, sent when the platform is back), rejected (the
# platform refused it), failed (not even written to the outbox).
SUBMISSION_RESULTS = ("delivered", "queued", "rejected", "failed")
# A queued submission, sent later by the delivery loop.
OUTBOX_RESULTS = ("delivered", "rejected")
# Handoffs to a person (actions.handoff), by why and what became of them.
HANDOFF_REASONS = ("requested", "repeated_failures", "low_confidence_complaint")
HANDOFF_RESULTS = ("queued", "already_open", "unavailable")
UNKNOWN_ACTION = "unknown"

ACTIONS = Counter(
    "zw_actions_runs",
    "Actions the Rasa server asked for, by action and result (ok, rejected:"
    " a form refused the turn, error).",
    ["action", "result"],
    registry=REGISTRY,
)
ACTION_SECONDS = Histogram(
    "zw_actions_run_seconds",
    "Time one action took, from request to response, by action.",
    ["action"],
    buckets=metrics.LATENCY_BUCKETS,
    registry=REGISTRY,
)
KB_ANSWERS = Counter(
    "zw_actions_kb_answers",
    "Replies to questions for the knowledge base, by outcome.",
    ["outcome"],
    registry=REGISTRY,
)
SUBMISSIONS = Counter(
    "zw_actions_submissions",
    "Integrated applications confirmed by a citizen, by what they were told.",
    ["result"],
    registry=REGISTRY,
)
OUTBOX_DELIVERIES = Counter(
    "zw_actions_outbox_deliveries",
    "Queued applications the delivery loop settled, by result.",
    ["result"],
    registry=REGISTRY,
)


TICKETS = Counter(
    "zw_actions_tickets",
    "12345 ticket forms, by result (filed, unavailable: kept and asked again,"
    " rejected by the platform, cancelled by the citizen).",
    ["kind", "result"],
    registry=REGISTRY,
)
HANDOFFS = Counter(
    "zw_actions_handoffs",
    "Conversations put in the agent queue, by reason, and by result (queued,"
    " already_open: the conversation was queued already, unavailable: the"
    " backend could not be reached and the citizen was pointed to 12345).",
    ["reason", "result"],
    registry=REGISTRY,
)


def count_handoff(reason: str, result: str) -> None:
    HANDOFFS.labels(
        reason=metrics.bounded(reason, HANDOFF_REASONS),
        result=metrics.bounded(result, HANDOFF_RESULTS),
    ).inc()


def count_ticket(kind: str | None, result: str) -> None:
    TICKETS.labels(
        kind=metrics.bounded(kind or "", ("complaint", "suggestion")),
        result=metrics.bounded(result, TICKET_RESULTS),
    ).inc()


def count_kb_answer(outcome: str) -> None:
    KB_ANSWERS.labels(outcome=metrics.bounded(outcome, KB_OUTCOMES)).inc()


def count_submission(result: str) -> None:
    SUBMISSIONS.labels(result=metrics.bounded(result, SUBMISSION_RESULTS)).inc()


def count_outbox_delivery(result: str) -> None:
    OUTBOX_DELIVERIES.labels(result=metrics.bounded(result, OUTBOX_RESULTS)).inc()


def action_name(body: bytes, content_encoding: str | None) -> str | None:
    """``next_action`` of a webhook body, or None when it cannot be read."""
    try:
        if content_encoding == "deflate":
            body = zlib.decompress(body)
        call = json.loads(body)
    except (ValueError, zlib.error, RecursionError):
        return None
    name = call.get("next_action") if isinstance(call, dict) else None
    return name if isinstance(name, str) else None


def action_result(status: int) -> str:
    """``ok``, ``rejected`` (400: a form's ActionExecutionRejection) or ``error``."""
    if status == 200:
        return "ok"
    return "rejected" if status == 400 else "error"


def count_action(name: str | None, status: int, seconds: float) -> None:
    """Count one action run.

    The name is trusted only when rasa-sdk found the action (any status but
    404, and a readable body): the label set stays the registered actions.
    """
    label = name if name and status != 404 else UNKNOWN_ACTION
    ACTIONS.labels(action=label, result=action_result(status)).inc()
    ACTION_SECONDS.labels(action=label).observe(seconds)
