"""The audit log for an auditor: one time window, in order, as JSON Lines or CSV.

Writing rows is :func:`backend.repository.audit`; the table refuses UPDATE and
DELETE (migration 0003), and each export is itself audited. The export holds
身份证号 (a profile read's target), so the file is created readable by its
owner only and never overwritten.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import AuditEntry
from backend.repository import Caller, audit, iso_utc

FORMATS = ("jsonl", "csv")
EXPORT_ACTION = "audit.export"
WHY_EXPORT = "auditor_export"
FIELDS = ("id", "at", "who", "action", "target", "reason", "consent_id", "request_id")
BATCH = 500
# A spreadsheet runs a cell that starts with one of these as a formula (CSV
# injection, OWASP); the operator's note on a returned item is free text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def parse_moment(raw: str) -> datetime:
    """``2026-12-01`` or ``2026-12-01T08:00:00+08:00`` as naive UTC.

    A time without an offset is taken as UTC, as the table stores it.

    Raises:
        ValueError: not an ISO 8601 date or date-time.
    """
    moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def entries(session: Session, since: datetime, until: datetime) -> Iterator[AuditEntry]:
    """Rows with ``since <= at < until``, oldest first (ties by id), in batches."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.at >= since, AuditEntry.at < until)
        .order_by(AuditEntry.at, AuditEntry.id)
        .execution_options(yield_per=BATCH)
    )
    yield from session.execute(query).scalars()


def as_row(entry: AuditEntry) -> dict[str, object]:
    """One entry as the export writes it (``at`` as ``…Z``, UTC)."""
    return {
        "id": entry.id,
        "at": iso_utc(entry.at),
        "who": entry.who,
        "action": entry.action,
        "target": entry.target,
        "reason": entry.reason,
        "consent_id": entry.consent_id,
        "request_id": entry.request_id,
    }


def write_export(
    session: Session, since: datetime, until: datetime, fmt: str, out: TextIO
) -> int:
    """Write the window's rows to ``out``; returns how many were written.

    Raises:
        ValueError: an unknown format.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    rows = (as_row(entry) for entry in entries(session, since, until))
    if fmt == "jsonl":
        return _write_jsonl(rows, out)
    return _write_csv(rows, out)


def _write_jsonl(rows: Iterator[dict[str, object]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def _write_csv(rows: Iterator[dict[str, object]], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({name: _csv_cell(value) for name, value in row.items()})
        count += 1
    return count


def _csv_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def record_export(
    session: Session, caller: Caller, since: datetime, until: datetime
) -> None:
    """Audit the export itself: who took which window of the log, and when."""
    window = f"{iso_utc(since)}/{iso_utc(until)}"
    audit(session, caller, EXPORT_ACTION, window, reason=WHY_EXPORT)
    session.commit()


def open_new_file(path: Path) -> TextIO:
    """``path`` opened for writing, created with mode 0600.

    Raises:
        FileExistsError: the file exists (an export is never overwritten).
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(descriptor, "w", encoding="utf-8", newline="")
