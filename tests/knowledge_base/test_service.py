from __future__ import annotations

import json
import logging

import pytest

from knowledge_base.documents import TextPolicy, faq_document
from knowledge_base.index import KbIndex
from knowledge_base.metrics import REGISTRY
from knowledge_base.schema import FaqEntry
from knowledge_base.scoring import ScoreConfig, Thresholds
from knowledge_base.search import Searcher
from knowledge_base.service import MAX_QUERY_CHARS, REQUEST_ID_HEADER, create_app

ENTRIES = [
    FaqEntry(
        "faq-1",
        "居住证怎么办理",
        "到社区登记半年后申领。",
        "公安局",
        "https://example.gov.cn/1",
    ),
    FaqEntry("faq-2", "护照过期了怎么换", "向出入境管理机构申请换发。", "出入境"),
]


@pytest.fixture
def searcher(encoder, tokenizer) -> Searcher:
    index = KbIndex.build(
        [faq_document(e, TextPolicy(faq_embed_chars=0)) for e in ENTRIES],
        encoder,
        tokenizer,
        source_hash="x",
        text_policy=TextPolicy(),
        score_config=ScoreConfig(dense_floor=0.0, dense_ceiling=1.0),
        thresholds=Thresholds(answer=0.8, clarify=0.3),
    )
    return Searcher(index, encoder)


TOKEN = "test-kb-token"


@pytest.fixture
async def client(aiohttp_client, searcher):
    """A client that presents the service's token on every request."""
    return await aiohttp_client(
        create_app(searcher, token=TOKEN), headers={"Authorization": f"Bearer {TOKEN}"}
    )


@pytest.fixture
async def anonymous(aiohttp_client, searcher):
    return await aiohttp_client(create_app(searcher, token=TOKEN))


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/search"), ("GET", "/docs/faq-1"), ("GET", "/x")]
)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer ", f"Bearer {TOKEN}x"],
)
async def test_every_path_but_health_needs_the_token(
    anonymous, method, path, authorization
):
    headers = {"Authorization": authorization} if authorization else {}

    response = await anonymous.request(
        method, path, json={"query": "居住证"}, headers=headers
    )

    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body = await response.json()
    assert body["error"]["code"] == "unauthorized"
    assert body["request_id"] == response.headers[REQUEST_ID_HEADER]


async def test_health_is_open_without_a_token(anonymous):
    assert (await anonymous.get("/health")).status == 200


METRICS_TOKEN = "test-metrics-token"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def scraper(aiohttp_client, searcher):
    """A client of an app with a metrics token; each call names its own token."""
    app = create_app(searcher, token=TOKEN, metrics_token=METRICS_TOKEN)
    return await aiohttp_client(app)


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Bearer {TOKEN}", f"Basic {METRICS_TOKEN}"],
)
async def test_metrics_refuse_a_missing_wrong_or_kb_token(scraper, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = await scraper.get("/metrics", headers=headers)

    assert response.status == 401
    body = await response.json()
    assert body["error"]["code"] == "unauthorized"
    assert body["request_id"] == response.headers[REQUEST_ID_HEADER]


async def test_the_metrics_token_opens_nothing_but_metrics(scraper):
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}

    response = await scraper.post("/search", json={"query": "居住证"}, headers=headers)

    assert response.status == 401


async def test_metrics_without_a_configured_token_are_refused(anonymous):
    response = await anonymous.get("/metrics", headers={"Authorization": "Bearer "})

    assert response.status == 401


