"""GET /metrics on every process of the running stack, after real turns.

Starts all four processes as `make run` does; a question and 转人工 go
through the chat page's webhook, then each process is scraped with the
development ZW_METRICS_TOKEN.
"""

from __future__ import annotations

import re

import aiohttp
import pytest

from bot.settings import DEV_METRICS_TOKEN

pytestmark = pytest.mark.slow

SENDER = "web-0123456789abcdef0123456789abcdef"
SCRAPE = {"Authorization": f"Bearer {DEV_METRICS_TOKEN}"}


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory):
    from bot.stack import start_stack

    stack = start_stack(tmp_path_factory.mktemp("metrics-var"))
    yield stack
    stack.stop()


def value(text: str, series: str) -> float:
    """The value of one exact series line (name and labels) in a scrape."""
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def _scrape(session: aiohttp.ClientSession, base: str) -> str:
    async with session.get(f"{base}/metrics", headers=SCRAPE) as resp:
        assert resp.status == 200, base
        return await resp.text()


async def test_every_process_counts_real_turns_behind_the_metrics_token(
    running_stack,
):
    settings = running_stack.settings
    urls = {
        "rasa": running_stack.rasa_url,
        "actions": f"http://127.0.0.1:{settings.action_port}",
        "kb": running_stack.kb_url,
        "backend": running_stack.backend_url,
    }
    async with aiohttp.ClientSession() as session:
        for base in urls.values():
            async with session.get(f"{base}/metrics") as resp:
                assert resp.status == 401, base
        for text in ("社保卡丢了怎么补办", "转人工"):
            async with session.post(
                f"{running_stack.rasa_url}/webhooks/web/webhook",
                json={"sender": SENDER, "message": text},
            ) as resp:
                assert resp.status == 200
        scraped = {name: await _scrape(session, base) for name, base in urls.items()}

    rasa, actions, kb = scraped["rasa"], scraped["actions"], scraped["kb"]
    assert value(rasa, 'zw_rasa_turns_total{channel="web",result="handled"}') == 2
    assert value(rasa, 'zw_rasa_intents_total{intent="request_agent"}') == 1
    assert value(rasa, "zw_rasa_handoffs_total") == 1
    ran = 'zw_actions_runs_total{action="action_answer_question",result="ok"}'
    assert value(actions, ran) >= 1
    assert (
        sum(
            value(actions, f'zw_actions_kb_answers_total{{outcome="{outcome}"}}')
            for outcome in ("answered", "clarified", "no_answer")
        )
        >= 1
    )
    assert value(kb, 'zw_kb_requests_total{route="/search",status_class="2xx"}') >= 1
    assert value(kb, "zw_kb_index_documents") > 0
    assert "zw_backend_requests" in scraped["backend"]
    assert SENDER not in "".join(scraped.values())
