"""转人工 through the whole stack: the assistant queues the conversation, an
agent claims it and answers over the backend's API, the page polls the
reply, the citizen ends the handoff and 继续办理 resumes the paused scenario.

Uses the session's running stack (all four processes).
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
import uuid

import pytest

from bot.settings import DEV_AGENT_TOKEN

pytestmark = pytest.mark.slow

HANDOFF_NO = re.compile(r"RG\d{14}")


def _post(url: str, body: dict, token: str | None = None) -> object:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers)
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


def _say(stack, sender: str, message: str) -> list[dict]:
    url = f"{stack.rasa_url}/webhooks/web/webhook"
    return _post(url, {"sender": sender, "message": message})


def _texts(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def _agent(stack, handoff_no: str, action: str, body: dict) -> object:
    url = f"{stack.backend_url}/v1/handoffs/{handoff_no}/{action}"
    return _post(url, body, DEV_AGENT_TOKEN)


def _poll(stack, sender: str, handoff_no: str, after: int) -> dict:
    query = urllib.parse.urlencode(
        {"sender": sender, "handoff": handoff_no, "after": after}
    )
    with urllib.request.urlopen(
        f"{stack.rasa_url}/webhooks/web/agent?{query}", timeout=30
    ) as response:
        return json.load(response)


def test_an_agent_answers_and_the_scenario_goes_on_after_the_handoff(running_stack):
    sender = f"e2e-handoff-{uuid.uuid4().hex[:8]}"
    assert "面积" in _texts(_say(running_stack, sender, "我想开个火锅店"))
    assert "卡拉OK" in _texts(_say(running_stack, sender, "大概两百平"))

    queued = _say(running_stack, sender, "转人工")
    [handoff_no] = [reply["handoff_no"] for reply in queued if "handoff_no" in reply]
    assert HANDOFF_NO.fullmatch(handoff_no)
    # The scenario pauses with its answer kept: no question under the notice.
    assert "人工" in _texts(queued) and "继续办理" in _texts(queued)
    assert "卡拉OK" not in _texts(queued)

    # While the handoff is open, messages go to the queue, not to Rasa: the
    # scenario's question is not answered by "有的".
    waiting = _texts(_say(running_stack, sender, "有的，店里有卡拉OK"))
    assert "转给人工客服" in waiting and "营业执照" not in waiting

    _agent(running_stack, handoff_no, "claim", {})
    _agent(running_stack, handoff_no, "messages", {"text": "您好，我是人工客服。"})
    update = _poll(running_stack, sender, handoff_no, 0)
    assert update["status"] == "active"
    shown = [reply["text"] for reply in update["replies"]]
    assert "【人工客服】您好，我是人工客服。" in shown
    # Polling again from the cursor repeats nothing.
    again = _poll(running_stack, sender, handoff_no, update["after"])
    assert again["replies"] == []

    assert "结束人工服务" in _texts(_say(running_stack, sender, "结束人工"))
    # 继续办理 resumes where it was: the area is kept, 卡拉OK comes next.
    resumed = _texts(_say(running_stack, sender, "继续办理"))
    assert "卡拉OK" in resumed and "面积" not in resumed.split("卡拉OK")[-1]
    assert "营业执照" in _texts(_say(running_stack, sender, "没有"))
