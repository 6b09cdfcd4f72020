"""The action server's GET /metrics and what the actions count.

The server tests run rasa-sdk's own app with our plugin attached, on a free
port, over the fake services of tests/actions/conftest.py.
"""

from __future__ import annotations

import uuid
import zlib

import pytest
from rasa_sdk.endpoint import create_app
from sanic import Sanic

import rasa_sdk_plugins
from actions import metrics
from actions.answer import ActionAnswerCandidate, ActionAnswerQuestion
from actions.application import ActionSubmitApplication
from actions.backend_client import BackendRejected, BackendUnavailable
from actions.errors import KnowledgeBaseUnavailable
from actions.kb_client import KbHit, KbSearchResult
from actions.metrics import REGISTRY
from tests.actions.conftest import make_tracker
from tests.actions.test_application import submit_tracker
from tests.sanic_server import serving

ACTION_TOKEN = "test-action-token"
METRICS_TOKEN = "test-metrics-token"
FAQ = KbHit("faq-0001", "faq", "社保卡补办", "到社保经办机构补办。", None, None, 0.7)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def server(monkeypatch):
    """rasa-sdk's app for the actions package, extended by our plugin."""
    monkeypatch.setenv("ZW_ACTION_TOKEN", ACTION_TOKEN)
    monkeypatch.setenv("ZW_METRICS_TOKEN", METRICS_TOKEN)
    monkeypatch.setattr(Sanic, "test_mode", True)
    app = create_app("actions")
    app.name = f"test_actions_{uuid.uuid4().hex}"
    rasa_sdk_plugins.ActionServerLifecycle().attach_sanic_app_extensions(app)
    async with serving(app) as session:
        yield session


def action_call(action: str, text: str = "社保卡怎么补办") -> dict:
    """A webhook body as the Rasa server sends it (the fields rasa-sdk reads)."""
    return {
        "next_action": action,
        "sender_id": "citizen-1",
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": "citizen-1",
            "slots": {},
            "latest_message": {
                "text": text,
                "intent": {"name": "ask_question", "confidence": 0.9},
                "entities": [],
            },
            "events": [{"event": "user", "text": text}],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Bearer {ACTION_TOKEN}", f"Basic {METRICS_TOKEN}"],
)
async def test_metrics_refuse_a_missing_wrong_or_action_token(server, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    async with server.get("/metrics", headers=headers) as resp:
        body = await resp.json()

    assert resp.status == 401
    assert body["error"]["code"] == "unauthorized"


async def test_the_metrics_token_does_not_run_actions(server):
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}

    async with server.post(
        "/webhook", json=action_call("action_answer_question"), headers=headers
    ) as resp:
        assert resp.status == 401