async def test_a_search_moves_the_search_and_request_counters(scraper):
    answered = sample("zw_kb_searches_total", outcome="answer")
    timed = sample("zw_kb_search_seconds_count")
    ok = sample("zw_kb_requests_total", route="/search", status_class="2xx")
    auth = {"Authorization": f"Bearer {TOKEN}"}

    await scraper.post("/search", json={"query": "护照过期了怎么换"}, headers=auth)
    response = await scraper.get(
        "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )

    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await response.text()
    assert 'zw_kb_searches_total{outcome="answer"}' in text
    assert "zw_kb_index_documents 2.0" in text
    assert sample("zw_kb_searches_total", outcome="answer") == answered + 1
    assert sample("zw_kb_search_seconds_count") == timed + 1
    assert sample("zw_kb_requests_total", route="/search", status_class="2xx") == (
        ok + 1
    )


async def test_requests_are_counted_by_route_template_not_path(client):
    before = sample("zw_kb_requests_total", route="/docs/{doc_id}", status_class="4xx")

    assert (await client.get("/docs/no-such-entry")).status == 404

    after = sample("zw_kb_requests_total", route="/docs/{doc_id}", status_class="4xx")
    assert after == before + 1
    assert sample("zw_kb_requests_total", route="/docs/no-such-entry") == 0


def test_create_app_refuses_an_empty_token(searcher):
    with pytest.raises(ValueError, match="ZW_KB_TOKEN"):
        create_app(searcher, token="")


async def test_health_reports_docs_model_and_index(client, searcher):
    response = await client.get("/health")

    assert response.status == 200
    body = await response.json()
    assert body == {
        "status": "ok",
        "docs": 2,
        "model": searcher.index.manifest.model_id,
        "index_id": searcher.index.manifest.index_id,
    }


async def test_search_answers_with_hits_in_the_documented_shape(client):
    response = await client.post(
        "/search", json={"query": "护照过期了怎么换", "top_k": 2}
    )

    assert response.status == 200
    body = await response.json()
    assert body["outcome"] == "answer"
    assert [hit["doc_id"] for hit in body["hits"]] == ["faq-2", "faq-1"]
    assert set(body["hits"][0]) == {
        "doc_id",
        "kind",
        "title",
        "answer",
        "department",
        "source_url",
        "score",
        "field",
        "field_answer",
        "why",
    }
    assert set(body["hits"][0]["why"]) == {"cosine", "dense", "keyword", "identifier"}
    assert body["field"] is None and body["rewrites"] == []
    assert 0.0 <= body["hits"][1]["score"] <= body["hits"][0]["score"] <= 1.0
    assert response.headers[REQUEST_ID_HEADER]


async def test_search_logs_length_but_never_the_query(client, caplog):
    caplog.set_level(logging.INFO, logger="knowledge_base.service")

    await client.post("/search", json={"query": "居住证怎么办理"})

    (record,) = [r for r in caplog.records if r.getMessage() == "kb.search.done"]
    assert record.query_chars == 7
    assert "居住证" not in caplog.text


@pytest.mark.parametrize(
    "body",
    [
        {"query": ""},
        {"query": "   "},
        {"query": 12},
        {},
        {"query": "问" * (MAX_QUERY_CHARS + 1)},
        {"query": "居住证", "top_k": 0},
        {"query": "居住证", "top_k": 11},
        {"query": "居住证", "top_k": True},
        {"query": "居住证", "top_k": "3"},
        ["居住证"],
    ],
)
async def test_bad_search_bodies_get_400_with_code_and_request_id(client, body):
    response = await client.post(
        "/search", data=json.dumps(body), headers={REQUEST_ID_HEADER: "req-123"}
    )

    assert response.status == 400
    payload = await response.json()
    assert payload["error"]["code"] == "invalid_query"
    assert payload["request_id"] == "req-123"


async def test_a_body_that_is_not_json_gets_400(client):
    response = await client.post("/search", data="query=居住证")

    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_query"


async def test_an_oversized_body_is_refused_as_json(client):
    response = await client.post("/search", data="x" * 100_000)

    assert response.status == 413
    body = await response.json()
    assert body["error"]["code"] == "body_too_large" and body["request_id"]


async def test_document_by_id_and_404_for_unknown(client):
    found = await client.get("/docs/faq-1")
    missing = await client.get("/docs/faq-404")

    assert found.status == 200
    assert (await found.json())["score"] == 1.0
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "doc_not_found"


async def test_unknown_routes_get_json_errors(client):
    response = await client.get("/nowhere")

    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_an_unexpected_failure_is_a_500_without_details(
    client, searcher, monkeypatch, caplog
):
    def broken(query, top_k):
        raise RuntimeError("secret detail 居住证")

    monkeypatch.setattr(searcher, "search", broken)

    response = await client.post("/search", json={"query": "居住证"})

    assert response.status == 500
    body = await response.json()
    assert body["error"] == {"code": "internal_error", "message": "internal error"}
    assert "secret detail" not in caplog.text and "kb.request.failed" in caplog.text


async def test_an_unsafe_request_id_is_replaced(client):
    response = await client.get("/health", headers={REQUEST_ID_HEADER: "a b;c"})

    assert response.headers[REQUEST_ID_HEADER] != "a b;c"


def test_serve_stops_before_listening_when_the_index_is_missing(layout):
    from knowledge_base.errors import IndexMissingError
    from knowledge_base.service import serve

    with pytest.raises(IndexMissingError, match="make setup"):
        serve(layout, host="127.0.0.1", port=18061, token=TOKEN)


def test_parse_search_refuses_a_lone_surrogate():
    from knowledge_base.errors import InvalidQueryError
    from knowledge_base.service import parse_search

    with pytest.raises(InvalidQueryError, match="valid Unicode"):
        parse_search({"query": "身份证\ud800怎么办"})


@pytest.mark.parametrize(
    ("token", "named"),
    [
        (None, "ZW_KB_TOKEN is the development default"),
        ("", "ZW_KB_TOKEN is empty"),
        ("short", "ZW_KB_TOKEN is shorter than 16"),
    ],
)
def test_serve_in_production_mode_refuses_a_dev_or_weak_token(
    monkeypatch, capsys, token, named
):
    from knowledge_base import cli

    monkeypatch.setattr(cli, "configure_logging", lambda level: None)
    monkeypatch.setattr(
        "knowledge_base.service.serve", lambda *a, **k: pytest.fail("served")
    )
    monkeypatch.setenv("ZW_MODE", "production")
    monkeypatch.delenv("ZW_KB_TOKEN", raising=False)
    if token is not None:
        monkeypatch.setenv("ZW_KB_TOKEN", token)

    assert cli.main(["serve"]) == 2
    assert named in capsys.readouterr().err


def test_serve_command_passes_the_metrics_token_from_the_settings(monkeypatch):
    from knowledge_base import cli

    served = []
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)
    monkeypatch.setattr(
        "knowledge_base.service.serve", lambda *a, **k: served.append(k)
    )
    monkeypatch.setenv("ZW_METRICS_TOKEN", "scraper-token-0123456")

    assert cli.main(["serve"]) == 0
    assert served[0]["metrics_token"] == "scraper-token-0123456"
