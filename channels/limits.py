"""Abuse limits of a channel: rates per user, address and channel; turns per day.

Pure bookkeeping with an injectable clock, so tests drive time by hand. State
lives in this process's memory and is bounded: a bucket that has refilled is
forgotten (losing nothing), and past ``max_tracked`` keys the least recently
seen go first. Several Rasa processes each keep their own counts; sharing them
needs Redis (TODO(#10)).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from channels import errors

# Beijing time: the daily count restarts at local midnight.
_DAY_OFFSET_SECONDS = 8 * 3600

USER_RATE, ADDRESS_RATE, CHANNEL_RATE, DAILY_TURNS = (
    "user_rate",
    "address_rate",
    "channel_rate",
    "daily_turns",
)

# The stable error code each refusal is logged (and, on the web, sent) with.
ERROR_CODES = {
    USER_RATE: errors.RATE_LIMITED,
    ADDRESS_RATE: errors.RATE_LIMITED,
    CHANNEL_RATE: errors.CHANNEL_BUSY,
    DAILY_TURNS: errors.DAILY_LIMIT_REACHED,
}

# What the citizen is told for each refusal (and for an over-long WeChat
# message): responses in domain.yml, read once at start-up.
RESPONSES = {
    USER_RATE: "utter_rate_limited",
    ADDRESS_RATE: "utter_rate_limited",
    CHANNEL_RATE: "utter_channel_busy",
    DAILY_TURNS: "utter_daily_limit_reached",
    "message_too_long": "utter_message_too_long",
}


@dataclass(frozen=True)
class LimitOptions:
    """How much one user, one client address and the whole channel may send.

    A rate is a token bucket: ``*_burst`` messages at once, refilled at
    ``*_per_minute`` (or per second for the channel). Zero turns a limit off.
    """

    # A citizen clicking through a scenario's buttons answers every few
    # seconds; a script sends many times a second.
    user_burst: int = 20
    user_per_minute: int = 30
    # Many citizens may share one address (a NAT, an office).
    address_burst: int = 60
    address_per_minute: int = 300
    channel_burst: int = 60
    channel_per_second: int = 30
    turns_per_day: int = 300
    max_tracked: int = 100_000


@dataclass(frozen=True)
class Decision:
    """Whether a message may reach Rasa; if not, which limit and for how long."""

    allowed: bool
    reason: str = ""
    retry_after: float = 0.0
    # True when this user was already refused and has sent nothing admitted
    # since: a flood logs its first refusal as a warning, the rest at debug.
    repeated: bool = False


ALLOWED = Decision(True)


def parse_limits(raw: Mapping[str, Any] | None, channel: str) -> LimitOptions:
    """Read a channel's ``limits:`` section of credentials.yml.

    Values may be numbers or digit strings (an expanded ``${ZW_...}``).

    Raises:
        ValueError: an unknown key or a value that is not a whole number
            >= 0 (``max_tracked`` >= 1); the message names it.
    """
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{channel} channel: limits must be a mapping")
    known = {option.name for option in fields(LimitOptions)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{channel} channel: unknown limits {', '.join(unknown)}")
    values = {
        name: _whole(raw[name], f"{channel} channel: limits.{name}") for name in raw
    }
    if values.get("max_tracked", 1) < 1:
        raise ValueError(f"{channel} channel: limits.max_tracked must be at least 1")
    return LimitOptions(**values)


def parse_max_chars(raw: Any, channel: str, default: int) -> int:
    """Read ``max_message_chars``: the longest message passed to Rasa.

    Raises:
        ValueError: not a whole number >= 1.
    """
    if raw is None:
        return default
    value = _whole(raw, f"{channel} channel: max_message_chars")
    if value < 1:
        raise ValueError(f"{channel} channel: max_message_chars must be at least 1")
    return value


def _whole(raw: Any, name: str) -> int:
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise ValueError(f"{name} must be a whole number >= 0, got {raw!r}")
    return raw


class TokenBuckets:
    """Token buckets by key, all with one capacity and refill rate."""

    def __init__(self, capacity: int, per_second: float, max_tracked: int) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self.max_tracked = max_tracked
        # key -> (tokens, when they were counted); oldest use first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.capacity > 0 and self.per_second > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` has a token (0 when it has one now)."""
        tokens = self._tokens(key, now)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.per_second

    def take(self, key: str, now: float) -> None:
        """Spend one token of ``key`` (checked with :meth:`wait` first)."""
        self._buckets[key] = (self._tokens(key, now) - 1, now)
        self._buckets.move_to_end(key)
        self._forget(now)

    def _tokens(self, key: str, now: float) -> float:
        tokens, counted = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - counted) * self.per_second)

    def _forget(self, now: float) -> None:
        # A bucket idle long enough to be full again is the same as no
        # bucket, so dropping it loses nothing; past the cap the least
        # recently used goes even if not full (in its favour).
        full_after = self.capacity / self.per_second
        while self._buckets:
            key, (_, counted) = next(iter(self._buckets.items()))
            if now - counted < full_after and len(self._buckets) <= self.max_tracked:
                return
            del self._buckets[key]


