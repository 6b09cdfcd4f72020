"""Review records from the actions, through the real backend client and backend.

A no-answer and a rejected clarification reach the backend's table masked,
with the entries matched and a keyed hash of the sender; a backend that is
down or slow changes nothing in the citizen's turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions import review
from actions.answer import (
    REJECT_PAYLOAD,
    ActionAnswerQuestion,
    ActionRejectCandidates,
)
from actions.backend_client import BackendClient
from actions.kb_client import KbHit, KbSearchResult
from actions.services import Services, use_services
from backend.app import create_app
from backend.db import ReviewRecord, create_db_engine, upgrade_schema
from bot.privacy import hash_user
from bot.settings import PROJECT_ROOT, load_settings
from tests.actions.conftest import FICTIONAL_ID, make_tracker, responses, slot_events

TOKEN = "review-test-token"
HASH_KEY = "review-test-hash-key"
FAST = aiohttp.ClientTimeout(total=1, connect=0.5)
DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))

GUIDE = KbHit("guide-a", "guide", "身份证首次申领", "带户口簿。", "公安", None, 0.41)
FAQ = KbHit("faq-0001", "faq", "社保卡补办", "到社保经办机构补办。", None, None, 0.4)


@pytest.fixture
def engine(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'backend.db'}")
    upgrade_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def delay():
    """Seconds the backend waits before each answer (a slow backend)."""
    return {"s": 0.0}


@pytest.fixture
async def backend_url(engine, delay):
    settings = replace(load_settings({}), backend_token=TOKEN)
    app = create_app(settings, engine)

    @web.middleware
    async def slow(request, handler):
        await asyncio.sleep(delay["s"])
        return await handler(request)

    app.middlewares.insert(0, slow)
    server = TestServer(app)
    await server.start_server(access_log=None)
    yield str(server.make_url(""))
    await server.close()


@pytest.fixture
async def real_services(kb, scenarios, backend_url):
    client = BackendClient(backend_url, TOKEN, timeout=FAST, attempts=1)
    installed = Services(
        kb=kb, backend=client, scenarios=scenarios, user_hash_key=HASH_KEY
    )
    use_services(installed)
    yield installed
    await review.drain()
    await client.close()
    use_services(None)


def stored(engine) -> list[ReviewRecord]:
    with Session(engine) as session:
        return list(session.execute(select(ReviewRecord)).scalars())


def web_tracker(text: str, **kwargs):
    tracker = make_tracker(text, **kwargs)
    for event in tracker.events:
        if event["event"] == "user":
            event["input_channel"] = "web"
    return tracker


async def ask(dispatcher, text: str):
    tracker = web_tracker(text, intent="ask_question")
    return await ActionAnswerQuestion().run(dispatcher, tracker, DOMAIN)


async def test_a_no_answer_is_recorded_masked_with_its_nearest_entries(
    kb, dispatcher, real_services, engine
):
    kb.result = KbSearchResult("no_answer", (GUIDE,))

    await ask(dispatcher, f"我身份证{FICTIONAL_ID}，养狗要办什么证")
    await review.drain()

    assert responses(dispatcher) == ["utter_kb_no_answer"]
    [record] = stored(engine)
    assert record.kind == "no_answer"
    assert record.question == "我身份证[身份证号]，养狗要办什么证"
    assert record.matches == [{"doc_id": "guide-a", "score": 0.41}]
    assert record.channel == "web"
    assert record.user_hash == hash_user("citizen-1", HASH_KEY)
    assert record.recorded_by == "action_server"


@pytest.mark.parametrize("outcome", ["answer", "clarify"])
async def test_an_answer_or_a_clarification_records_nothing(
    kb, dispatcher, real_services, engine, outcome
):
    kb.result = KbSearchResult(outcome, (GUIDE, FAQ))

    await ask(dispatcher, "第一次办身份证要带什么")
    await review.drain()

    assert stored(engine) == []


async def test_the_clarification_ends_with_a_none_of_these_button(kb, dispatcher):
    kb.result = KbSearchResult("clarify", (GUIDE, FAQ))

    await ask(dispatcher, "身份证")

    buttons = dispatcher.messages[0]["buttons"]
    assert [b["title"] for b in buttons] == [GUIDE.title, FAQ.title, "都不是"]
    assert buttons[-1]["payload"] == REJECT_PAYLOAD


def after_clarification(question: str, candidates: list[str]):
    """The 都不是 turn, after a clarification of ``question``."""
    tracker = web_tracker(
        REJECT_PAYLOAD,
        intent="reject_candidates",
        slots={"kb_candidates": candidates},
    )
    tracker.events[:0] = [
        {"event": "user", "text": question},
        {"event": "slot", "name": "kb_candidates", "value": candidates},
        {"event": "bot", "text": "您想问的是下面哪一项？请点选："},
    ]
    return tracker


async def test_none_of_these_records_the_clarified_question_and_candidates(
    dispatcher, real_services, engine
):
    tracker = after_clarification("电话13900000000能办身份证吗", ["guide-a", "faq-1"])

    events = await ActionRejectCandidates().run(dispatcher, tracker, DOMAIN)
    await review.drain()

    assert responses(dispatcher) == ["utter_kb_candidates_rejected"]
    assert slot_events(events) == {"kb_candidates": None}
    [record] = stored(engine)
    assert record.kind == "clarify_rejected"
    assert record.question == "电话[手机号]能办身份证吗"
    assert [m["doc_id"] for m in record.matches] == ["guide-a", "faq-1"]


async def test_none_of_these_without_a_clarification_records_nothing(
    dispatcher, real_services, engine
):
    tracker = web_tracker("都不是", intent="reject_candidates")

    await ActionRejectCandidates().run(dispatcher, tracker, DOMAIN)
    await review.drain()

    assert responses(dispatcher) == ["utter_kb_candidates_rejected"]
    assert stored(engine) == []


async def test_a_slow_backend_does_not_slow_the_reply(
    kb, dispatcher, real_services, engine, delay
):
    kb.result = KbSearchResult("no_answer", ())
    delay["s"] = 0.5

    started = time.perf_counter()
    await ask(dispatcher, "养狗要办什么证")
    elapsed = time.perf_counter() - started

    assert responses(dispatcher) == ["utter_kb_no_answer"]
    assert elapsed < 0.3
    await review.drain()
    assert len(stored(engine)) == 1


async def test_a_backend_that_is_down_only_warns(kb, dispatcher, scenarios, caplog):
    client = BackendClient("http://127.0.0.1:9", TOKEN, timeout=FAST, attempts=1)
    use_services(Services(kb=kb, backend=client, scenarios=scenarios))
    kb.result = KbSearchResult("no_answer", ())

    with caplog.at_level(logging.WARNING, logger="actions.review"):
        await ask(dispatcher, "养狗要办什么证")
        await review.drain()
    await client.close()

    assert responses(dispatcher) == ["utter_kb_no_answer"]
    [warning] = [r for r in caplog.records if r.name == "actions.review"]
    assert warning.getMessage() == "actions.review.record.failed"
    assert warning.code == "backend_unreachable"


async def test_a_backend_that_crashes_the_call_only_warns(
    kb, dispatcher, services, backend, caplog
):
    async def broken(_request):
        raise RuntimeError("boom")

    backend.record_review = broken
    kb.result = KbSearchResult("no_answer", ())

    with caplog.at_level(logging.WARNING, logger="actions.review"):
        await ask(dispatcher, "养狗要办什么证")
        await review.drain()

    assert responses(dispatcher) == ["utter_kb_no_answer"]
    [warning] = [r for r in caplog.records if r.name == "actions.review"]
    assert warning.exc_type == "RuntimeError"


def test_outside_an_event_loop_a_record_is_dropped_with_a_warning(caplog):
    request = review.review_request("no_answer", "问", [], "web", "0" * 16)

    with caplog.at_level(logging.WARNING, logger="actions.review"):
        review.record_in_background(object(), request)

    assert [r.getMessage() for r in caplog.records] == ["actions.review.record.no_loop"]


@pytest.mark.parametrize(
    ("channel", "expected"),
    [("web", "web"), ("WeChat", "wechat"), (None, "unknown"), ("a b", "unknown")],
)
def test_the_channel_name_is_checked_before_it_is_sent(channel, expected):
    request = review.review_request("no_answer", "问", [], channel, "0" * 16)

    assert request.channel == expected


async def test_an_answer_names_its_entry_for_a_thumbs_down_but_not_the_question(
    kb, dispatcher
):
    kb.result = KbSearchResult("answer", (GUIDE,))

    await ask(dispatcher, "身份证怎么办")

    assert dispatcher.messages[0]["custom"] == {
        "kb_feedback": {"doc_id": "guide-a", "score": 0.41}
    }
