"""Nothing lost, nothing twice: the fault cases against a real backend process.

Each case runs on SQLite and on PostgreSQL (skipped, saying why, when it does
not answer) and prints its counts; ``python -m tests.actions.fault_cases``
prints them all as a table.
"""

from __future__ import annotations

import pytest

from actions.services import use_services
from tests.actions.fault_cases import (
    CASES,
    Platform,
    postgres_schema_url,
    sqlite_url,
)
from tests.backend.conftest import postgres_url


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def platform(request, tmp_path):
    """A backend process over a fresh SQLite file or PostgreSQL schema."""
    drop = None
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
    else:
        base = postgres_url()
        if base is None:
            pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (database test)")
        url, drop = postgres_schema_url(base)
    platform = Platform(url, tmp_path)
    yield platform
    platform.stop()
    use_services(None)
    if drop:
        drop()


@pytest.mark.parametrize("case", sorted(CASES))
async def test_fault_case_submits_every_confirmed_run_exactly_once(
    platform, tmp_path, case, capsys
):
    counts = await CASES[case](platform, tmp_path)

    with capsys.disabled():
        print(
            f"\n{counts.case}: confirmed={counts.confirmed}"
            f" submitted={counts.submitted} duplicated={counts.duplicated}"
            f" lost={counts.lost}"
        )
    assert (counts.submitted, counts.duplicated, counts.lost) == (
        counts.confirmed,
        0,
        0,
    )
