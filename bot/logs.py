"""Logging set-up shared by every process: English ``event key=value`` lines.

Callers log an event name and put fields in ``extra``::

    logger.info("kb.search.done", extra={"hits": 3, "top_score": 0.82})

Field values pass through :func:`bot.privacy.redact`, so a slip that logs a
phone number or 身份证号 still writes it masked. Rasa, rasa-sdk and Sanic log
through handlers we do not own (coloredlogs on the root logger), so every
record this process creates is masked when it is made (:func:`mask_records`):
Rasa's structured debug events lose the values that carry message text or
slot values, and its older debug lines lose their tail.
"""

from __future__ import annotations

import json
import logging
import traceback
import warnings
from collections.abc import Callable

from bot.privacy import redact, redact_value

WITHHELD = "[已隐去]"
# The structlog keys under which Rasa 3.6 logs message text, slot values,
# entities or whole events (rasa/utils/log_utils.py lists them for the
# anonymizer it leaves to a paid plugin).
RASA_MESSAGE_KEYS = frozenset(
    {
        "text",
        "response_text",
        "user_text",
        "slot_values",
        "parse_data_text",
        "parse_data_entities",
        "prediction_events",
        "tracker_latest_message",
        "prefilled_slots",
        "message",
        "response",
        "slot_candidates",
        "rasa_event",
        "rasa_events",
        "tracker_states",
        "current_states",
        "old_states",
        "states",
        "successes",
        "current_entity",
        "next_entity",
        "entity",
        "token_text",
        "user_message",
        "json_message",
    }
)
# Older f-string debug lines (Rasa 3.6, rasa-sdk 3.6) that end in slot
# values, events or a response body: everything after the marker goes.
WITHHELD_AFTER = (
    "Validating extracted slots:",
    "Contents of ignored event:",
    "Received NLG response:",
    "these events:",
    "Received user message",
    # Rasa's warning for a typed "/intent{...}" quotes the whole message.
    "Failed to parse arguments in line",
)

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


def mask_message(message: str) -> str:
    """A log message with personal data and conversation content masked."""
    structured = _mask_structured(message)
    if structured is not None:
        return structured
    for marker in WITHHELD_AFTER:
        at = message.find(marker)
        if at >= 0:
            message = f"{message[: at + len(marker)]} {WITHHELD}"
            break
    return redact(message)


def _mask_structured(message: str) -> str | None:
    """Rasa's structlog JSON line with the content-bearing values withheld."""
    if not message.startswith("{"):
        return None
    try:
        data = json.loads(message)
    except ValueError:
        return None
    if not isinstance(data, dict) or "event" not in data:
        return None
    masked = {
        key: WITHHELD if key in RASA_MESSAGE_KEYS else redact_value(value)
        for key, value in data.items()
    }
    return json.dumps(masked, ensure_ascii=False)


_previous_factory: Callable[..., logging.LogRecord] | None = None


def mask_records() -> None:
    """Mask every LogRecord this process creates, whoever handles it.

    Installed once per process (a log record factory, chained to the one
    before); a record's extra fields are set after it is made and are masked
    by :class:`KeyValueFormatter`.
    """
    global _previous_factory
    if _previous_factory is not None:
        return
    previous = logging.getLogRecordFactory()
    _previous_factory = previous

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _mask_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _mask_warnings()


def _mask_warnings() -> None:
    """Mask warnings too: Rasa warns with the user's message in the text, and
    Python prints warnings to stderr without a log record."""
    show = warnings.showwarning

    def masked_show(message, category, filename, lineno, file=None, line=None):
        text = mask_message(str(message))
        try:
            masked = category(text)
        except TypeError:  # a warning class with its own constructor
            masked = UserWarning(text)
        show(masked, category, filename, lineno, file, line)

    warnings.showwarning = masked_show


def _mask_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        return  # a malformed call: logging reports it when it formats
    record.msg, record.args = mask_message(message), ()
    if record.exc_info and record.exc_info[1] is not None:
        # Handlers reuse exc_text instead of formatting the traceback again.
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)))


class MaskRecords(logging.Filter):
    """For logging.yml: installs :func:`mask_records` when the file is applied,
    and masks records created before that."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        mask_records()

    def filter(self, record: logging.LogRecord) -> bool:
        _mask_record(record)
        return True


def configure_logging(level: str = "INFO") -> None:
    """Send this process's log records to stderr as key=value lines."""
    mask_records()
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
