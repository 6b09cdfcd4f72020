"""When and how a WeChat answer reaches the citizen, exactly once.

WeChat waits about 5 s for a passive reply and delivers the same message up
to three times. Each message runs one turn, whichever delivery starts it;
every delivery waits on that one turn. The answer is claimed once: by a
passive reply in time, else by the customer-service API, else it waits in
the user's outbox for their next message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.privacy import hash_user
from channels.wechat_protocol import (
    CHANNEL_TEXTS,
    InboundMessage,
    ShapedReply,
    choose,
    fixed_reply,
    join_parts,
    user_text,
)

logger = logging.getLogger(__name__)

RunTurn = Callable[[str, str], Awaitable[ShapedReply]]
SendText = Callable[[str, str], Awaitable[None]]

PASSIVE, API, OUTBOX = "passive", "api", "outbox"


@dataclass(frozen=True)
class Timing:
    """WeChat's clock, scaled down in tests.

    Args:
        passive_wait: how long a delivery waits for the answer before giving
            up on a passive reply (a margin under WeChat's 5 s).
        wechat_timeout: when WeChat stops listening and re-sends.
        max_deliveries: how many times WeChat sends one message.
        keep_seconds: how long a message is remembered after its turn, so a
            late re-delivery is still recognised.
        hang_up_margin: how long past ``wechat_timeout`` a silent delivery
            is held, so WeChat has surely given up on it.
    """

    passive_wait: float = 4.5
    wechat_timeout: float = 5.0
    hang_up_margin: float = 0.5
    max_deliveries: int = 3
    keep_seconds: float = 120.0
    max_remembered: int = 20_000


@dataclass
class PendingTurn:
    """One message's single turn and who has claimed its answer."""

    task: asyncio.Task
    deliveries: int = 0
    claimed_by: str = ""
    handed_off: str = ""
    finished_at: float | None = None


@dataclass
class DeliveryDesk:
    """Deduplicates deliveries and hands each answer out once."""

    run_turn: RunTurn
    send_text: SendText | None = None
    timing: Timing = field(default_factory=Timing)
    user_hash_key: str = ""
    turns: OrderedDict[tuple[str, str], PendingTurn] = field(
        default_factory=OrderedDict
    )
    outbox: dict[str, list[str]] = field(default_factory=dict)
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _background: set[asyncio.Task] = field(default_factory=set)

    async def deliver(self, message: InboundMessage, arrived: float) -> str | None:
        """The passive reply to one delivery, or None to answer ``success``.

        Args:
            message: the checked message.
            arrived: ``time.monotonic()`` when the delivery arrived.
        """
        self._forget_old()
        fixed = fixed_reply(message)
        if fixed is not None:
            return self._with_outbox(message.user, (fixed,))
        text = user_text(message)
        if text is None:
            return None

        turn = self._turn_for(message, text)
        if turn.claimed_by or turn.handed_off:
            return None
        remaining = arrived + self.timing.passive_wait - time.monotonic()
        done, _ = await asyncio.wait({turn.task}, timeout=max(remaining, 0))
        if done:
            return self._claim_passive(message.user, turn)
        return await self._late(message, turn, arrived)

    def _turn_for(self, message: InboundMessage, text: str) -> PendingTurn:
        key = message.dedup_key
        user = self._log_user(message.user)
        turn = self.turns.get(key)
        if turn is None:
            text = choose(text, self.choices.get(message.user, ()))
            task = asyncio.create_task(self.run_turn(message.user, text))
            turn = self.turns[key] = PendingTurn(task=task)
            task.add_done_callback(lambda _: self._finished(message.user, turn))
            logger.debug("channels.wechat.turn.started", extra={"user": user})
        else:
            logger.info(
                "channels.wechat.delivery.duplicate",
                extra={"user": user, "delivery": turn.deliveries + 1},
            )
        turn.deliveries += 1
        return turn

    def _claim_passive(self, user: str, turn: PendingTurn) -> str | None:
        if turn.claimed_by:
            return None
        turn.claimed_by = PASSIVE
        shaped = self._result(turn)
        self._remember_choices(user, shaped.choices)
        return self._with_outbox(user, shaped.parts)

    def _with_outbox(self, user: str, parts: tuple[str, ...]) -> str | None:
        """Earlier undelivered answers first, then ``parts``; overflow stays."""
        waiting = self.outbox.pop(user, [])
        reply, rest = join_parts([*waiting, *parts])
        self.hand_over(user, rest)
        return reply or None

    async def _late(
        self, message: InboundMessage, turn: PendingTurn, arrived: float
    ) -> str | None:
        if self.send_text is not None:
            turn.handed_off = API
            return None
        if turn.deliveries >= self.timing.max_deliveries:
            # WeChat will not ask again: answer now, keep the reply for later.
            turn.handed_off = OUTBOX
            notice = (CHANNEL_TEXTS["still_working"],)
            return self._with_outbox(message.user, notice)
        # Stay silent past WeChat's deadline so it re-sends; answering now
        # (even ``success``) would end its retries.
        timing = self.timing
        hold = (
            arrived + timing.wechat_timeout + timing.hang_up_margin - time.monotonic()
        )
        await asyncio.sleep(max(hold, 0))
        return None

    def _finished(self, user: str, turn: PendingTurn) -> None:
        turn.finished_at = time.monotonic()
        if turn.claimed_by or not turn.handed_off:
            return
        turn.claimed_by = turn.handed_off
        shaped = self._result(turn)
        self._remember_choices(user, shaped.choices)
        self.hand_over(user, shaped.parts)

    def _remember_choices(self, user: str, choices: tuple[str, ...]) -> None:
        # The latest answer's buttons only; a digit after an answer without
        # buttons is just a digit.
        # TODO(#6): expire these (and the outbox) for users who never return.
        if choices:
            self.choices[user] = choices
        else:
            self.choices.pop(user, None)

    def hand_over(self, user: str, parts: tuple[str, ...]) -> None:
        """Send ``parts`` now (customer-service API) or with the next reply."""
        if not parts:
            return
        if self.send_text is None:
            self.outbox.setdefault(user, []).extend(parts)
            return
        task = asyncio.create_task(self._send_all(user, parts))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_all(self, user: str, parts: tuple[str, ...]) -> None:
        assert self.send_text is not None
        for part in parts:
            try:
                await self.send_text(user, part)
            except Exception as exc:
                # TODO(#6): keep the part in the outbox and retry later.
                logger.error(
                    "channels.wechat.api.send_failed",
                    extra={
                        "user": self._log_user(user),
                        "exc_type": type(exc).__name__,
                        "errcode": getattr(exc, "errcode", ""),
                    },
                )
                return
        logger.info(
            "channels.wechat.api.sent",
            extra={"user": self._log_user(user), "parts": len(parts)},
        )

    def _result(self, turn: PendingTurn) -> ShapedReply:
        exc = turn.task.exception() if not turn.task.cancelled() else None
        if turn.task.cancelled() or exc is not None:
            logger.error(
                "channels.wechat.message.failed",
                extra={"exc_type": type(exc).__name__ if exc else "CancelledError"},
            )
            return ShapedReply((CHANNEL_TEXTS["failed"],))
        return turn.task.result()

    def _forget_old(self) -> None:
        now = time.monotonic()
        while self.turns:
            key, turn = next(iter(self.turns.items()))
            crowded = len(self.turns) > self.timing.max_remembered
            expired = (
                turn.finished_at is not None
                and now - turn.finished_at > self.timing.keep_seconds
            )
            if not (expired or (crowded and turn.finished_at is not None)):
                return
            del self.turns[key]

    def _log_user(self, user: str) -> str:
        return hash_user(user, self.user_hash_key)

    async def drain(self) -> None:
        """Wait for background sends (for shutdown and tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
