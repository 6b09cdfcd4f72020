"""The delivery desk on its own: one turn per message, one answer per turn."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from channels.wechat_api import WeChatApiClient, WeChatApiError
from channels.wechat_delivery import DeliveryDesk, Timing
from channels.wechat_fake_api import FakeWeChatApi
from channels.wechat_protocol import CHANNEL_TEXTS, InboundMessage, ShapedReply
from channels.wechat_sim import dev_options

TIMING = Timing(passive_wait=0.1, wechat_timeout=0.12, keep_seconds=0.2)


def _message(msg_id: str = "1", text: str = "你好", user: str = "o-user"):
    return InboundMessage(
        "text", user=user, account="gh_acc", create_time=1, msg_id=msg_id, text=text
    )


class Turns:
    """A run_turn that records its calls and answers after ``delay``."""

    def __init__(self, delay: float = 0.0, error: BaseException | None = None):
        self.calls: list[tuple[str, str]] = []
        self.delay = delay
        self.error = error

    async def __call__(self, user: str, text: str) -> ShapedReply:
        self.calls.append((user, text))
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return ShapedReply((f"答：{text}",))


async def test_a_message_is_forgotten_after_keep_seconds_and_runs_again():
    turns = Turns()
    desk = DeliveryDesk(turns, timing=TIMING)

    first = await desk.deliver(_message(), time.monotonic())
    again = await desk.deliver(_message(), time.monotonic())
    await asyncio.sleep(0.25)
    later = await desk.deliver(_message(), time.monotonic())

    assert (first, again, later) == ("答：你好", None, "答：你好")
    assert len(turns.calls) == 2


async def test_too_many_remembered_messages_drop_the_oldest_finished():
    desk = DeliveryDesk(Turns(), timing=Timing(max_remembered=3))
    for n in range(6):
        await desk.deliver(_message(msg_id=str(n)), time.monotonic())
    assert len(desk.turns) <= 4


async def test_a_cancelled_turn_answers_with_the_failure_text(caplog):
    caplog.set_level(logging.ERROR, logger="channels")
    turns = Turns(error=asyncio.CancelledError())
    desk = DeliveryDesk(turns, timing=TIMING)

    reply = await desk.deliver(_message(), time.monotonic())

    assert reply == CHANNEL_TEXTS["failed"]
    assert [r.exc_type for r in caplog.records] == ["CancelledError"]


async def test_a_refused_customer_service_send_is_logged_with_its_errcode(caplog):
    caplog.set_level(logging.INFO, logger="channels")
    api = FakeWeChatApi("wxdev000000000000", "dev-wechat-app-secret")
    await api.start()
    api.send_errors = [45015]
    client = WeChatApiClient(dev_options(customer_service_api=True, api_base=api.url))
    desk = DeliveryDesk(Turns(delay=0.2), send_text=client.send_text, timing=TIMING)

    reply = await desk.deliver(_message(), time.monotonic())
    await asyncio.sleep(0.25)
    await desk.drain()
    await client.close()
    await api.stop()

    assert reply is None
    [failed] = [r for r in caplog.records if r.msg == "channels.wechat.api.send_failed"]
    assert failed.errcode == 45015
    assert api.sent == []


async def test_a_token_error_twice_in_a_row_is_an_api_error():
    api = FakeWeChatApi("wxdev000000000000", "dev-wechat-app-secret")
    await api.start()
    api.send_errors = [40001, 40001]
    client = WeChatApiClient(dev_options(customer_service_api=True, api_base=api.url))

    with pytest.raises(WeChatApiError) as caught:
        await client.send_text("o-user", "通知")
    await client.close()
    await api.stop()

    assert caught.value.errcode == 40001
    assert api.token_fetches == 2


async def test_the_passive_reply_and_the_api_never_both_deliver():
    sent: list[str] = []

    async def send_text(user: str, text: str) -> None:
        sent.append(text)

    timing = Timing(passive_wait=1.0, wechat_timeout=1.2)
    desk = DeliveryDesk(Turns(delay=0.05), send_text=send_text, timing=timing)

    replies = await asyncio.gather(
        *(desk.deliver(_message(), time.monotonic()) for _ in range(3))
    )
    await asyncio.sleep(0.1)
    await desk.drain()

    assert sorted(replies, key=str) == [None, None, "答：你好"]
    assert sent == []
