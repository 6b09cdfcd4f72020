"""Service hours: parsing ZW_SERVICE_HOURS, open or not, the next opening."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend import service_hours
from backend.service_hours import DEFAULT, ServiceHours, Window, parse

PROPERTY = settings(max_examples=300, deadline=None)
# 2026-12-07 is a Monday; 01:00 UTC is 09:00 in China.
MONDAY_0900_CHINA = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def _utc(china_day: int, hour: int, minute: int = 0) -> datetime:
    """A moment given in China time on 2026-12-(china_day), as aware UTC."""
    return datetime(2026, 12, china_day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def test_the_default_is_weekdays_nine_to_six():
    hours = parse(DEFAULT)

    assert hours.windows == (Window(1, 5, 9 * 60, 18 * 60),)
    assert hours.hours == "工作日 9:00-18:00"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("1-5 09:00-18:00,6 09:00-12:00", "工作日 9:00-18:00，周六 9:00-12:00"),
        ("1-7 00:00-24:00", "每天 0:00-24:00"),
        ("6-7 10:30-16:00", "周末 10:30-16:00"),
        ("2-4 8:00-17:30", "周二至周四 8:00-17:30"),
        (" 7 09:00-12:00 ", "周日 9:00-12:00"),
    ],
)
def test_a_list_of_windows_reads_as_short_chinese(raw, text):
    assert parse(raw).hours == text


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " , ",
        "weekdays",
        "1-5",
        "0 09:00-18:00",
        "8 09:00-18:00",
        "5-1 09:00-18:00",
        "1-5 18:00-09:00",
        "1-5 09:00-09:00",
        "1-5 09:00-24:01",
        "1-5 09:60-18:00",
        "1-5 09:00-18:00,",
        "1-5 ０9:00-18:00",
    ],
)
def test_a_malformed_setting_is_a_value_error_naming_it(raw):
    with pytest.raises(ValueError, match="ZW_SERVICE_HOURS"):
        parse(raw)


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (_utc(7, 9, 0), True),  # Monday 09:00 opens
        (_utc(7, 8, 59), False),
        (_utc(7, 17, 59), True),
        (_utc(7, 18, 0), False),  # 18:00 is closed already
        (_utc(12, 10, 0), False),  # Saturday
        (_utc(11, 12, 0), True),  # Friday noon
    ],
)
def test_open_now_uses_china_time(moment, is_open):
    assert parse(DEFAULT).open_now(moment) is is_open


def test_a_naive_moment_is_taken_as_utc():
    naive = MONDAY_0900_CHINA.replace(tzinfo=None)

    assert parse(DEFAULT).open_now(naive)
    assert not parse(DEFAULT).open_now(naive - timedelta(seconds=1))


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (_utc(7, 8, 30), _utc(7, 9, 0)),  # Monday morning: today at nine
        (_utc(7, 18, 0), _utc(8, 9, 0)),  # Monday evening: Tuesday
        (_utc(11, 18, 30), _utc(14, 9, 0)),  # Friday evening: next Monday
        (_utc(12, 3, 0), _utc(14, 9, 0)),  # Saturday night
    ],
)
def test_next_open_is_the_next_windows_start(moment, expected):
    assert parse(DEFAULT).next_open(moment) == expected


def test_next_open_while_open_is_now_and_status_says_none():
    hours = parse(DEFAULT)
    moment = _utc(8, 10, 0)

    assert hours.next_open(moment) == moment
    assert hours.status(moment).to_json() == {
        "open_now": True,
        "hours": "工作日 9:00-18:00",
        "next_open": None,
    }


def test_status_while_closed_names_the_opening_in_utc():
    status = parse("1-5 09:00-18:00,6 09:00-12:00").status(_utc(11, 20, 0))

    assert status.to_json() == {
        "open_now": False,
        "hours": "工作日 9:00-18:00，周六 9:00-12:00",
        "next_open": "2026-12-12T01:00:00Z",  # Saturday 09:00 in China
    }


WINDOWS = st.builds(
    lambda first, span, start, length: Window(
        first, min(7, first + span), start, min(1440, start + length)
    ),
    st.integers(1, 7),
    st.integers(0, 6),
    st.integers(0, 1439),
    st.integers(1, 1440),
)
HOURS = st.lists(WINDOWS, min_size=1, max_size=4).map(lambda w: ServiceHours(tuple(w)))
MOMENTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)
).map(lambda moment: moment.replace(tzinfo=UTC))


@PROPERTY
@given(HOURS, MOMENTS)
def test_next_open_is_open_and_not_before_now(hours, now):
    following = hours.next_open(now)

    assert following >= now
    assert hours.open_now(following)
    assert following - now < timedelta(days=7)


@PROPERTY
@given(HOURS, MOMENTS, st.floats(0, 1))
def test_nothing_is_open_between_now_and_next_open(hours, now, fraction):
    following = hours.next_open(now)
    between = now + (following - now) * fraction

    if between < following:
        assert not hours.open_now(between)


@settings(max_examples=30, deadline=None)
@given(HOURS, MOMENTS)
def test_every_minute_before_next_open_is_closed(hours, now):
    """Oracle: step through the gap a minute at a time."""
    following = hours.next_open(now)
    moment = now
    while moment < following:
        assert not hours.open_now(moment)
        moment += timedelta(minutes=1)


@PROPERTY
@given(HOURS)
def test_a_parsed_description_round_trips(hours):
    raw = ",".join(
        f"{w.first}-{w.last} {w.start // 60:02d}:{w.start % 60:02d}"
        f"-{w.end // 60:02d}:{w.end % 60:02d}"
        for w in hours.windows
    )

    assert service_hours.parse(raw) == hours
