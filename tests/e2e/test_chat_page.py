"""A citizen's question on the chat page, answered by the whole running stack.

Drives Debian's headless Chromium (never a downloaded browser) against the
Rasa server that ``running_stack`` starts; screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re

import pytest

from tests.channels.browser import (
    DESKTOP,
    PHONE,
    chromium_path,
    launch_chromium,
    screenshot_path,
)

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

# Matches the sample guide "出生医学证明办理" (knowledge_base/data/guides/birth.yml),
# which has two close neighbours: the bot may answer or offer them as choices.
QUESTION = "新生儿怎么办出生医学证明"
GUIDE_TITLE = "出生医学证明办理"
# The first turn after start-up can wait on the action server and the KB.
ANSWER_TIMEOUT_MS = 90_000
HTTP_URL = re.compile(r"https?://\S+")


@pytest.fixture(scope="session")
def chromium():
    """Skip before the stack starts (minutes) when there is no browser."""
    return chromium_path()


def _answers_after_last_question(page) -> list[dict]:
    """Text and link targets of the bot messages after the citizen's question."""
    return page.evaluate(
        """() => {
          const users = document.querySelectorAll('#messages .message-user');
          const last = users[users.length - 1];
          const answers = [];
          let node = last.nextElementSibling;
          for (; node; node = node.nextElementSibling) {
            if (!node.classList.contains('message-bot')) continue;
            const bubble = node.querySelector('.bubble');
            answers.push({
              text: bubble ? bubble.textContent : '',
              links: Array.from(node.querySelectorAll('a'), (a) => a.href),
            });
          }
          return answers;
        }"""
    )


def _wait_for_reply(page) -> None:
    page.wait_for_selector("#messages[aria-busy='false']", timeout=ANSWER_TIMEOUT_MS)


def test_question_on_the_chat_page_gets_an_answer_with_a_linked_source(
    chromium, running_stack
):
    with launch_chromium() as browser:
        context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
        page = context.new_page()
        page.goto(f"{running_stack.rasa_url}/webhooks/web/")

        page.get_by_label("输入您的问题").fill(QUESTION)
        page.get_by_label("输入您的问题").press("Enter")
        page.wait_for_selector(".message-user")
        _wait_for_reply(page)
        choice = page.locator(".buttons button", has_text=GUIDE_TITLE)
        if choice.count():
            # A clarification: the citizen clicks the guide they meant.
            choice.first.click()
            page.wait_for_selector(f".message-user >> text={GUIDE_TITLE}")
            _wait_for_reply(page)
        page.screenshot(path=screenshot_path("chat_page_desktop.png"))
        page.set_viewport_size(PHONE)
        page.screenshot(path=screenshot_path("chat_page_phone.png"))
        answers = _answers_after_last_question(page)
        error_shown = page.locator("#error").is_visible()
        context.close()

    assert not error_shown, "the page showed its connection error line"
    assert answers, "the bot sent no message the page shows"
    text = "\n".join(answer["text"] for answer in answers)
    links = [link for answer in answers for link in answer["links"]]
    assert "来源" in text
    assert GUIDE_TITLE in text
    assert any(HTTP_URL.fullmatch(link) for link in links), links
