"""Headless Chromium for the chat-page tests: Debian's browser, never a download.

Shared by tests/channels (the page against a scripted webhook) and
tests/e2e/test_chat_page.py (the page against the running stack).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS_DIR = PROJECT_ROOT / "test-artifacts"

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 667}


def chromium_path() -> Path:
    """Debian's chromium, or a skip that says how to install it."""
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip(
            f"needs Debian's chromium at {CHROMIUM}: `make browser` "
            "(apt-get install chromium); no browser is downloaded"
        )
    return CHROMIUM if CHROMIUM.exists() else Path(shutil.which("chromium") or "")


@contextmanager
def launch_chromium() -> Iterator[object]:
    """Start headless Chromium through Playwright; close it afterwards."""
    executable = chromium_path()
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs the playwright Python package"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), args=LAUNCH_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def screenshot_path(name: str) -> Path:
    """Where a test saves a screenshot (test-artifacts/, not committed)."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR / name
