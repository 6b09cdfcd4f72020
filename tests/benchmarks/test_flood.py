"""The flood benchmark's parts at a tiny size: one short scenario each way.

No timing is asserted (the machine is shared); these check that the flood is
refused by the limits and only by them, and that the citizens were measured.
"""

from __future__ import annotations

from benchmarks.flood import NO_LIMITS, Load, run_scenario
from channels.limits import LimitOptions

TINY = Load(citizens=2, citizen_interval=0.5, seconds=1.0, flood_workers=2)


def test_with_limits_the_flood_is_refused_and_the_citizens_are_not():
    options = LimitOptions(user_burst=4, user_per_minute=1, turns_per_day=0)

    out = run_scenario(options, TINY, flood="one")

    assert out.flood_admitted == 4
    assert out.flood_refused == out.flood_sent - 4 > 0
    assert out.citizens_refused == 0
    assert len(out.latencies_ms) >= 2


def test_without_limits_nothing_is_refused():
    out = run_scenario(NO_LIMITS, TINY, flood="rotating")

    assert out.flood_sent == out.flood_admitted > 0
    assert out.flood_refused == out.citizens_refused == 0
