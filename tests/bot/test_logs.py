from __future__ import annotations

import logging

from bot.logs import KeyValueFormatter


def make_record(msg: str, **extra) -> logging.LogRecord:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, msg, (), None)
    record.__dict__.update(extra)
    return record


def test_formatter_writes_event_and_fields():
    line = KeyValueFormatter().format(make_record("kb.search.done", hits=3, top=0.8))
    assert line.split(" ", 2)[1:] == ["INFO", "kb.search.done hits=3 top=0.8"]


def test_formatter_quotes_values_with_spaces():
    line = KeyValueFormatter().format(make_record("e", reason="two words"))
    assert line.endswith('reason="two words"')


def test_formatter_masks_personal_data_that_slipped_into_a_field():
    line = KeyValueFormatter().format(make_record("e", note="call 13812345678"))
    assert "13812345678" not in line
    assert "[手机号]" in line


def test_formatter_reports_exception_type_without_traceback():
    try:
        raise ValueError("bad value")
    except ValueError:
        import sys

        record = make_record("op.failed")
        record.exc_info = sys.exc_info()
    line = KeyValueFormatter().format(record)
    assert "exc_type=ValueError" in line
    assert "Traceback" not in line
