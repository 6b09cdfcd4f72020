"""Recording review records (the review loop) without holding up the citizen.

An action hands a record to :func:`record_in_background` and replies at once;
the record goes to the backend in a task of its own, and a failure there is
a warning in the log, never an error in the conversation.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from typing import Any

from rasa_sdk import Tracker

from actions.backend_client import BackendClientError, ReviewRecordRequest
from actions.kb_client import KbHit
from bot.privacy import redact

logger = logging.getLogger(__name__)

NO_ANSWER = "no_answer"
CLARIFY_REJECTED = "clarify_rejected"
THUMBS_DOWN = "thumbs_down"
AGENT_WRONG = "agent_wrong"

# Longest a record may wait for the backend; the reply has long gone by then.
RECORD_TIMEOUT_S = 5.0
MAX_QUESTION = 1000
UNKNOWN_CHANNEL = "unknown"
_CHANNEL = re.compile(r"[a-z][a-z0-9_]{0,31}")

# Running record tasks, kept so they are not collected before they finish.
_pending: set[asyncio.Task[None]] = set()


def review_request(
    kind: str,
    question: str,
    matches: Iterable[tuple[str, float | None]],
    channel: str | None,
    user_hash: str,
) -> ReviewRecordRequest:
    """The record to send: question masked and cut, channel name checked."""
    name = (channel or "").lower()
    return ReviewRecordRequest(
        kind=kind,
        question=redact(question.strip())[:MAX_QUESTION],
        matches=tuple(matches)[:10],
        channel=name if _CHANNEL.fullmatch(name) else UNKNOWN_CHANNEL,
        user_hash=user_hash,
    )


def hit_matches(hits: Iterable[KbHit]) -> list[tuple[str, float | None]]:
    """``(doc_id, score)`` for each hit, best first."""
    return [(hit.doc_id, hit.score) for hit in hits]


def record_from_tracker(
    services: Any,
    tracker: Tracker,
    kind: str,
    question: str,
    matches: Iterable[tuple[str, float | None]],
) -> None:
    """Record ``kind`` for this conversation's sender and channel, in the background."""
    request = review_request(
        kind,
        question,
        matches,
        tracker.get_latest_input_channel(),
        services.sender_hash(tracker.sender_id),
    )
    record_in_background(services.backend, request)


def record_in_background(backend: Any, request: ReviewRecordRequest) -> None:
    """Send ``request`` in a task of its own; never raises, never waits.

    Outside a running event loop (a script) the record is dropped with a
    warning.
    """
    if not request.question:
        return
    try:
        task = asyncio.get_running_loop().create_task(_send(backend, request))
    except RuntimeError:
        logger.warning("actions.review.record.no_loop", extra={"kind": request.kind})
        return
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def drain(timeout_s: float = RECORD_TIMEOUT_S) -> None:
    """Wait for the records under way (server stop, tests)."""
    loop = asyncio.get_running_loop()
    # Tasks of a loop that has since closed will never finish: forget them.
    for task in [task for task in _pending if task.get_loop().is_closed()]:
        _pending.discard(task)
    here = {task for task in _pending if task.get_loop() is loop}
    if here:
        await asyncio.wait(here, timeout=timeout_s)


async def _send(backend: Any, request: ReviewRecordRequest) -> None:
    try:
        async with asyncio.timeout(RECORD_TIMEOUT_S):
            await backend.record_review(request)
    except (BackendClientError, TimeoutError) as exc:
        logger.warning(
            "actions.review.record.failed",
            extra={"kind": request.kind, "code": getattr(exc, "code", "timeout")},
        )
        return
    except Exception as exc:  # a record must never take the action server down
        logger.warning(
            "actions.review.record.failed",
            extra={"kind": request.kind, "exc_type": type(exc).__name__},
        )
        return
    logger.info(
        "actions.review.recorded",
        extra={"kind": request.kind, "channel": request.channel},
    )
