"""The stored conversations from the command line: export them masked, purge.

Both commands open the tracker store endpoints.yml configures, with the same
environment the launcher gives the Rasa server, so they act on the database
the assistant writes (``python -m bot export-conversations``, ``python -m bot
privacy purge``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bot.event_privacy import MaskPolicy
from bot.launcher import process_env
from bot.settings import PROJECT_ROOT, Settings
from bot.tracker_store import (
    ExportReport,
    PrivateSQLTrackerStore,
    PurgeReport,
    export_conversations,
)

ENDPOINTS = PROJECT_ROOT / "endpoints.yml"


def open_tracker_store(settings: Settings, endpoints: Path | None = None) -> Any:
    """The SQL tracker store that ``endpoints`` (endpoints.yml) configures.

    Raises:
        ValueError: the file configures no SQL tracker store.
    """
    from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
    from rasa.core.utils import AvailableEndpoints

    endpoints = endpoints or ENDPOINTS
    # Rasa expands ${ZW_...} from the process environment: lend it the
    # launcher's values for the read, then put the environment back.
    added = {
        name: value
        for name, value in process_env(settings).items()
        if name not in os.environ
    }
    os.environ.update(added)
    try:
        config = AvailableEndpoints.read_endpoints(str(endpoints)).tracker_store
    finally:
        for name in added:
            del os.environ[name]
    store = TrackerStore.create(config) if config else None
    if not isinstance(store, SQLTrackerStore):
        raise ValueError(f"{endpoints} configures no SQL tracker store")
    return store


def export_to_file(settings: Settings, out: Path) -> ExportReport:
    """Write every stored conversation, masked, to ``out`` as JSON lines."""
    store = open_tracker_store(settings)
    policy = store.policy if isinstance(store, PrivateSQLTrackerStore) else MaskPolicy()
    out.parent.mkdir(parents=True, exist_ok=True)
    # Masked, but still conversations with citizens: owner-only.
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8") as handle:
        return export_conversations(store, handle, settings.user_hash_key, policy)


def purge(settings: Settings) -> PurgeReport:
    """Expire the events past ``keep_days`` in every conversation.

    Raises:
        ValueError: the configured store is not PrivateSQLTrackerStore.
    """
    store = open_tracker_store(settings)
    if not isinstance(store, PrivateSQLTrackerStore):
        raise ValueError("purge needs tracker_store type PrivateSQLTrackerStore")
    return store.purge()
