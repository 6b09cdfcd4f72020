"""The chat page's side of a handoff: the webhook relays, ``GET /agent`` polls."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from types import SimpleNamespace

import pytest
from sanic import Sanic

from actions.backend_client import BackendUnavailable
from bot.privacy import hash_user
from channels.handoff import HandoffRelay
from channels.web import WebChatInput
from tests.channels.test_handoff_relay import TEXTS, FakeQueue, receipt
from tests.channels.test_web_channel import HASH_KEY, SENDER
from tests.sanic_server import serving


class CountingBot:
    """Rasa's side: answers every message it is given, and counts them."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, message) -> None:
        self.seen.append(message.text)
        await message.output_channel.send_response(
            message.sender_id, {"text": "助手的回答"}
        )


class ConversationQueue(FakeQueue):
    """Knows only the conversation of SENDER."""

    async def latest_handoff(self, conversation):
        assert conversation == hash_user(SENDER, HASH_KEY)
        return await super().latest_handoff(conversation)


@pytest.fixture
def queue() -> ConversationQueue:
    return ConversationQueue(handoff=None)


@pytest.fixture
async def server(queue, monkeypatch):
    monkeypatch.setattr(Sanic, "test_mode", True)
    bot = CountingBot()
    channel = WebChatInput(user_hash_key=HASH_KEY, relay=HandoffRelay(queue, TEXTS))
    app = Sanic(f"test_web_handoff_{uuid.uuid4().hex}")
    app.blueprint(channel.blueprint(bot), url_prefix="/webhooks/web")
    async with serving(app) as session:
        yield SimpleNamespace(session=session, bot=bot)


async def say(server, text: str) -> list[str]:
    body = json.dumps({"sender": SENDER, "message": text}, ensure_ascii=False)
    async with server.session.post(
        "/webhooks/web/webhook",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 200
        return [reply["text"] for reply in await response.json()]


async def poll(server, handoff: str = "", after: str = "0", sender: str = SENDER):
    params = {"sender": sender, "handoff": handoff, "after": after}
    async with server.session.get("/webhooks/web/agent", params=params) as response:
        return response.status, await response.json()


async def test_rasa_answers_until_a_person_owns_the_conversation(server, queue):
    assert await say(server, "社保卡怎么补办") == ["助手的回答"]
    queue.handoff = receipt("waiting")
    assert await say(server, "还在吗") == [TEXTS["utter_handoff_waiting"]]
    queue.handoff = replace(queue.handoff, status="active")
    assert await say(server, "我的卡在公交上丢的") == []
    assert server.bot.seen == ["社保卡怎么补办"]
    assert [text for text, _ in queue.sent] == ["还在吗", "我的卡在公交上丢的"]


async def test_the_page_polls_agent_replies_until_the_end(server, queue):
    status, body = await poll(server)
    assert status == 200 and body == {
        "handoff_no": None,
        "status": None,
        "after": 0,
        "replies": [],
    }
    queue.handoff = receipt("active")
    queue.add("system", event="claimed")
    queue.add("agent", "您好，我是人工客服")
    status, body = await poll(server)
    assert body["handoff_no"] == "RG20261204000001" and body["status"] == "active"
    assert body["after"] == 2
    assert [reply["text"] for reply in body["replies"]] == [
        TEXTS["utter_handoff_agent_joined"],
        "【人工客服】您好，我是人工客服",
    ]
    assert await say(server, "结束人工") == [TEXTS["utter_handoff_ended_by_citizen"]]
    status, body = await poll(server, body["handoff_no"], str(body["after"]))
    # The citizen ended it and was told so: the page shows no second notice.
    assert body["status"] == "closed" and body["replies"] == []
    assert await say(server, "社保卡怎么补办") == ["助手的回答"]


@pytest.mark.parametrize(
    ("sender", "handoff", "after"),
    [
        ("bad sender!", "", "0"),
        (SENDER, "ZW20261204000001", "0"),
        (SENDER, "", "-1"),
        (SENDER, "", "１"),
        (SENDER, "", "99999999999"),
    ],
)
async def test_a_malformed_poll_is_refused(server, sender, handoff, after):
    status, body = await poll(server, handoff, after, sender)
    assert status == 400 and body["error"]["code"] in ("invalid_sender", "invalid_body")


async def test_a_poll_while_the_queue_is_down_is_a_clear_error(server, queue):
    queue.error = BackendUnavailable("backend_unavailable")
    status, body = await poll(server)
    assert status >= 500 and body["error"]["message"]
    # Messages still reach the assistant.
    assert await say(server, "社保卡怎么补办") == ["助手的回答"]
