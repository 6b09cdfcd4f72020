"""channels.handoff: which messages go to the agent, and what the citizen reads."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from actions.backend_client import (
    BackendUnavailable,
    HandoffClosed,
    HandoffMessage,
    HandoffReceipt,
)
from bot.settings import PROJECT_ROOT
from channels.handoff import RESPONSES, HandoffRelay, ends_handoff
from channels.limits import load_responses

TEXTS = load_responses(PROJECT_ROOT / "domain.yml", RESPONSES)


def receipt(status: str = "waiting", **changes) -> HandoffReceipt:
    base = HandoffReceipt(
        handoff_no="RG20261204000001",
        status=status,
        agent=None if status == "waiting" else "demo",
        position=1 if status == "waiting" else None,
        open_now=True,
        hours="工作日 9:00-18:00",
        next_open=None,
        delivered_seq=0,
        last_seq=0,
        created=False,
        closed_by=None,
    )
    return replace(base, **changes)


@dataclass
class FakeQueue:
    """The agent queue's routes the channels call, over one handoff."""

    handoff: HandoffReceipt | None = None
    messages: list[HandoffMessage] = field(default_factory=list)
    error: Exception | None = None
    send_error: Exception | None = None
    sent: list[tuple[str, str | None]] = field(default_factory=list)

    def add(self, role: str, text: str | None = None, event: str | None = None):
        seq = len(self.messages) + 1
        self.messages.append(
            HandoffMessage(seq, role, text, event, "2026-12-04T02:00:00Z")
        )
        self.handoff = replace(self.handoff, last_seq=seq)

    async def latest_handoff(self, conversation: str) -> HandoffReceipt | None:
        if self.error:
            raise self.error
        return self.handoff

    async def send_handoff_message(self, handoff_no, text, idempotency_key=None):
        if self.send_error:
            raise self.send_error
        self.sent.append((text, idempotency_key))
        self.add("citizen", text)
        return self.messages[-1]

    async def handoff_messages(self, handoff_no, after=0):
        return self.handoff.status, [m for m in self.messages if m.seq > after]

    async def close_handoff(self, handoff_no):
        self.handoff = replace(self.handoff, status="closed", closed_by="citizen")
        self.add("system", event="closed")
        return self.handoff

    async def mark_delivered(self, handoff_no, seq):
        self.handoff = replace(self.handoff, delivered_seq=seq)
        return self.handoff


@pytest.fixture
def queue() -> FakeQueue:
    return FakeQueue(handoff=receipt())


@pytest.fixture
def relay(queue) -> HandoffRelay:
    return HandoffRelay(queue, TEXTS)


@pytest.mark.parametrize(
    "text",
    [
        "结束人工",
        "结束人工服务。",
        "我要结束人工",
        "返回智能助手",
        "不用人工了",
        "结束 人工",
    ],
)
def test_ways_to_end_a_handoff(text):
    assert ends_handoff(text)


@pytest.mark.parametrize("text", ["人工", "转人工", "结束了吗", "人工服务几点结束"])
def test_messages_that_do_not_end_a_handoff(text):
    assert not ends_handoff(text)


async def test_without_a_handoff_rasa_answers(queue, relay):
    queue.handoff = None
    relayed = await relay.relay("conv", "社保卡怎么补办")
    assert relayed.to_rasa and relayed.texts == ()
    assert queue.sent == []


@pytest.mark.parametrize("status", [None, "closed"])
async def test_ending_with_nothing_open_queues_nothing(queue, relay, status):
    """Found by a tester: the NLU reads 结束人工 as 转人工, so it reached Rasa
    and queued the citizen who asked to leave the queue."""
    queue.handoff = None if status is None else receipt(status)
    relayed = await relay.relay("conv", "结束人工")
    assert not relayed.to_rasa
    assert relayed.texts == (TEXTS["utter_handoff_none_open"],)
    assert queue.sent == [] and len(queue.messages) == 0


async def test_while_waiting_the_message_goes_to_the_agent_with_a_notice(queue, relay):
    relayed = await relay.relay("conv", "我的电话是13000000001", message_key="m1")
    assert not relayed.to_rasa
    assert relayed.texts == (TEXTS["utter_handoff_waiting"],)
    # The agent reads what the citizen typed; the key keeps re-sends to one.
    assert queue.sent == [("我的电话是13000000001", "m1")]


