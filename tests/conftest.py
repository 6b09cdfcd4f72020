"""Shared fixtures: paths to ../shared data and the running stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT

SHARED = PROJECT_ROOT.parent / "shared"

# Scans the logs the run wrote for personal data at the end (issue #8).
pytest_plugins = ["tests.privacy_scan"]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared``, or a skip saying why the test cannot run."""
    if not SHARED.is_dir():
        pytest.skip(f"needs the shared data sets at {SHARED} (absent here)")
    return SHARED


@pytest.fixture(scope="session")
def running_stack(tmp_path_factory):
    """All four processes on free ports, started once per test session."""
    from bot.stack import start_stack

    stack = start_stack(tmp_path_factory.mktemp("stack-var"))
    yield stack
    stack.stop()
