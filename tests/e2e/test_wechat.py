"""WeChat through the real Rasa server: the simulator plays WeChat in safe mode.

Uses the session's running stack (all four processes: "3" is 转人工, which
queues the conversation through the action server and the backend) with the
dev-only account of bot/settings.py, exactly as `make run` does, and
WeChat's real 5 s deadline.
"""

from __future__ import annotations

import pytest

from channels.wechat_sim import (
    ACCOUNT,
    WeChatSimulator,
    dev_options,
    message_xml,
    run_hostile,
    run_users,
)

pytestmark = pytest.mark.slow


async def test_wechat_through_rasa_welcomes_maps_digits_and_rejects_attacks(
    running_stack,
):
    url = f"{running_stack.rasa_url}/webhooks/wechat/"
    options = dev_options()
    async with WeChatSimulator(url, options) as sim:
        subscribe = message_xml(
            "o-e2e-follower", ACCOUNT, MsgType="event", Event="subscribe"
        )
        welcome = await sim.deliver(subscribe)
        handoff = await sim.say("o-e2e-follower", "3")
        statuses = await run_hostile(sim)
        await run_users(sim, 5, ["你好"])
    report = sim.finish()
    print(report.lines())

    # utter_greet, with its buttons as numbered choices; "3" is 转人工.
    assert welcome.startswith("您好！我是政务智能助手")
    assert "3. 转人工" in welcome
    assert "人工客服" in handoff.answers[0]
    assert set(statuses.values()) <= {400, 403, 413}
    assert (report.sent, report.answered, report.lost) == (6, 6, 0)
    assert (report.duplicated, report.replies_over_5s) == (0, 0)
    log = running_stack.logs("rasa")
    assert "channels.wechat.request.rejected" in log
    assert "channels.wechat.delivery.answered" in log
    # OpenIDs are logged as keyed hashes only.
    assert "o-e2e-follower" not in log
    assert "o-sim-" not in log
