"""Logging set-up shared by every process: English ``event key=value`` lines.

Callers log an event name and put fields in ``extra``::

    logger.info("kb.search.done", extra={"hits": 3, "top_score": 0.82})

Field values pass through :func:`bot.privacy.redact`, so a slip that logs a
phone number or 身份证号 still writes it masked.
"""

from __future__ import annotations

import logging

from bot.privacy import redact

# Attributes every LogRecord has; anything else came from ``extra``.
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def _format_value(value: object) -> str:
    text = redact(str(value))
    if text == "" or any(ch in text for ch in ' ="'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


class KeyValueFormatter(logging.Formatter):
    """``2026-12-03T14:00:00 INFO kb.search.done hits=3 top_score=0.82``."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {
            key: value
            for key, value in record.__dict__.items()
            if key not in _STANDARD_ATTRS and not key.startswith("_")
        }
        parts = [
            self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            record.levelname,
            redact(record.getMessage()),
        ]
        parts.extend(f"{key}={_format_value(value)}" for key, value in fields.items())
        line = " ".join(parts)
        if record.exc_info:
            # The exception type and message only; tracebacks go to debug.
            exc = record.exc_info[1]
            line += f" exc_type={type(exc).__name__} exc={_format_value(exc)}"
        return line


def configure_logging(level: str = "INFO") -> None:
    """Send this process's log records to stderr as key=value lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