async def test_a_real_action_call_moves_the_action_and_answer_counters(server, kb):
    kb.result = KbSearchResult("answer", (FAQ,))
    ran = {"action": "action_answer_question", "result": "ok"}
    before = sample("zw_actions_runs_total", **ran)
    timed = sample("zw_actions_run_seconds_count", action="action_answer_question")
    answered = sample("zw_actions_kb_answers_total", outcome="answered")

    async with server.post(
        "/webhook",
        json=action_call("action_answer_question"),
        headers={"Authorization": f"Bearer {ACTION_TOKEN}"},
    ) as resp:
        assert resp.status == 200
    async with server.get(
        "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    ) as resp:
        text = await resp.text()

    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'zw_actions_runs_total{action="action_answer_question",result="ok"}' in text
    assert sample("zw_actions_runs_total", **ran) == before + 1
    assert sample("zw_actions_run_seconds_count", action="action_answer_question") == (
        timed + 1
    )
    assert sample("zw_actions_kb_answers_total", outcome="answered") == answered + 1


async def test_an_unknown_action_counts_as_unknown_not_by_its_name(server):
    before = sample("zw_actions_runs_total", action="unknown", result="error")

    async with server.post(
        "/webhook",
        json=action_call("action_made_up_by_a_caller"),
        headers={"Authorization": f"Bearer {ACTION_TOKEN}"},
    ) as resp:
        assert resp.status == 404

    assert sample("zw_actions_runs_total", action="unknown", result="error") == (
        before + 1
    )
    assert sample("zw_actions_runs_total", action="action_made_up_by_a_caller") == 0


@pytest.mark.parametrize(
    ("body", "encoding", "name"),
    [
        (b'{"next_action": "action_x"}', None, "action_x"),
        (zlib.compress(b'{"next_action": "action_x"}'), "deflate", "action_x"),
        (b"{", None, None),
        (b"not deflate", "deflate", None),
        (b'["action_x"]', None, None),
        (b'{"next_action": 3}', None, None),
    ],
)
def test_action_name_reads_plain_and_deflated_bodies(body, encoding, name):
    assert metrics.action_name(body, encoding) == name


@pytest.mark.parametrize(
    ("status", "result"),
    [(200, "ok"), (400, "rejected"), (404, "error"), (500, "error")],
)
def test_action_result_follows_the_status(status, result):
    assert metrics.action_result(status) == result


@pytest.mark.parametrize(
    ("result", "outcome"),
    [
        (KbSearchResult("answer", (FAQ,)), "answered"),
        (KbSearchResult("clarify", (FAQ, FAQ)), "clarified"),
        (KbSearchResult("no_answer", ()), "no_answer"),
    ],
)
async def test_each_kb_outcome_is_counted_once(kb, dispatcher, result, outcome):
    kb.result = result
    before = sample("zw_actions_kb_answers_total", outcome=outcome)

    await ActionAnswerQuestion().run(dispatcher, make_tracker("社保卡"), {})

    assert sample("zw_actions_kb_answers_total", outcome=outcome) == before + 1


async def test_an_unreachable_kb_counts_as_unavailable(kb, dispatcher):
    kb.error = KnowledgeBaseUnavailable("timeout")
    before = sample("zw_actions_kb_answers_total", outcome="unavailable")

    await ActionAnswerQuestion().run(dispatcher, make_tracker("社保卡"), {})

    assert sample("zw_actions_kb_answers_total", outcome="unavailable") == before + 1


async def test_a_picked_candidate_counts_as_answered(kb, dispatcher):
    kb.documents = {FAQ.doc_id: FAQ}
    tracker = make_tracker(
        "/choose_candidate", entities=[{"entity": "kb_doc_id", "value": FAQ.doc_id}]
    )
    before = sample("zw_actions_kb_answers_total", outcome="answered")

    await ActionAnswerCandidate().run(dispatcher, tracker, {})

    assert sample("zw_actions_kb_answers_total", outcome="answered") == before + 1


@pytest.mark.parametrize(
    ("error", "result"),
    [
        (None, "delivered"),
        (BackendUnavailable("backend_timeout"), "queued"),
        (BackendRejected("invalid_submission", status=422), "rejected"),
    ],
)
async def test_a_confirmed_submission_counts_what_the_citizen_is_told(
    dispatcher, backend, error, result
):
    backend.error = error
    before = sample("zw_actions_submissions_total", result=result)

    await ActionSubmitApplication().run(dispatcher, submit_tracker(), {})

    assert sample("zw_actions_submissions_total", result=result) == before + 1


async def test_a_queued_submission_sent_later_counts_as_an_outbox_delivery(
    dispatcher, backend
):
    backend.error = BackendUnavailable("backend_timeout")
    await ActionSubmitApplication().run(dispatcher, submit_tracker(), {})
    backend.error = None
    before = sample("zw_actions_outbox_deliveries_total", result="delivered")
    submitted = sample("zw_actions_submissions_total", result="delivered")

    retry = submit_tracker(confirm=True, intent="submit_application")
    await ActionSubmitApplication().run(dispatcher, retry, {})

    after = sample("zw_actions_outbox_deliveries_total", result="delivered")
    assert after == before + 1
    # The citizen's first confirmation was the submission; not counted twice.
    assert sample("zw_actions_submissions_total", result="delivered") == submitted


def test_an_unexpected_label_value_counts_as_other():
    before = sample("zw_actions_submissions_total", result="other")

    metrics.count_submission("exploded")

    assert sample("zw_actions_submissions_total", result="other") == before + 1
    assert sample("zw_actions_submissions_total", result="exploded") == 0
