"""A scenario run through the stack: consent, pre-fill, three 确认提交, status.

Starts the Rasa server, the action server and the backend (not the
knowledge base: this run never asks it), talks to the REST webhook and
reads the backend's own database in the stack's var/ directory.
"""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.request
import uuid
from contextlib import closing

import pytest

pytestmark = pytest.mark.slow

# Fictional (backend/seed.py): 张晓明, area code 990101 belongs to no place.
ID_NUMBER = "990101198503120117"
# The form's questions, recognised by a word, and the answer to give.
ANSWERS = [
    ("面积", "120平"),
    ("娱乐", "没有"),
    ("营业执照", "有"),
    ("烟草", "不卖"),
    ("招牌", "不要"),
    ("办理方式", "一般程序"),
    ("是否同意", "同意"),
    ("身份证号", ID_NUMBER),
    ("确认无误", "确认提交"),
]
NUMBER = re.compile(r"ZW\d{14}")


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory):
    from bot.stack import start_stack

    stack = start_stack(
        tmp_path_factory.mktemp("submission-var"), only={"backend", "actions", "rasa"}
    )
    yield stack
    stack.stop()


def _say(stack, sender: str, message: str) -> str:
    request = urllib.request.Request(
        f"{stack.rasa_url}/webhooks/web/webhook",
        data=json.dumps({"sender": sender, "message": message}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return "\n".join(reply.get("text", "") for reply in json.load(response))


def _rows(stack, query: str) -> list[tuple]:
    path = stack.settings.var_dir / "backend.db"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        return connection.execute(query).fetchall()


def _run_to_the_number(stack, sender: str) -> str:
    reply = _say(stack, sender, "我想开个餐馆")
    for _ in range(15):
        found = NUMBER.search(reply)
        if found:
            return found.group()
        answer = next(
            (a for word, a in ANSWERS if word in reply.splitlines()[-1]), None
        )
        assert answer, f"unexpected question: {reply[-200:]}"
        reply = _say(stack, sender, answer)
    raise AssertionError("no application number after 15 turns")


def test_three_confirmations_make_one_application_and_status_lists_it(running_stack):
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    before = _rows(running_stack, "SELECT count(*) FROM applications")[0][0]

    number = _run_to_the_number(running_stack, sender)
    again = [_say(running_stack, sender, "确认提交") for _ in range(2)]
    status = _say(running_stack, sender, "我的申请到哪一步了")

    assert all(number in reply for reply in again)
    after = _rows(running_stack, "SELECT count(*) FROM applications")[0][0]
    assert after - before == 1
    assert number in status and "等待受理" in status
    actions = [
        row[0]
        for row in _rows(
            running_stack,
            "SELECT action FROM audit_log WHERE consent_id IS NOT NULL ORDER BY id",
        )
    ]
    assert actions[-2:] == ["consent.record", "profile.read"]
