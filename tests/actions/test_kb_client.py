"""The knowledge-base client against a small local aiohttp server."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from aiohttp import web

from actions.errors import KnowledgeBaseUnavailable
from actions.kb_client import KbHit, KnowledgeBaseClient, parse_search_result

HIT = {
    "doc_id": "guide-id-card-first",
    "kind": "guide",
    "title": "居民身份证首次申领",
    "answer": "携带户口簿办理。",
    "department": "公安派出所",
    "source_url": "https://example.gov.cn/id",
    "score": 0.83,
}


def kb_app(search_reply=None, status=200, delay=0.0) -> web.Application:
    async def search(request: web.Request) -> web.Response:
        body = await request.json()
        request.app["queries"].append(body)
        await asyncio.sleep(delay)
        if isinstance(search_reply, str):
            return web.Response(text=search_reply, status=status)
        return web.json_response(search_reply, status=status)

    async def document(request: web.Request) -> web.Response:
        if request.match_info["doc_id"] == HIT["doc_id"]:
            return web.json_response(HIT)
        return web.json_response({"error": {"code": "doc_not_found"}}, status=404)

    app = web.Application()
    app["queries"] = []
    app.router.add_post("/search", search)
    app.router.add_get("/docs/{doc_id}", document)
    return app


@pytest.fixture
async def client_for(aiohttp_server):
    clients = []

    async def make(app, timeout=None):
        server = await aiohttp_server(app)
        kwargs = {"timeout": timeout} if timeout else {}
        client = KnowledgeBaseClient(str(server.make_url("/")), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_search_returns_frozen_hits(client_for):
    app = kb_app({"outcome": "answer", "hits": [HIT]})
    client = await client_for(app)
    result = await client.search("第一次办身份证", top_k=2)
    assert result.outcome == "answer"
    assert result.hits == (KbHit(**HIT),)
    assert app["queries"] == [{"query": "第一次办身份证", "top_k": 2}]


async def test_one_session_serves_many_calls(client_for):
    client = await client_for(kb_app({"outcome": "no_answer", "hits": []}))
    await client.search("a")
    session = client._session
    await client.search("b")
    assert client._session is session


async def test_document_by_id_and_missing_document(client_for):
    client = await client_for(kb_app())
    assert (await client.document(HIT["doc_id"])).title == HIT["title"]
    assert await client.document("faq-gone") is None


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        ({"error": {"code": "invalid_query"}}, 400),
        ({"error": {"code": "internal"}}, 500),
        ("<html>bad gateway</html>", 200),
        ({"outcome": "maybe", "hits": []}, 200),
        ({"outcome": "answer", "hits": {"not": "a list"}}, 200),
        ({"outcome": "answer", "hits": [{"doc_id": "x"}]}, 200),
        ({"outcome": "answer", "hits": ["not an object"]}, 200),
    ],
)
async def test_bad_replies_are_unavailable(client_for, reply, status):
    client = await client_for(kb_app(reply, status=status))
    with pytest.raises(KnowledgeBaseUnavailable):
        await client.search("问题")


async def test_slow_service_times_out_as_unavailable(client_for):
    app = kb_app({"outcome": "no_answer", "hits": []}, delay=1.0)
    client = await client_for(app, timeout=aiohttp.ClientTimeout(total=0.2))
    with pytest.raises(KnowledgeBaseUnavailable) as error:
        await client.search("问题")
    assert error.value.reason == "TimeoutError"


async def test_unreachable_service_is_unavailable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = KnowledgeBaseClient(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(KnowledgeBaseUnavailable):
            await client.search("问题")
    finally:
        await client.close()


def test_parse_keeps_empty_optional_fields_as_none():
    hit = {**HIT, "department": "", "source_url": None}
    result = parse_search_result({"outcome": "answer", "hits": [hit]})
    assert result.hits[0].department is None and result.hits[0].source_url is None


def test_parse_reads_the_one_fact_asked_for_and_ignores_the_explanation():
    hit = {
        **HIT,
        "field": "materials",
        "field_answer": "申请材料：\n1. 居民户口簿",
        "why": {"cosine": 0.9, "dense": 0.5, "keyword": 0.2, "identifier": False},
    }
    (parsed,) = parse_search_result({"outcome": "answer", "hits": [hit]}).hits
    assert parsed.field == "materials"
    assert parsed.field_answer == "申请材料：\n1. 居民户口簿"


def test_parse_treats_a_non_text_fact_as_absent():
    hit = {**HIT, "field": 3, "field_answer": ["x"]}
    (parsed,) = parse_search_result({"outcome": "answer", "hits": [hit]}).hits
    assert parsed.field is None and parsed.field_answer is None


async def test_the_service_token_is_sent_as_a_bearer_header(aiohttp_server):
    seen = []

    async def search(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"outcome": "no_answer", "hits": []})

    app = web.Application()
    app.router.add_post("/search", search)
    server = await aiohttp_server(app)
    client = KnowledgeBaseClient(str(server.make_url("/")), token="kb-secret")
    try:
        await client.search("居住证")
    finally:
        await client.close()

    assert seen == ["Bearer kb-secret"]
