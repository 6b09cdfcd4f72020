"""A pytest plugin: the logs a test run writes must hold no personal data.

At the end of the session it reads every ``*.log`` file under the run's
temporary directory (each stack the tests start logs to ``<var>/logs``, and
var directories come from ``tmp_path_factory``), plus every log record this
pytest process emitted, as KeyValueFormatter writes it. A line fails when the
detector (bot.privacy) finds personal data in it, or when it holds one of the
personal values the fixtures use (backend/seed.py's citizens, or a value a
test registers with :func:`watch`), raw or JSON-escaped. Findings name file,
line and kind, never the value; any finding fails the run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.logs import KeyValueFormatter
from bot.privacy import find_personal_data

PROCESS_LOG = "pytest-process.log"
_ESCAPED = re.compile(r"\\u([0-9a-fA-F]{4})")
_watched: set[str] = set()


def watch(*values: str) -> None:
    """Also fail the run if any of these values appears in a log."""
    _watched.update(value for value in values if value)


def seeded_values() -> set[str]:
    """The personal values of backend/seed.py's fictional citizens."""
    from backend.seed import SAMPLE_CITIZENS

    values = set()
    for citizen in SAMPLE_CITIZENS:
        values.update((citizen.name, citizen.phone, citizen.address, citizen.id_number))
        values.update(licence.number for licence in citizen.licences)
    return values


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    kind: str


@dataclass
class ScanReport:
    files: int = 0
    lines: int = 0
    findings: list[Finding] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"privacy-scan: files={self.files} lines={self.lines}"
            f" findings={len(self.findings)}"
        )


def _unescape(line: str) -> str:
    """A JSON-escaped log line (Rasa's structlog output) as the text it holds."""
    return _ESCAPED.sub(lambda match: chr(int(match.group(1), 16)), line)


def scan_line(line: str, values: Iterable[str]) -> list[str]:
    """The kinds of personal data in one log line."""
    text = _unescape(line)
    kinds = [finding.kind for finding in find_personal_data(text)]
    kinds += ["fixture_value" for value in values if value in text or value in line]
    return kinds


def scan_files(paths: Iterable[Path], values: Iterable[str]) -> ScanReport:
    """Scan each file line by line (undecodable bytes are replaced)."""
    values = sorted(set(values))
    report = ScanReport()
    for path in paths:
        report.files += 1
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                report.lines += 1
                report.findings.extend(
                    Finding(path, number, kind) for kind in scan_line(line, values)
                )
    return report


class _ProcessLog(logging.Handler):
    """Writes this process's log records as the project's formatter does."""

    def __init__(self, path: Path) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(KeyValueFormatter())
        self.stream = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record).replace("\n", " ") + "\n")
        except Exception:  # noqa: BLE001 - a log line must never fail a test
            self.handleError(record)

    def close(self) -> None:
        self.stream.close()
        super().close()


class PrivacyScan:
    """The plugin object (registered by tests/conftest.py)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.report: ScanReport | None = None
        self.handler: _ProcessLog | None = None
        self.root_level = logging.WARNING

    def _basetemp(self) -> Path:
        return self.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # INFO, as the processes log in production; restored at the end.
        root = logging.getLogger()
        self.root_level = root.level
        root.setLevel(logging.INFO)
        self.handler = _ProcessLog(self._basetemp() / PROCESS_LOG)
        root.addHandler(self.handler)

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        # bot.logs.configure_logging replaces the root handlers; put ours back.
        root = logging.getLogger()
        if self.handler is not None and self.handler not in root.handlers:
            root.addHandler(self.handler)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.handler is not None:
            root = logging.getLogger()
            root.removeHandler(self.handler)
            root.setLevel(self.root_level)
            self.handler.close()
        paths = sorted(self._basetemp().rglob("*.log"))
        self.report = scan_files(paths, seeded_values() | _watched)
        if self.report.findings and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.report is None:
            return
        for finding in self.report.findings[:50]:
            terminalreporter.write_line(
                f"privacy-scan: {finding.path}:{finding.line}: {finding.kind}",
                red=True,
            )
        terminalreporter.write_line(self.report.summary())


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(PrivacyScan(config), "privacy_scan")
