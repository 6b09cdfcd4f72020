"""When people staff the agent queue (``ZW_SERVICE_HOURS``), in China time.

A pure module: parse the setting once at start-up, then ask whether the
queue is staffed at a moment and, if not, when it next will be. Public
holidays and 调休 working weekends are not modelled. TODO(#9): a holiday
calendar the operator can update.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.repository import CHINA_TIME, iso_utc

SETTING = "ZW_SERVICE_HOURS"
DEFAULT = "1-5 09:00-18:00"
MINUTES_PER_DAY = 24 * 60

_WINDOW = re.compile(
    r"([1-7])(?:-([1-7]))?\s+([0-9]{1,2}):([0-9]{2})-([0-9]{1,2}):([0-9]{2})"
)
_WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class Window:
    """Staffed from ``start`` to ``end`` (minutes after midnight) on ``days``.

    ``days`` are ISO weekdays (1 = Monday … 7 = Sunday) from ``first`` to
    ``last``; ``end`` may be 1440 (24:00).
    """

    first: int
    last: int
    start: int
    end: int

    def covers(self, weekday: int, minute: float) -> bool:
        return self.first <= weekday <= self.last and self.start <= minute < self.end

    def describe(self) -> str:
        """``工作日 9:00-18:00``, ``周六 9:00-12:00``, ``每天 0:00-24:00``."""
        return f"{self._days()} {_clock(self.start)}-{_clock(self.end)}"

    def _days(self) -> str:
        named = {(1, 5): "工作日", (6, 7): "周末", (1, 7): "每天"}
        if (self.first, self.last) in named:
            return named[(self.first, self.last)]
        if self.first == self.last:
            return f"周{_WEEKDAYS[self.first - 1]}"
        return f"周{_WEEKDAYS[self.first - 1]}至周{_WEEKDAYS[self.last - 1]}"


@dataclass(frozen=True)
class ServiceStatus:
    """What a handoff summary says about staffing (``service`` in the API)."""

    open_now: bool
    hours: str
    next_open: datetime | None  # aware UTC; None while open

    def to_json(self) -> dict[str, Any]:
        moment = self.next_open
        return {
            "open_now": self.open_now,
            "hours": self.hours,
            "next_open": None if moment is None else iso_utc(_naive_utc(moment)),
        }


@dataclass(frozen=True)
class ServiceHours:
    """The staffed windows of one week, repeated every week."""

    windows: tuple[Window, ...]

    @property
    def hours(self) -> str:
        """The windows in short Chinese, shown to citizens."""
        return "，".join(window.describe() for window in self.windows)

    def open_now(self, now_utc: datetime) -> bool:
        """True when a window covers ``now_utc`` (naive values are UTC)."""
        local = _china(now_utc)
        return any(w.covers(local.isoweekday(), _minute(local)) for w in self.windows)

    def next_open(self, now_utc: datetime) -> datetime:
        """The first moment at or after ``now_utc`` when a window is open.

        ``now_utc`` itself when open; otherwise the start of the next window.

        Returns:
            An aware UTC datetime.
        """
        if self.open_now(now_utc):
            return _aware_utc(now_utc)
        local = _china(now_utc)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for offset in range(8):
            day = midnight + timedelta(days=offset)
            starts = sorted(
                day + timedelta(minutes=window.start)
                for window in self.windows
                if window.first <= day.isoweekday() <= window.last
            )
            later = [start for start in starts if start >= local]
            if later:
                return later[0].astimezone(UTC)
        # Unreachable: parse() refuses a setting without a window.
        raise AssertionError("service hours without a window")

    def status(self, now_utc: datetime) -> ServiceStatus:
        """Open or not at ``now_utc``, the hours text, and the next opening."""
        is_open = self.open_now(now_utc)
        following = None if is_open else self.next_open(now_utc)
        return ServiceStatus(open_now=is_open, hours=self.hours, next_open=following)


def parse(raw: str) -> ServiceHours:
    """Read ``1-5 09:00-18:00,6 09:00-12:00`` (ISO weekdays, China time).

    Raises:
        ValueError: empty, or a window that is malformed, names no weekday
            1-7 in order, or does not start before it ends; the message names
            the setting.
    """
    entries = [entry.strip() for entry in raw.split(",")]
    if not any(entries):
        raise ValueError(f"{SETTING} must name at least one window like {DEFAULT!r}")
    return ServiceHours(tuple(_window(entry) for entry in entries))


def _window(entry: str) -> Window:
    match = _WINDOW.fullmatch(entry)
    if match is None:
        raise ValueError(
            f"{SETTING}: each window reads like {DEFAULT!r} (ISO weekdays 1-7,"
            f" then HH:MM-HH:MM), got {entry!r}"
        )
    first, last, start_h, start_m, end_h, end_m = match.groups()
    window = Window(
        first=int(first),
        last=int(last or first),
        start=_minutes(start_h, start_m),
        end=_minutes(end_h, end_m),
    )
    if window.first > window.last:
        raise ValueError(f"{SETTING}: weekdays must run forward, got {entry!r}")
    if not 0 <= window.start < window.end <= MINUTES_PER_DAY:
        raise ValueError(
            f"{SETTING}: a window starts before it ends, within 00:00-24:00,"
            f" got {entry!r}"
        )
    return window


def _minutes(hours: str, minutes: str) -> int:
    if int(minutes) > 59:
        return MINUTES_PER_DAY + 1  # refused by the range check
    return int(hours) * 60 + int(minutes)


def _clock(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def _aware_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _naive_utc(moment: datetime) -> datetime:
    return _aware_utc(moment).replace(tzinfo=None)


def _china(moment: datetime) -> datetime:
    return _aware_utc(moment).astimezone(CHINA_TIME)


def _minute(local: datetime) -> float:
    seconds = local.second + local.microsecond / 1e6
    return local.hour * 60 + local.minute + seconds / 60
