"""The chat page's script in headless Chromium, against a scripted webhook."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.channels.conftest import PAGE_URL, ScriptedWebhook, fulfil_json, open_chat

SENDER_ID = re.compile(r"web-[0-9a-f]{32}")


def bot(text: str = "", **extra) -> dict:
    return {"recipient_id": "x", "text": text, **extra}


def test_question_is_sent_with_enter_and_the_reply_is_shown(chat):
    chat.webhook.reply(bot("您好，请问办理哪一项业务？"))

    chat.ask("身份证丢了怎么补办")
    chat.wait_idle()

    [body] = chat.webhook.bodies
    assert body["message"] == "身份证丢了怎么补办"
    assert SENDER_ID.fullmatch(body["sender"])
    expect(chat.page.locator(".message-user .bubble")).to_have_text(
        ["身份证丢了怎么补办"]
    )
    expect(chat.bot_bubbles().last).to_have_text("您好，请问办理哪一项业务？")
    expect(chat.page.get_by_label("输入您的问题")).to_have_value("")


def test_bot_and_user_markup_is_shown_as_text_never_parsed(chat):
    payload = (
        '<img src=x onerror="window.__xss=1"><b>粗体</b><script>window.__xss=2</script>'
    )
    chat.webhook.reply(bot(payload))

    chat.ask(payload)
    chat.wait_idle()

    expect(chat.bot_bubbles().last).to_have_text(payload)
    expect(chat.page.locator(".message-user .bubble")).to_have_text([payload])
    assert (
        chat.page.locator("#messages img, #messages b, #messages script").count() == 0
    )
    assert chat.page.evaluate("window.__xss") is None


def test_urls_become_links_and_chinese_punctuation_stays_outside(chat):
    chat.webhook.reply(
        bot(
            "详见 https://www.gov.cn/zhengce/a.htm?x=1&y=2。或http://example.gov.cn/b，"
            "谢谢 (see https://example.org/c).\n来源：居民身份证首次申领 https://zwfw.example.gov.cn/guide/1"
        ),
        bot("javascript:alert(1) 与 ftp://example.org/x 和 http://[oops 不是链接"),
    )

    chat.ask("怎么办身份证")
    chat.wait_idle()

    links = chat.page.locator("#messages a")
    expect(links).to_have_count(4)
    hrefs = [links.nth(i).get_attribute("href") for i in range(4)]
    assert hrefs == [
        "https://www.gov.cn/zhengce/a.htm?x=1&y=2",
        "http://example.gov.cn/b",
        "https://example.org/c",
        "https://zwfw.example.gov.cn/guide/1",
    ]
    for i in range(4):
        assert links.nth(i).get_attribute("target") == "_blank"
        assert links.nth(i).get_attribute("rel") == "noopener noreferrer"
    source = chat.page.locator(".bubble .source")
    expect(source).to_have_text(
        "来源：居民身份证首次申领 https://zwfw.example.gov.cn/guide/1"
    )
    expect(source.locator("a")).to_have_count(1)
    answer = chat.bot_bubbles().nth(1).evaluate("node => node.textContent")
    assert "gov.cn/b，谢谢 (see https://example.org/c).\n来源：" in answer


def test_button_click_sends_the_payload_and_shows_the_title(chat):
    chat.webhook.reply(
        bot(
            "您是首次申领吗？",
            buttons=[
                {"title": "是，首次申领", "payload": "/affirm"},
                {"title": "不是", "payload": "/deny"},
            ],
        )
    )
    chat.webhook.reply(bot("好的，请准备户口簿。"))
    chat.ask("办身份证")
    chat.wait_idle()

    chat.page.get_by_role("button", name="是，首次申领").click()
    chat.wait_idle()

    assert chat.webhook.bodies[1]["message"] == "/affirm"
    assert chat.webhook.bodies[1]["sender"] == chat.webhook.bodies[0]["sender"]
    expect(chat.page.locator(".message-user .bubble").last).to_have_text("是，首次申领")
    expect(chat.page.get_by_role("button", name="不是")).to_be_disabled()
    expect(chat.bot_bubbles().last).to_have_text("好的，请准备户口簿。")


def test_buttons_work_again_when_sending_the_choice_failed(chat):
    chat.webhook.reply(
        bot("继续吗？", buttons=[{"title": "继续", "payload": "/affirm"}])
    )
    chat.webhook.script.append("abort")
    chat.ask("开餐馆")
    chat.wait_idle()

    chat.page.get_by_role("button", name="继续").click()
    chat.wait_idle()

    expect(chat.page.get_by_role("button", name="继续")).to_be_enabled()
    expect(chat.page.locator("#error")).to_be_visible()


def test_image_only_replies_are_not_shown(chat):
    chat.webhook.reply(bot(image="https://example.org/a.png"), {"recipient_id": "x"})

    chat.ask("发张图")
    chat.wait_idle()

    expect(chat.bot_bubbles()).to_have_count(1)  # the greeting only
    assert chat.page.locator("#messages img").count() == 0


def test_typing_indicator_shows_while_the_reply_is_pending(chat):
    chat.webhook.script.append("hold")

    chat.ask("怎么办居住证")
    chat.page.wait_for_function(
        "document.querySelector('#messages').ariaBusy === 'true'"
    )

    expect(chat.page.locator("#typing")).to_be_visible()
    expect(chat.page.get_by_role("button", name="发送")).to_be_disabled()
    fulfil_json(chat.webhook.held[0], 200, [bot("请携带身份证。")])
    chat.wait_idle()
    expect(chat.page.locator("#typing")).to_be_hidden()
    expect(chat.bot_bubbles().last).to_have_text("请携带身份证。")


def test_unreachable_server_shows_a_chinese_error_and_keeps_the_text(chat):
    chat.webhook.script.append("abort")

    chat.ask("社保卡怎么补办")
    chat.wait_idle()

    expect(chat.page.locator("#error")).to_have_text(
        "无法连接到服务，请检查网络后重试。"
    )
    expect(chat.page.locator(".message-user .message-status")).to_have_text(
        "未发送成功"
    )
    expect(chat.page.get_by_label("输入您的问题")).to_have_value("社保卡怎么补办")


def test_error_line_clears_on_the_next_successful_turn(chat):
    chat.webhook.script.append("abort")
    chat.webhook.reply(bot("好的"))
    chat.ask("第一次")
    chat.wait_idle()

    chat.ask("第一次")
    chat.wait_idle()

    expect(chat.page.locator("#error")).to_be_hidden()


def test_channel_rejection_message_is_shown_as_sent(chat):
    error = {
        "error": {
            "code": "message_too_long",
            "message": "消息过长，请控制在1000字以内。",
        },
        "request_id": "r1",
    }
    chat.webhook.script.append((400, error))

    chat.ask("很长的问题")
    chat.wait_idle()

    expect(chat.page.locator("#error")).to_have_text("消息过长，请控制在1000字以内。")


@pytest.mark.parametrize(
    "answer",
    [
        (500, {"error": {"code": "x", "message": "Traceback"}}),
        (502, "<html><body>Bad Gateway</body></html>"),
        (200, "<html>not json</html>"),
        (200, {"not": "a list"}),
    ],
)
def test_server_failure_shows_the_generic_chinese_error(chat, answer):
    chat.webhook.script.append(answer)

    chat.ask("你好")
    chat.wait_idle()

    expect(chat.page.locator("#error")).to_have_text("服务暂时不可用，请稍后再试。")


def test_empty_input_is_not_sent(chat):
    chat.page.get_by_label("输入您的问题").fill("   ")
    chat.page.get_by_label("输入您的问题").press("Enter")

    expect(chat.page.locator("#error")).to_have_text("请输入您要咨询的问题。")
    assert chat.webhook.bodies == []


def test_session_id_survives_a_reload_and_differs_between_browsers(browser, context):
    first = open_chat(context, ScriptedWebhook())
    first.ask("一")
    first.wait_idle()
    first.page.reload()
    first.ask("二")
    first.wait_idle()
    other_context = browser.new_context()
    try:
        other = open_chat(other_context, ScriptedWebhook())
        other.ask("三")
        other.wait_idle()
    finally:
        other_context.close()

    first_id, reloaded_id = (body["sender"] for body in first.webhook.bodies)
    assert first_id == reloaded_id
    assert other.webhook.bodies[0]["sender"] != first_id


def test_page_is_accessible_and_loads_nothing_from_other_origins(chat):
    log = chat.page.get_by_role("log", name="对话记录")

    expect(log).to_have_attribute("aria-live", "polite")
    expect(chat.page.get_by_label("输入您的问题")).to_be_visible()
    expect(chat.page.locator("html")).to_have_attribute("lang", "zh-CN")
    assert chat.foreign_requests == []
    assert chat.console_errors == []  # no CSP violation, no script error
    assert chat.page.url == PAGE_URL


def test_long_links_do_not_widen_the_page_on_a_phone(chat):
    chat.webhook.reply(bot("来源：示例 https://example.gov.cn/" + "a" * 300))

    chat.ask("长链接")
    chat.wait_idle()

    widths = chat.page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert widths[0] <= widths[1]


def test_reply_that_never_comes_ends_in_a_timeout_message(context):
    webhook = ScriptedWebhook(script=["hold"])
    context.clock.install()
    chat = open_chat(context, webhook)

    chat.ask("怎么办居住证")
    chat.page.wait_for_function(
        "document.querySelector('#messages').ariaBusy === 'true'"
    )
    chat.page.clock.fast_forward(61_000)
    chat.wait_idle()

    expect(chat.page.locator("#error")).to_have_text("服务响应超时，请稍后再试。")
    expect(chat.page.get_by_label("输入您的问题")).to_have_value("怎么办居住证")


def test_page_still_works_when_local_storage_is_blocked(context):
    context.add_init_script(
        "Object.defineProperty(window, 'localStorage', "
        "{get() { throw new DOMException('denied', 'SecurityError'); }});"
    )
    chat = open_chat(context, ScriptedWebhook())
    chat.webhook.reply(bot("好的"))

    chat.ask("你好")
    chat.wait_idle()

    assert SENDER_ID.fullmatch(chat.webhook.bodies[0]["sender"])
    expect(chat.bot_bubbles().last).to_have_text("好的")


def test_long_answer_is_shown_from_its_start_with_the_question_in_view(chat):
    chat.webhook.reply(bot("\n".join(f"第{n}行说明" for n in range(1, 80))))
    chat.webhook.reply(bot("好的"))

    chat.ask("一个长问题")
    chat.wait_idle()
    long_answer_top = _is_in_view(chat, ".message-user >> nth=-1")
    chat.ask("短问题")
    chat.wait_idle()

    assert long_answer_top
    assert _is_in_view(chat, ".message-bot >> nth=-1")


def _is_in_view(chat, selector: str) -> bool:
    box = chat.page.locator(selector).bounding_box()
    area = chat.page.locator("#scroller").bounding_box()
    return (
        area["y"] <= box["y"] and box["y"] + box["height"] <= area["y"] + area["height"]
    )


FEEDBACK_ID = "AbCdEfGhIjKlMnOpQrStUv"


def test_a_thumbs_down_under_an_answer_posts_its_id_and_thanks(chat):
    chat.webhook.reply(bot("携带户口簿到派出所办理。", feedback_id=FEEDBACK_ID))
    chat.ask("办身份证要带什么")
    chat.wait_idle()

    chat.webhook.script.append((200, {"status": "ok"}))
    chat.page.get_by_role("button", name="没有帮助").click()

    expect(chat.page.locator(".feedback-note")).to_have_text("感谢您的反馈")
    assert chat.webhook.bodies[1] == {
        "sender": chat.webhook.bodies[0]["sender"],
        "feedback_id": FEEDBACK_ID,
        "vote": "down",
    }
    expect(chat.page.get_by_role("button", name="有帮助", exact=True)).to_be_disabled()


def test_replies_without_a_valid_feedback_id_get_no_thumbs(chat):
    chat.webhook.reply(bot("您好"), bot("其他", feedback_id="<b>x</b>"))
    chat.ask("你好")
    chat.wait_idle()

    assert chat.page.locator(".feedback").count() == 0


HANDOFF_NO = "RG20261204000001"
WELCOME = re.compile("政务智能助手")


def agent_update(status: str, after: int, *texts: str) -> dict:
    replies = [{"text": text} for text in texts]
    return {
        "handoff_no": HANDOFF_NO,
        "status": status,
        "after": after,
        "replies": replies,
    }


def test_no_agent_polls_without_a_handoff(chat):
    chat.webhook.reply(bot("您好"))
    chat.ask("你好")
    chat.wait_idle()

    expect(chat.bot_bubbles().last).to_have_text("您好")
    assert chat.webhook.polls == []


def test_agent_replies_are_polled_shown_once_and_survive_a_reload(chat):
    chat.webhook.reply(
        bot("已为您转接人工客服，您目前排在第1位。", handoff_no=HANDOFF_NO),
    )
    chat.webhook.agent_script += [
        agent_update("active", 2, "人工客服已接入。", "【人工客服】您好，请讲。"),
        agent_update("active", 2),
    ]
    chat.ask("转人工")

    expect(chat.bot_bubbles()).to_have_text(
        [
            WELCOME,
            "已为您转接人工客服，您目前排在第1位。",
            "人工客服已接入。",
            "【人工客服】您好，请讲。",
        ]
    )
    sender = chat.webhook.bodies[0]["sender"]
    assert chat.webhook.polls[0] == {
        "sender": sender,
        "handoff": HANDOFF_NO,
        "after": "0",
    }

    # A reload starts polling again where the page left off: nothing repeats.
    chat.webhook.agent_script.clear()
    chat.webhook.agent_script.append(agent_update("closed", 3, "本次人工服务已结束。"))
    polls_before = len(chat.webhook.polls)
    chat.page.reload()
    expect(chat.bot_bubbles()).to_have_text([WELCOME, "本次人工服务已结束。"])
    assert chat.webhook.polls[polls_before] == {
        "sender": sender,
        "handoff": HANDOFF_NO,
        "after": "2",
    }

    # Closed: the next message sends no poll.
    chat.webhook.reply(bot("您好"))
    chat.ask("你好")
    chat.wait_idle()
    expect(chat.bot_bubbles().last).to_have_text("您好")
    assert len(chat.webhook.polls) == polls_before + 1