async def test_with_an_agent_the_assistant_stays_silent(queue, relay):
    queue.handoff = receipt("active")
    relayed = await relay.relay("conv", "好的，谢谢")
    assert not relayed.to_rasa and relayed.texts == ()
    assert [text for text, _ in queue.sent] == ["好的，谢谢"]


async def test_the_citizen_ends_it_and_is_told_once(queue, relay):
    queue.handoff = receipt("active")
    relayed = await relay.relay("conv", "结束人工")
    assert relayed.texts == (TEXTS["utter_handoff_ended_by_citizen"],)
    assert queue.handoff.status == "closed" and queue.sent == []
    # The next message is the assistant's again, and the closing is not
    # announced a second time.
    after = await relay.relay("conv", "社保卡怎么补办", deliver_pending=True)
    assert after.to_rasa and after.texts == ()


async def test_an_old_button_while_waiting_is_not_sent_to_the_agent(queue, relay):
    relayed = await relay.relay("conv", "/choose_candidate")
    assert not relayed.to_rasa and queue.sent == []
    assert relayed.texts == (TEXTS["utter_handoff_waiting"],)


async def test_a_queue_that_cannot_be_reached_lets_the_assistant_answer(queue, relay):
    queue.error = BackendUnavailable("backend_unavailable")
    assert (await relay.relay("conv", "社保卡怎么补办")).to_rasa


async def test_a_message_that_could_not_be_forwarded_says_so(queue, relay):
    queue.send_error = BackendUnavailable("backend_unavailable")
    relayed = await relay.relay("conv", "还在吗")
    assert not relayed.to_rasa
    assert relayed.texts == (TEXTS["utter_handoff_not_sent"],)


async def test_closed_a_moment_ago_the_assistant_answers(queue, relay):
    queue.send_error = HandoffClosed("handoff_closed", status=409)
    assert (await relay.relay("conv", "还在吗")).to_rasa


async def test_agent_replies_not_yet_given_come_with_the_next_answer(queue, relay):
    queue.handoff = receipt("active")
    queue.add("system", event="claimed")
    queue.add("agent", "您好，请问您的社保卡是在哪里丢的？")
    relayed = await relay.relay("conv", "在公交上", deliver_pending=True)
    assert relayed.texts == (
        TEXTS["utter_handoff_agent_joined"],
        "【人工客服】您好，请问您的社保卡是在哪里丢的？",
    )
    assert queue.handoff.delivered_seq == 2
    again = await relay.relay("conv", "还有别的吗", deliver_pending=True)
    assert again.texts == ()


async def test_the_agents_closing_is_announced_and_rasa_takes_the_message(queue, relay):
    queue.handoff = receipt("active")
    queue.add("agent", "已为您登记，稍后回电。")
    queue.add("system", event="closed")
    queue.handoff = replace(queue.handoff, status="closed", closed_by="agent")
    relayed = await relay.relay("conv", "谢谢", deliver_pending=True)
    assert relayed.to_rasa
    assert relayed.texts == (
        "【人工客服】已为您登记，稍后回电。",
        TEXTS["utter_handoff_closed"],
    )


async def test_the_page_reads_only_what_it_has_not_shown(queue, relay):
    queue.handoff = receipt("active")
    queue.add("system", event="claimed")
    queue.add("citizen", "在吗")
    queue.add("agent", "在的")
    first = await relay.agent_update("conv", None, 0)
    assert first.handoff_no == "RG20261204000001" and first.status == "active"
    assert first.texts == (TEXTS["utter_handoff_agent_joined"], "【人工客服】在的")
    assert first.last_seq == 3
    again = await relay.agent_update("conv", first.handoff_no, first.last_seq)
    assert again.texts == () and again.last_seq == 3


async def test_a_newer_handoff_is_read_from_its_start(queue, relay):
    queue.handoff = receipt("active", handoff_no="RG20261204000002")
    queue.add("agent", "您好")
    update = await relay.agent_update("conv", "RG20261204000001", 7)
    assert update.texts == ("【人工客服】您好",)


async def test_an_agent_reply_is_shown_as_written(queue, relay):
    queue.handoff = receipt("active")
    queue.add("agent", "模板里的{text}不会被再次替换")
    update = await relay.agent_update("conv", None, 0)
    assert update.texts == ("【人工客服】模板里的{text}不会被再次替换",)
