"""The hotline assist API: the real backend audits, a scripted knowledge base.

The channel runs in Sanic on a free port; the backend is the real aiohttp
app on a migrated SQLite file, so tokens, grants and audit rows are real.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestServer
from sanic import Sanic
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.backend_client import BackendClient
from actions.errors import KnowledgeBaseUnavailable
from actions.kb_client import KbHit, KbSearchResult
from backend.app import create_app
from backend.db import AuditEntry, ReviewRecord, create_db_engine, upgrade_schema
from bot.settings import load_settings
from channels.assist import AssistInput
from channels.web_assets import CONSOLE_TYPES
from knowledge_base.scenarios import load_scenarios
from tests.sanic_server import serving

BACKEND_TOKEN = "test-backend-token"
AGENTS = (("li", "test-agent-li-token"), ("wang", "test-agent-wang-token"))
LI = {"Authorization": "Bearer test-agent-li-token"}
WANG = {"Authorization": "Bearer test-agent-wang-token"}
ID_NUMBER = "990101198503120117"
PHONE = "13000000001"

HIT = KbHit(
    doc_id="guide-food-licence",
    kind="guide",
    title="食品经营许可（餐饮服务）",
    answer="整份办事指南……",
    department="县级市场监督管理局",
    source_url="https://example.gov.cn/guide/food",
    score=0.8123,
    field="materials",
    field_answer="需要准备：食品经营许可申请书、营业执照……",
)


class ScriptedKb:
    """Answers every search with ``result``; remembers the queries."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.result: KbSearchResult | None = KbSearchResult("answer", (HIT,))

    async def search(self, query: str, top_k: int = 3) -> KbSearchResult:
        self.queries.append(query)
        if self.result is None:
            raise KnowledgeBaseUnavailable("kb down")
        return self.result


@pytest.fixture
async def backend(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'backend.db'}")
    upgrade_schema(engine)
    settings = replace(
        load_settings({}),
        backend_token=BACKEND_TOKEN,
        agent_tokens=AGENTS,
        unmasked_agents=frozenset({"li"}),
    )
    server = TestServer(create_app(settings, engine))
    await server.start_server(access_log=None)
    yield SimpleNamespace(url=str(server.make_url("")).rstrip("/"), engine=engine)
    await server.close()
    engine.dispose()


@pytest.fixture
async def assist(backend, monkeypatch, tmp_path):
    monkeypatch.setattr(Sanic, "test_mode", True)
    # The console's files are the browser test's business (test_assist_console).
    for name in CONSOLE_TYPES:
        (tmp_path / name).write_text("console", encoding="utf-8")
    kb = ScriptedKb()
    client = BackendClient(backend.url, BACKEND_TOKEN)
    channel = AssistInput(
        backend=client,
        kb=kb,
        scenarios=load_scenarios(load_settings({}).kb_data_dir / "scenarios"),
        user_hash_key="test-user-hash-key-000000",
        static_dir=tmp_path,
    )
    app = Sanic(f"test_assist_{uuid.uuid4().hex}")
    app.blueprint(channel.blueprint(None), url_prefix="/webhooks/assist")
    async with serving(app) as session:
        yield SimpleNamespace(session=session, kb=kb, engine=backend.engine)
    await client.close()


TRANSCRIPT = [
    {"role": "agent", "text": "您好，12345热线，请讲。"},
    {"role": "caller", "text": "我想开个火锅店，大概三百平，不卖烟"},
    {"role": "agent", "text": "好的，请问您的身份证号和电话？"},
    {"role": "caller", "text": f"身份证{ID_NUMBER}，电话{PHONE}"},
    {"role": "caller", "text": "开饭店要带什么材料"},
]


async def suggest(assist, body, headers=LI):
    async with assist.session.post(
        "/webhooks/assist/v1/suggest",
        data=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json", **headers},
    ) as response:
        return response.status, await response.json()


def audit_rows(engine) -> list[tuple[str, str, str]]:
    with Session(engine, future=True) as session:
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(row.who, row.action, row.reason) for row in rows]


async def test_suggestions_scenario_and_masked_fields(assist):
    status, body = await suggest(assist, {"call_id": "c1", "turns": TRANSCRIPT})

    assert status == 200 and body["version"] == "v1"
    [first] = body["suggestions"]
    assert first == {
        "rank": 1,
        "doc_id": "guide-food-licence",
        "title": "食品经营许可（餐饮服务）",
        "answer": "需要准备：食品经营许可申请书、营业执照……",
        "field": "materials",
        "department": "县级市场监督管理局",
        "source_url": "https://example.gov.cn/guide/food",
        "score": 0.812,
    }
    scenario = body["scenario"]
    assert scenario["id"] == "restaurant"
    assert {"label": "经营场所面积", "value": "300平方米"} in scenario["answers"]
    assert "食品经营许可（餐饮服务）" in [item["name"] for item in scenario["items"]]
    assert scenario["open_questions"]  # 营业执照, 招牌… are still to ask
    # Not asked unmasked: the agent sees masks only, and so does the search.
    assert body["unmasked"] is False
    values = {field["kind"]: field["value"] for field in body["fields"]}
    assert values == {"id_number": "[身份证号]", "mobile": "[手机号]"}
    assert ID_NUMBER not in json.dumps(body) and PHONE not in json.dumps(body)
    assert assist.kb.queries == ["开饭店要带什么材料"]


async def test_a_short_last_turn_is_searched_with_the_one_before(assist):
    turns = [
        {"role": "caller", "text": f"我的电话是{PHONE}，失业金怎么领"},
        {"role": "agent", "text": "您在哪个区？"},
        {"role": "caller", "text": "要多久？"},
    ]
    status, body = await suggest(assist, {"turns": turns})
    assert status == 200
    assert assist.kb.queries == ["我的电话是[手机号]，失业金怎么领 要多久？"]
    assert body["query"] == assist.kb.queries[0]
    assert body["scenario"] is None


