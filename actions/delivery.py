"""Delivering outbox rows to the platform: now, on a status check, in the background.

:func:`deliver` sends one row and records the outcome. The action server
also runs :class:`DeliveryLoop`, which sends every due row every few seconds,
so an application queued while the platform was down reaches it soon after
it is back, whether or not the citizen writes again. Two deliveries of one
row (the loop and a repeated 确认提交 at once) are harmless: they carry the
same idempotency key, and the platform returns the same application.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from actions import metrics
from actions.backend_client import BackendRejected, BackendUnavailable
from actions.outbox import DELIVERED, PENDING, REJECTED, Outbox, OutboxEntry

logger = logging.getLogger(__name__)

DELIVERY_INTERVAL_S = 5.0


@dataclass(frozen=True)
class Delivery:
    """What became of one row: ``delivered``, still ``pending``, or ``rejected``."""

    status: str
    application_no: str | None = None
    item_count: int = 0
    code: str | None = None  # why it is pending or rejected


async def deliver(outbox: Outbox, backend: Any, entry: OutboxEntry) -> Delivery:
    """Send one row (unless already settled) and record the outcome on disk."""
    if entry.status == DELIVERED:
        return Delivery(DELIVERED, entry.application_no, len(entry.request.items))
    if entry.status == REJECTED:
        return Delivery(REJECTED, code=entry.last_error)

    key = entry.idempotency_key
    try:
        receipt = await backend.submit_application(entry.request, key)
    except BackendUnavailable as exc:
        await asyncio.to_thread(outbox.mark_failed, key, exc.code)
        logger.warning(
            "actions.delivery.queued",
            extra={"code": exc.code, "attempts": entry.attempts + 1},
        )
        return Delivery(PENDING, code=exc.code)
    except BackendRejected as exc:
        await asyncio.to_thread(outbox.mark_rejected, key, exc.code)
        logger.error("actions.delivery.rejected", extra={"code": exc.code})
        _count_settled(entry, REJECTED)
        return Delivery(REJECTED, code=exc.code)

    await asyncio.to_thread(outbox.mark_delivered, key, receipt.application_no)
    _count_settled(entry, DELIVERED)
    logger.info(
        "actions.delivery.done",
        extra={
            "scenario": entry.scenario_id,
            "items": len(receipt.items),
            "replayed": receipt.replayed,
            "attempts": entry.attempts + 1,
        },
    )
    return Delivery(DELIVERED, receipt.application_no, len(receipt.items))


def _count_settled(entry: OutboxEntry, status: str) -> None:
    # Only a row that was queued before: a first try is a submission
    # (counted by the submit action), a later one an outbox delivery.
    if entry.attempts > 0:
        metrics.count_outbox_delivery(status)


async def deliver_due(outbox: Outbox, backend: Any) -> int:
    """Send every due row once; returns how many were delivered."""
    delivered = 0
    for entry in await asyncio.to_thread(outbox.due):
        delivered += (await deliver(outbox, backend, entry)).status == DELIVERED
    return delivered


class DeliveryLoop:
    """Sends due rows every ``interval_s`` seconds until stopped."""

    def __init__(
        self, outbox: Outbox, backend: Any, interval_s: float = DELIVERY_INTERVAL_S
    ) -> None:
        self._outbox = outbox
        self._backend = backend
        self._interval_s = interval_s
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start on the running event loop (a no-op when already running)."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run())
            logger.info("actions.delivery.loop_started")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await deliver_due(self._outbox, self._backend)
            except Exception:
                # A broken outbox file must not end the loop silently; the
                # next round tries again, and each failure is logged.
                logger.exception("actions.delivery.round_failed")
            await asyncio.sleep(self._interval_s)
