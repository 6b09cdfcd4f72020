"""Abuse limits: token buckets, daily turns and their memory bound, on a hand clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from channels import limits
from channels.limits import (
    ADDRESS_RATE,
    CHANNEL_RATE,
    DAILY_TURNS,
    USER_RATE,
    Limiter,
    LimitOptions,
    TokenBuckets,
    load_texts,
    parse_limits,
    parse_max_chars,
)

# 2026-12-03 12:00 Beijing time, as seconds since the epoch.
NOON_BEIJING = 1_796_270_400.0
OFF = {"address_burst": 0, "channel_burst": 0, "turns_per_day": 0}


class Clock:
    """Both clocks the limiter reads, moved by hand."""

    def __init__(self, wall: float = NOON_BEIJING) -> None:
        self.now = 1000.0
        self.wall = wall

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.wall += seconds


def _limiter(clock: Clock, **options) -> Limiter:
    return Limiter(
        LimitOptions(**options), clock=lambda: clock.now, wall_clock=lambda: clock.wall
    )


def _admitted(limiter: Limiter, user: str, count: int, address=None) -> int:
    return sum(limiter.check(user, address).allowed for _ in range(count))


def test_a_user_gets_the_burst_then_is_refused_with_the_time_to_wait():
    clock = Clock()
    limiter = _limiter(clock, user_burst=3, user_per_minute=6, **OFF)

    assert _admitted(limiter, "u1", 3) == 3
    refused = limiter.check("u1")

    assert not refused.allowed
    assert refused.reason == USER_RATE
    assert refused.retry_after == pytest.approx(10.0)


def test_a_user_bucket_refills_at_its_rate():
    clock = Clock()
    limiter = _limiter(clock, user_burst=2, user_per_minute=6, **OFF)
    _admitted(limiter, "u1", 2)

    clock.advance(9.9)
    assert not limiter.check("u1").allowed
    clock.advance(0.2)
    assert limiter.check("u1").allowed
    assert not limiter.check("u1").allowed


def test_one_users_flood_does_not_use_up_another_users_share():
    clock = Clock()
    limiter = _limiter(
        clock, user_burst=5, channel_burst=10, address_burst=0, turns_per_day=0
    )

    flood = _admitted(limiter, "flooder", 1000)

    assert flood == 5
    assert _admitted(limiter, "other", 5) == 5


def test_the_channel_limit_refuses_when_all_users_together_send_too_much():
    clock = Clock()
    limiter = _limiter(
        clock,
        user_burst=2,
        channel_burst=4,
        channel_per_second=2,
        address_burst=0,
        turns_per_day=0,
    )
    admitted = sum(_admitted(limiter, f"user{n}", 2) for n in range(3))
    refused = limiter.check("user9")

    assert admitted == 4
    assert (refused.reason, refused.retry_after) == (CHANNEL_RATE, 0.5)


def test_a_refused_message_spends_nothing_so_the_channel_keeps_its_tokens():
    clock = Clock()
    limiter = _limiter(
        clock, user_burst=1, channel_burst=2, channel_per_second=1, turns_per_day=0
    )
    limiter.check("flooder")
    for _ in range(50):
        assert limiter.check("flooder").reason == USER_RATE

    assert limiter.check("other").allowed


def test_rotating_user_ids_from_one_address_hit_the_address_limit():
    clock = Clock()
    limiter = _limiter(
        clock, user_burst=5, address_burst=3, channel_burst=0, turns_per_day=0
    )

    decisions = [limiter.check(f"rotating{n}", "addr:10.0.0.9") for n in range(5)]

    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert decisions[3].reason == ADDRESS_RATE
    assert limiter.check("neighbour", "addr:10.0.0.10").allowed


def test_daily_turns_refuse_until_beijing_midnight():
    clock = Clock()
    limiter = _limiter(
        clock, user_burst=100, turns_per_day=3, address_burst=0, channel_burst=0
    )
    assert _admitted(limiter, "u1", 3) == 3

    refused = limiter.check("u1")

    assert refused.reason == DAILY_TURNS
    assert refused.retry_after == pytest.approx(12 * 3600)
    clock.advance(12 * 3600 - 1)
    assert not limiter.check("u1").allowed
    clock.advance(1)
    assert limiter.check("u1").allowed


def test_a_refused_message_does_not_count_as_a_turn():
    clock = Clock()
    limiter = _limiter(
        clock, user_burst=1, user_per_minute=60, turns_per_day=2, channel_burst=0
    )
    assert _admitted(limiter, "u1", 10) == 1
    clock.advance(1)
    assert limiter.check("u1").allowed
    clock.advance(1)
    assert limiter.check("u1").reason == DAILY_TURNS


def test_only_the_first_refusal_of_a_flood_is_marked_new():
    clock = Clock()
    limiter = _limiter(clock, user_burst=1, user_per_minute=60, **OFF)
    limiter.check("u1")

    first, second = limiter.check("u1"), limiter.check("u1")
    clock.advance(1)
    limiter.check("u1")
    after_admitted = limiter.check("u1")

    assert (first.repeated, second.repeated) == (False, True)
    assert not after_admitted.repeated


def test_zero_turns_a_limit_off():
    clock = Clock()
    limiter = _limiter(clock, user_burst=0, **OFF)

    assert _admitted(limiter, "u1", 500) == 500


def test_a_bucket_idle_long_enough_to_be_full_is_forgotten():
    buckets = TokenBuckets(capacity=2, per_second=1.0, max_tracked=100)
    buckets.take("a", now=0.0)
    buckets.take("b", now=1.0)

    buckets.take("c", now=2.5)

    assert len(buckets) == 2  # "a" refilled by 2.0 and was dropped
    assert buckets.wait("a", now=2.5) == 0.0


def test_memory_stays_bounded_under_many_distinct_users():
    clock = Clock()
    limiter = _limiter(
        clock, user_burst=2, user_per_minute=1, max_tracked=50, channel_burst=0
    )

    for n in range(5000):
        limiter.check(f"user{n}", f"addr:{n}")

    assert len(limiter.users) <= 51
    assert len(limiter.addresses) <= 51
    assert len(limiter.turns) <= 50


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"user_burst": -1}, "limits.user_burst"),
        ({"user_burst": "many"}, "limits.user_burst"),
        ({"user_burst": True}, "limits.user_burst"),
        ({"user_burst": 1.5}, "limits.user_burst"),
        ({"max_tracked": 0}, "max_tracked"),
        ({"per_hour": 3}, "unknown limits per_hour"),
        (["user_burst"], "must be a mapping"),
    ],
)
def test_parse_limits_names_the_bad_option(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_limits(raw, "web")


def test_parse_limits_accepts_digit_strings_from_the_environment():
    options = parse_limits({"turns_per_day": "50", "user_burst": 4}, "wechat")

    assert (options.turns_per_day, options.user_burst) == (50, 4)
    assert options.channel_burst == LimitOptions().channel_burst


def test_every_refusal_has_its_chinese_text_in_domain_yml():
    texts = load_texts(PROJECT_ROOT / "domain.yml")

    assert set(texts) == set(limits.RESPONSES)
    assert all(any("\u4e00" <= c <= "\u9fff" for c in text) for text in texts.values())
    assert "{max_chars}" in texts["message_too_long"]


def test_load_texts_names_a_missing_response(tmp_path: Path):
    domain = tmp_path / "domain.yml"
    domain.write_text(
        "responses:\n  utter_rate_limited:\n    - text: 慢一点\n", encoding="utf-8"
    )

    with pytest.raises(ValueError, match="utter_channel_busy"):
        load_texts(domain)


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, 1000), (200, 200), ("300", 300), (" 5 ", 5)]
)
def test_parse_max_chars_reads_numbers_and_digit_strings(raw, expected):
    assert parse_max_chars(raw, "wechat", default=1000) == expected


@pytest.mark.parametrize("raw", [0, "0", -3, "lots", 2.5, True])
def test_parse_max_chars_refuses_anything_but_a_positive_whole_number(raw):
    with pytest.raises(ValueError, match="wechat channel: max_message_chars"):
        parse_max_chars(raw, "wechat", default=1000)
