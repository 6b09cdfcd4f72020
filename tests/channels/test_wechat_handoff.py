"""WeChat while a person owns the conversation: relayed messages, pushed replies."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from channels.handoff import HandoffRelay
from channels.wechat import WeChatInput
from channels.wechat_sim import WeChatSimulator, dev_options, serve_channel
from tests.channels.test_handoff_relay import TEXTS, FakeQueue, receipt
from tests.channels.test_wechat_channel import HASH_KEY, OPENID, TIMING, FakeRasa


class HandingOffRasa(FakeRasa):
    """转人工 queues the conversation, as action_request_agent does."""

    def __init__(self, queue: FakeQueue) -> None:
        super().__init__()
        self.queue = queue

    async def __call__(self, message) -> None:
        if message.text != "转人工":
            await super().__call__(message)
            return
        self.turns.append((message.sender_id, message.text))
        self.queue.handoff = receipt("waiting")
        channel = message.output_channel
        await channel.send_text_message(message.sender_id, "已为您转接人工客服。")
        await channel.send_custom_json(
            message.sender_id, {"handoff_started": "RG20261204000001"}
        )


@pytest.fixture
def queue() -> FakeQueue:
    return FakeQueue(handoff=None)


@pytest.fixture
async def open_sim(queue):
    opened = []

    async def make(rasa, api=None):
        overrides = {"mode": "plaintext"}
        if api is not None:
            overrides.update(customer_service_api=True, api_base=api.url)
        options = dev_options(**overrides)
        channel = WeChatInput(
            options,
            HASH_KEY,
            timing=TIMING,
            relay=HandoffRelay(queue, TEXTS),
            agent_poll_seconds=0.05,
        )
        serving = serve_channel(channel, rasa)
        url = await serving.__aenter__()
        sim = WeChatSimulator(
            url, options, wechat_timeout=TIMING.wechat_timeout, api=api, late_wait=3.0
        )
        await sim.__aenter__()
        opened.append((sim, serving, channel))
        return sim, channel

    yield make
    for sim, serving, channel in opened:
        await channel.close()
        await sim.__aexit__(None, None, None)
        await serving.__aexit__(None, None, None)


async def test_messages_go_to_the_agent_and_rasa_never_sees_them(queue, open_sim):
    rasa = HandingOffRasa(queue)
    sim, _ = await open_sim(rasa)
    handed = await sim.say(OPENID, "转人工")
    assert handed.answers == ["passive:已为您转接人工客服。"]

    waiting = await sim.say(OPENID, "我的社保卡丢了")
    assert waiting.answers == ["passive:" + TEXTS["utter_handoff_waiting"]]
    queue.handoff = replace(queue.handoff, status="active")
    queue.add("agent", "您好，请问在哪里丢的？")
    # Without the customer-service API the reply comes with the next message.
    answered = await sim.say(OPENID, "在公交上")
    assert answered.answers == ["passive:【人工客服】您好，请问在哪里丢的？"]
    assert [text for text, _ in queue.sent] == ["我的社保卡丢了", "在公交上"]
    assert rasa.turns == [(OPENID, "转人工")]

    ended = await sim.say(OPENID, "结束人工")
    assert ended.answers == ["passive:" + TEXTS["utter_handoff_ended_by_citizen"]]
    back = await sim.say(OPENID, "社保卡怎么补办")
    assert back.answers == ["passive:收到：社保卡怎么补办\n\n还有其他问题吗？"]


async def test_agent_replies_are_pushed_through_the_api_once(queue, open_sim, fake_api):
    rasa = HandingOffRasa(queue)
    sim, channel = await open_sim(rasa, api=fake_api)
    await sim.say(OPENID, "转人工")
    queue.handoff = replace(queue.handoff, status="active")
    queue.add("system", event="claimed")
    queue.add("agent", "您好，我是人工客服。")
    for _ in range(100):
        if fake_api.texts_for(OPENID):
            break
        await asyncio.sleep(0.05)
    await channel.desk.drain()
    assert fake_api.texts_for(OPENID) == [
        f"{TEXTS['utter_handoff_agent_joined']}\n\n【人工客服】您好，我是人工客服。"
    ]
    # Given once: the next message does not bring it again.
    again = await sim.say(OPENID, "好的")
    assert again.answers == []
    queue.add("agent", "已为您处理，再见。")
    queue.add("system", event="closed")
    queue.handoff = replace(queue.handoff, status="closed", closed_by="agent")
    for _ in range(100):
        if not channel.watched:
            break
        await asyncio.sleep(0.05)
    await channel.desk.drain()
    assert fake_api.texts_for(OPENID)[1:] == [
        f"【人工客服】已为您处理，再见。\n\n{TEXTS['utter_handoff_closed']}"
    ]
    assert channel.watched == {}
