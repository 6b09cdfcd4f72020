from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from bot.logs import WITHHELD, KeyValueFormatter, mask_message
from bot.settings import PROJECT_ROOT

LOGGING_YML = PROJECT_ROOT / "bot" / "logging.yml"


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


# --- third-party log lines (Rasa, rasa-sdk, Sanic) ----------------------------
SEEDED_ID = "990101198503120117"  # fictional, backend/seed.py


def test_rasa_structured_debug_events_lose_the_message_text():
    line = json.dumps(
        {
            "event": "processor.message.parse",
            "parse_data_text": "我叫张晓明",
            "parse_data_intent": {"name": "inform"},
            "note": f"id {SEEDED_ID}",
        },
        ensure_ascii=False,
    )
    masked = json.loads(mask_message(line))
    assert masked["parse_data_text"] == WITHHELD
    assert masked["parse_data_intent"] == {"name": "inform"}
    assert masked["note"] == "id [身份证号]"


def test_older_debug_lines_lose_their_slot_values():
    line = f"Validating extracted slots: {{'id_number': '张晓明 {SEEDED_ID}'}}"
    assert mask_message(line) == f"Validating extracted slots: {WITHHELD}"


def test_plain_messages_are_redacted_not_withheld():
    assert mask_message("Starting Rasa server on http://127.0.0.1:5005") == (
        "Starting Rasa server on http://127.0.0.1:5005"
    )
    assert mask_message("call 13812345678") == "call [手机号]"


# Applies logging.yml the way `rasa run` does, then lets Rasa put coloredlogs
# on the root logger and configure structlog, and logs as Rasa, Sanic and a
# library would (in a child process: logging set-up is process-wide).
RASA_PROCESS = r"""
import logging, structlog, sys
from rasa.utils.common import configure_logging_and_warnings
from rasa.utils.io import configure_colored_logging
from rasa.utils.log_utils import configure_structlog
configure_logging_and_warnings(logging.DEBUG, sys.argv[1])
configure_colored_logging("DEBUG")
configure_structlog(logging.DEBUG)
secret, name = sys.argv[2], sys.argv[3]
structlog.get_logger().debug("processor.message.parse", parse_data_text=name)
logging.getLogger("rasa.core.actions.action").debug(
    f"Validating extracted slots: {{'id_number': '{name}'}}")
logging.getLogger("sanic.access").info("", extra={"request": "GET /?openid=" + name})
logging.getLogger("sanic.error").error("handling failed for %s", secret)
logging.getLogger("sqlalchemy.engine").warning("row %s", secret)
try:
    raise ValueError(f"bad {secret}")
except ValueError:
    logging.getLogger("asyncio").exception("task failed")
# Rasa warns (Python warnings, no log record) quoting a typed "/intent{...}".
from rasa.shared.utils.io import raise_warning
typed = f'/inform{{"x": "{secret} {name}"}}'
raise_warning(f"Failed to parse arguments in line '{typed}'.")
print("logged", file=sys.stderr)
"""


def test_rasa_process_logs_carry_no_personal_data(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "LOG_LEVEL": "DEBUG"}
    result = subprocess.run(
        [sys.executable, "-c", RASA_PROCESS, str(LOGGING_YML), SEEDED_ID, "张晓明"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert "logged" in output, output[-2000:]
    assert "processor.message.parse" in output
    assert "task failed" in output and "ValueError" in output
    assert "Failed to parse arguments in line" in output
    assert SEEDED_ID not in output
    assert "张晓明" not in output


# Rasa's start-up puts RepeatedLogFilter on the root logger's handlers; our
# event lines repeat their message with other fields, and each must be kept.
REPEATED_EVENTS = r"""
import logging, sys
from rasa.utils.common import configure_logging_and_warnings
configure_logging_and_warnings(logging.INFO, sys.argv[1])
log = logging.getLogger("channels.web")
for turn in range(5):
    log.info("channels.web.message.handled", extra={"replies": 1, "turn": turn})
"""


def test_event_lines_that_repeat_their_name_are_all_written(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", REPEATED_EVENTS, str(LOGGING_YML)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )

    lines = [line for line in result.stderr.splitlines() if "message.handled" in line]
    assert [line.split("turn=")[1] for line in lines] == ["0", "1", "2", "3", "4"]