class DailyTurns:
    """Turns per key on the current (Beijing) day."""

    def __init__(self, per_day: int, max_tracked: int) -> None:
        self.per_day = per_day
        self.max_tracked = max_tracked
        self._day = -1
        self._counts: OrderedDict[str, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._counts)

    def wait(self, key: str, wall: float) -> float:
        """Seconds until ``key`` may run another turn today (0: it may now)."""
        self._roll(wall)
        if self.per_day <= 0 or self._counts.get(key, 0) < self.per_day:
            return 0.0
        return 86_400 - (wall + _DAY_OFFSET_SECONDS) % 86_400

    def count(self, key: str, wall: float) -> None:
        self._roll(wall)
        if self.per_day <= 0:
            return
        self._counts[key] = self._counts.get(key, 0) + 1
        self._counts.move_to_end(key)
        while len(self._counts) > self.max_tracked:
            self._counts.popitem(last=False)

    def _roll(self, wall: float) -> None:
        day = int((wall + _DAY_OFFSET_SECONDS) // 86_400)
        if day != self._day:
            self._day = day
            self._counts.clear()


class Limiter:
    """Decides, message by message, whether it may reach Rasa.

    Checks run from the narrowest to the widest, and a refused message
    spends nothing: one user's flood is stopped by its own limits before it
    can use up the channel's, so other citizens keep their share.

    Args:
        options: the channel's limits.
        clock: a monotonic clock for the rates.
        wall_clock: seconds since the epoch, for the day boundary.
    """

    def __init__(
        self,
        options: LimitOptions,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self.clock = clock
        self.wall_clock = wall_clock
        tracked = options.max_tracked
        self.users = TokenBuckets(
            options.user_burst, options.user_per_minute / 60, tracked
        )
        self.addresses = TokenBuckets(
            options.address_burst, options.address_per_minute / 60, tracked
        )
        self.channel = TokenBuckets(
            options.channel_burst, options.channel_per_second, 1
        )
        self.turns = DailyTurns(options.turns_per_day, tracked)
        # Users refused since their last admitted message (oldest first).
        self._refused: OrderedDict[str, None] = OrderedDict()

    def check(self, user: str, address: str | None = None) -> Decision:
        """Admit one message of ``user`` (a hashed id) from ``address``, or say why not.

        An admitted message is counted against every limit; a refused one
        against none.
        """
        now, wall = self.clock(), self.wall_clock()
        checks = [(USER_RATE, self.users, user)]
        if address:
            checks.append((ADDRESS_RATE, self.addresses, address))
        checks.append((CHANNEL_RATE, self.channel, ""))

        waiting = self.turns.wait(user, wall)
        if waiting:
            return self._refuse(user, DAILY_TURNS, waiting)
        for reason, buckets, key in checks:
            waiting = buckets.wait(key, now) if buckets.enabled else 0.0
            if waiting:
                return self._refuse(user, reason, waiting)

        for _, buckets, key in checks:
            if buckets.enabled:
                buckets.take(key, now)
        self.turns.count(user, wall)
        self._refused.pop(user, None)
        return ALLOWED

    def _refuse(self, user: str, reason: str, waiting: float) -> Decision:
        repeated = user in self._refused
        self._refused[user] = None
        self._refused.move_to_end(user)
        while len(self._refused) > self.options.max_tracked:
            self._refused.popitem(last=False)
        return Decision(False, reason, waiting, repeated)

    @property
    def tracked(self) -> int:
        """How many keys are held in memory now (for the bound's tests)."""
        return (
            len(self.users) + len(self.addresses) + len(self.turns) + len(self._refused)
        )


def load_texts(domain_path: Path) -> dict[str, str]:
    """The citizen-facing text of each refusal, from domain.yml's responses.

    Returns:
        Reason (and ``message_too_long``) to the first text variant of its
        response.

    Raises:
        ValueError: domain.yml lacks one of the responses or its text (a
            deployment mistake, reported at start-up).
    """
    texts = load_responses(domain_path, RESPONSES.values())
    return {reason: texts[name] for reason, name in RESPONSES.items()}


def load_responses(domain_path: Path, names: Iterable[str]) -> dict[str, str]:
    """The first text variant of each named response in domain.yml.

    Raises:
        ValueError: a response or its text is missing.
    """
    with domain_path.open(encoding="utf-8") as handle:
        responses = (yaml.safe_load(handle) or {}).get("responses") or {}
    texts = {}
    for name in names:
        variants = responses.get(name) or [{}]
        text = variants[0].get("text") if isinstance(variants[0], dict) else None
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{domain_path}: response {name} has no text")
        texts[name] = text.strip()
    return texts