async def test_unmasked_values_only_for_an_agent_allowed_them(assist):
    asked = {"turns": TRANSCRIPT, "unmasked": True}
    _, allowed = await suggest(assist, asked, LI)
    _, refused = await suggest(assist, asked, WANG)

    assert {f["value"] for f in allowed["fields"]} == {ID_NUMBER, PHONE}
    assert allowed["unmasked"] is True
    assert {f["value"] for f in refused["fields"]} == {"[身份证号]", "[手机号]"}
    assert refused["unmasked"] is False
    assert audit_rows(assist.engine) == [
        ("agent:li", "assist.suggest", "hotline_assist_unmasked"),
        ("agent:wang", "assist.suggest", "hotline_assist"),
    ]


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": "Basic bGk6eA=="}, 401, "unauthorized"),
        ({"Authorization": "Bearer wrong-token"}, 401, "unauthorized"),
        ({"Authorization": f"Bearer {BACKEND_TOKEN}"}, 403, "forbidden"),
    ],
)
async def test_only_an_agent_token_gets_suggestions(assist, headers, status, code):
    got, body = await suggest(assist, {"turns": TRANSCRIPT}, headers)
    assert (got, body["error"]["code"]) == (status, code)
    assert "suggestions" not in body
    assert assist.kb.queries == []
    assert audit_rows(assist.engine) == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"turns": []},
        {"turns": "我想开饭店"},
        {"turns": [{"role": "agent", "text": "您好"}]},
        {"turns": [{"role": "citizen", "text": "你好"}]},
        {"turns": [{"role": "caller", "text": ""}]},
        {"turns": [{"role": "caller", "text": "很长" * 600}]},
        {"turns": [{"role": "caller", "text": 12}]},
        {"turns": [{"role": "caller", "text": "你好", "extra": 1}]},
        {"turns": [{"role": "caller", "text": "你好"}] * 51},
        {"turns": [{"role": "caller", "text": "你好"}], "unmasked": "yes"},
        {"turns": [{"role": "caller", "text": "你好"}], "call_id": "<b>"},
        {"turns": [{"role": "caller", "text": "你好"}], "send": True},
    ],
)
async def test_a_malformed_transcript_gets_a_chinese_400(assist, body):
    status, answer = await suggest(assist, body)
    assert status == 400
    assert answer["error"]["code"] == "invalid_request"
    assert any("\u4e00" <= char <= "\u9fff" for char in answer["error"]["message"])
    assert audit_rows(assist.engine) == []


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[1, 2]", "\ud800".encode("utf-8", "surrogatepass")]
)
async def test_a_body_that_is_not_a_json_object_is_refused(assist, raw):
    async with assist.session.post(
        "/webhooks/assist/v1/suggest", data=raw, headers=LI
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "invalid_json"


async def test_an_oversized_body_is_refused(assist):
    async with assist.session.post(
        "/webhooks/assist/v1/suggest", data=b"x" * 200_000, headers=LI
    ) as response:
        assert response.status == 413


async def test_without_the_knowledge_base_the_rest_still_comes(assist):
    assist.kb.result = None
    status, body = await suggest(assist, {"turns": TRANSCRIPT})
    assert status == 200
    assert body["outcome"] == "unavailable" and body["suggestions"] == []
    assert body["scenario"]["id"] == "restaurant"


async def test_without_the_audit_nothing_is_computed(assist, backend):
    # The audit log cannot be written: the database file is gone.
    backend.engine.dispose()
    Path(backend.engine.url.database).unlink()
    status, body = await suggest(assist, {"turns": TRANSCRIPT})
    assert status == 503
    assert "suggestions" not in body
    assert assist.kb.queries == []


async def feedback(assist, body, headers=LI):
    async with assist.session.post(
        "/webhooks/assist/v1/feedback",
        data=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json", **headers},
    ) as response:
        return response.status, await response.json()


async def test_a_wrong_suggestion_is_recorded_for_maintainers_masked(assist):
    question = f"开饭店要带什么材料，我电话{PHONE}"
    status, _ = await feedback(
        assist,
        {"question": question, "doc_id": HIT.doc_id, "score": 0.81, "verdict": "wrong"},
    )
    assert status == 201
    status, _ = await feedback(
        assist, {"question": "良民证哪里开", "verdict": "missing"}
    )
    assert status == 201

    with Session(assist.engine, future=True) as session:
        records = session.execute(select(ReviewRecord)).scalars().all()
        stored = sorted((r.kind, r.channel, r.question) for r in records)
    assert stored == [
        ("agent_wrong", "hotline", "开饭店要带什么材料，我电话[手机号]"),
        ("agent_wrong", "hotline", "良民证哪里开"),
    ]
    actions = [row[1] for row in audit_rows(assist.engine)]
    assert actions.count("assist.feedback") == 2


@pytest.mark.parametrize(
    "body",
    [
        {"question": "x", "verdict": "wrong"},
        {"question": "x", "verdict": "great"},
        {"question": "", "verdict": "missing"},
        {"question": "x", "verdict": "missing", "score": 2},
        {"question": "x", "verdict": "wrong", "doc_id": "../../etc/passwd"},
    ],
)
async def test_malformed_feedback_is_refused(assist, body):
    status, answer = await feedback(assist, body)
    assert status == 400 and answer["error"]["code"] == "invalid_request"


async def test_feedback_needs_an_agent_token(assist):
    status, _ = await feedback(assist, {"question": "x", "verdict": "missing"}, {})
    assert status == 401
