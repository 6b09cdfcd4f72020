"""The scenario dialogue through the REST channel of the whole stack.

A pre-answered first message, three unreadable answers and the offer of a
person, a policy question in the middle, a pause and two resumes. Uses the
session-wide ``running_stack`` (knowledge base included, for the digression);
each conversation writes its transcript to test-artifacts/ for the reviewer.
"""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "scenario_dialogue"
ASK_AREA = "面积大约是多少"
ASK_ENTERTAINMENT = "娱乐功能"
ASK_LICENCE = "是否已经取得营业执照"
ASK_TOBACCO = "烟草制品"


class Conversation:
    """One sender talking to the webhook, keeping the transcript."""

    def __init__(self, stack, name: str) -> None:
        self.stack, self.name = stack, name
        self.sender = f"e2e-{uuid.uuid4().hex[:12]}"
        self.lines: list[str] = []

    def say(self, message: str) -> str:
        request = urllib.request.Request(
            f"{self.stack.rasa_url}/webhooks/web/webhook",
            data=json.dumps({"sender": self.sender, "message": message}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            replies = json.load(response)
        reply = "\n".join(r.get("text", "") for r in replies)
        self.lines += [f"> {message}", reply, ""]
        return reply

    def save(self) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{self.name}.txt").write_text(
            "\n".join(self.lines), encoding="utf-8"
        )


@pytest.fixture
def conversation(running_stack, request):
    talk = Conversation(running_stack, request.node.name.removeprefix("test_"))
    yield talk
    talk.save()


def test_a_pre_answered_first_message_is_not_asked_again(conversation):
    reply = conversation.say("我想开一家200平的火锅店，不卖烟")
    assert "您已经告诉我" in reply and "经营场所面积：200平方米" in reply
    assert ASK_AREA not in reply
    assert ASK_ENTERTAINMENT in reply

    reply = conversation.say("没有")
    assert ASK_LICENCE in reply
    reply = conversation.say("有")
    assert ASK_TOBACCO not in reply  # answered in the first message
    assert "招牌" in reply


def test_three_unreadable_answers_bring_an_example_and_the_offer_of_help(
    conversation,
):
    reply = conversation.say("我想开个餐馆")
    assert ASK_AREA in reply
    for attempt in range(3):
        reply = conversation.say("挺大的")
        assert "没能看懂面积" in reply
        assert ("转人工" in reply) is (attempt == 2)
    assert "举个例子" in reply and reply.rstrip().endswith("（例如：120平）")

    # The offered 转人工 queues the conversation (docs/handoff.md). With no
    # answer yet there is nothing to keep: the run stops, and no question
    # comes under the handoff notice. After it the citizen starts again.
    reply = conversation.say("/request_agent")
    assert "人工客服" in reply and ASK_AREA not in reply
    assert "结束人工服务" in conversation.say("结束人工")
    assert ASK_AREA in conversation.say("我想开个餐馆")
    reply = conversation.say("120平")
    assert ASK_ENTERTAINMENT in reply


def test_a_policy_question_midway_is_answered_then_the_question_asked_once(
    conversation,
):
    conversation.say("我想开个餐馆")
    reply = conversation.say("100平")
    assert ASK_ENTERTAINMENT in reply

    reply = conversation.say("办理食品经营许可证需要准备哪些材料？")
    assert "来源" in reply or "12345" in reply  # an answer, or the honest no-answer
    assert reply.count(ASK_ENTERTAINMENT) == 1
    assert "请回答“是”或“否”" not in reply

    reply = conversation.say("没有")
    assert ASK_LICENCE in reply


def test_stopping_keeps_the_answers_and_coming_back_resumes(conversation):
    conversation.say("我想开个餐馆")
    conversation.say("80平")
    reply = conversation.say("没有")
    assert ASK_LICENCE in reply

    reply = conversation.say("算了")
    assert "先办到这里" in reply and ASK_LICENCE not in reply

    reply = conversation.say("我想开餐馆")
    assert "接着办" in reply and ASK_AREA not in reply
    assert ASK_LICENCE in reply

    reply = conversation.say("不办了")
    assert "先办到这里" in reply
    reply = conversation.say("继续办理")
    assert "接着办" in reply and ASK_LICENCE in reply
    reply = conversation.say("有")
    assert ASK_TOBACCO in reply


def test_the_route_is_chosen_once_and_shown_on_the_integrated_form(conversation):
    conversation.say("我想开一家320平的饭店，没有卡拉OK，不卖烟")
    conversation.say("有")  # 营业执照
    reply = conversation.say("不要")  # 招牌
    assert "消防安全检查" in reply and "请选择办理方式" in reply
    assert "现场核查" in reply and "承担相应责任" in reply
    assert reply.count("请选择办理方式") == 1

    reply = conversation.say("随便")
    assert "请回复“告知承诺”或“一般程序”" in reply
    reply = conversation.say("告知承诺")
    assert "是否同意" in reply and "请选择办理方式" not in reply
    conversation.say("不同意")
    reply = conversation.say("990101198503120117")  # fictional (backend/seed.py)
    assert "消防安全检查（场所所在地县级消防救援机构）：告知承诺" in reply
