"""The end-of-run log scan (tests/privacy_scan.py) flags planted leaks."""

from __future__ import annotations

import json

import pytest

from tests.privacy_scan import scan_files, scan_line, seeded_values

CLEAN = (
    "2026-12-03T14:00:00 INFO channels.web.message.done user=3f2a9c1d0e4b5a67"
    " length=12 intent=greet latency_ms=48"
)


@pytest.fixture
def leak_file(tmp_path):
    """A planted log file, removed afterwards so the run's own scan stays clean."""
    path = tmp_path / "planted.log"
    yield path
    path.unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("INFO op note=手机13812345678", "mobile"),
        ("INFO op text=我住在人民路18号3单元201室", "address"),
        ("INFO op applicant=张晓明", "fixture_value"),
        # Rasa's structlog lines escape Chinese; the scan reads through it.
        (json.dumps({"event": "x", "text": "示范市示范区人民路18号"}), "address"),
    ],
)
def test_scan_line_flags_personal_data(line, kind):
    assert kind in scan_line(line, seeded_values())


def test_a_clean_line_has_no_findings():
    assert scan_line(CLEAN, seeded_values()) == []


def test_scanner_flags_a_planted_leak_and_counts_lines(leak_file):
    citizen_id = "990101198503120117"
    leak_file.write_text(f"{CLEAN}\n{CLEAN}\nERROR op id={citizen_id}\n")

    report = scan_files([leak_file], seeded_values())

    assert (report.files, report.lines) == (1, 3)
    assert [(f.line, f.kind) for f in report.findings] == [
        (3, "id_number"),
        (3, "fixture_value"),
    ]
    assert report.summary() == "privacy-scan: files=1 lines=3 findings=2"


def test_the_seeded_citizens_are_watched():
    values = seeded_values()
    assert {"张晓明", "13000000001", "990101198503120117"} <= values
