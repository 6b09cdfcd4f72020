"""The fuzz targets accept their seeds, and a short real run reports counts."""

from __future__ import annotations

import contextlib

import pytest

import fuzz.__main__ as fuzz_cli
from fuzz.targets import TARGETS, Target, planted


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_seed_passes_its_target_without_a_finding(name):
    target = TARGETS[name]

    for seed in target.seeds:
        with contextlib.suppress(*target.allowed):
            target.check(seed)


def test_a_short_run_counts_its_cases_and_reports_no_finding(tmp_path, monkeypatch):
    monkeypatch.setattr(fuzz_cli, "OUT_DIR", tmp_path)

    outcome = fuzz_cli.run_target("backend_body", runs=300, max_seconds=60)

    assert (outcome.runs, outcome.findings, outcome.crashed) == (300, (), None)
    assert (tmp_path / "backend_body" / "corpus" / "seed-0").exists()


def test_a_finding_is_recorded_with_its_place_and_fuzzing_goes_on(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(fuzz_cli, "OUT_DIR", tmp_path)
    # A target with a planted bug, in the child process only (the real
    # parsers have no known finding left).
    monkeypatch.setenv("ZW_FUZZ_PLANTED", "1")
    monkeypatch.setitem(
        fuzz_cli.TARGETS, "planted", Target("planted", planted, (), (b"ok",))
    )
    corpus = tmp_path / "planted" / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "not-utf8").write_bytes(b"\xff\xfe\n")

    outcome = fuzz_cli.run_target("planted", runs=200, max_seconds=60)

    assert outcome.runs == 200
    assert [f["type"] for f in outcome.findings] == ["UnicodeDecodeError"]
    assert outcome.findings[0]["where"].startswith("fuzz/targets.py:")


def test_the_table_shows_cases_and_the_first_finding():
    outcomes = [
        fuzz_cli.Outcome("web_body", 2000, 3.2, ()),
        fuzz_cli.Outcome(
            "faq_import", 1500, 4.0, ({"type": "ValueError", "where": "x.py:1"},)
        ),
    ]

    lines = fuzz_cli.table(outcomes).splitlines()

    assert lines[2] == "| web_body | 2000 | 3 | 0 |  |"
    assert lines[3] == "| faq_import | 1500 | 4 | 1 | ValueError at x.py:1 |"
