"""`python -m bot export-conversations` and `python -m bot privacy purge`."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest
from rasa.shared.core.trackers import DialogueStateTracker

from bot.__main__ import main
from bot.privacy import find_personal_data
from bot.tracker_store import DAY_SECONDS, PrivateSQLTrackerStore
from tests.bot.test_tracker_store import SECRETS, SENDER, prefill_turn


@pytest.fixture
def var_dir(tmp_path, monkeypatch):
    """A var/ directory the commands read through endpoints.yml."""
    monkeypatch.setenv("ZW_VAR_DIR", str(tmp_path / "var"))
    (tmp_path / "var").mkdir()
    return tmp_path / "var"


async def store_readable(domain, var_dir, timestamp=None) -> None:
    """Write a conversation readable, as ``pii_mode: keep`` would."""
    store = PrivateSQLTrackerStore(
        domain=domain, db=str(var_dir / "tracker.db"), pii_mode="keep", keep_days=90
    )
    events = prefill_turn(timestamp)
    await store.save(DialogueStateTracker.from_events(SENDER, events, domain.slots))
    store.engine.dispose()


def raw_text(var_dir) -> str:
    return (var_dir / "tracker.db").read_bytes().decode("utf-8", "replace")


async def test_export_writes_masked_json_lines_readable_by_the_owner_only(
    domain, var_dir, tmp_path, capsys
):
    await store_readable(domain, var_dir)
    out = tmp_path / "export" / "conversations.jsonl"

    assert main(["export-conversations", "--out", str(out)]) == 0

    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert len(json.loads(lines[0])["events"]) == len(prefill_turn())
    for secret in (*SECRETS, SENDER):
        assert secret not in lines[0]
    assert find_personal_data(lines[0]) == []
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert capsys.readouterr().out.startswith("export: conversations=1 events=")
    assert "ZW_TRACKER_DB" not in os.environ


async def test_purge_masks_what_is_older_than_keep_days(domain, var_dir, capsys):
    await store_readable(domain, var_dir, timestamp=time.time() - 40 * DAY_SECONDS)
    assert "\\u5f20\\u6653\\u660e" in raw_text(var_dir)  # 张晓明, JSON-escaped

    assert main(["privacy", "purge"]) == 0

    text = raw_text(var_dir)
    assert "\\u5f20\\u6653\\u660e" not in text
    assert SECRETS[0] not in text and SECRETS[1] not in text
    assert "masked=" in capsys.readouterr().out


def test_purge_refuses_a_store_without_retention(tmp_path, monkeypatch, capsys):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"tracker_store:\n  type: SQL\n  db: {tmp_path / 't.db'}\n")
    monkeypatch.setattr("bot.conversations.ENDPOINTS", endpoints)

    assert main(["privacy", "purge"]) == 2
    assert "PrivateSQLTrackerStore" in capsys.readouterr().err
