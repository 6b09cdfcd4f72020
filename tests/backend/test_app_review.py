"""Review records: the action server writes them masked, an operator reads them."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import AuditEntry, ReviewRecord
from tests.backend.conftest import AUTH, OPERATOR_AUTH

URL = "/v1/review-records"
USER_HASH = "0123456789abcdef"
# Fictional: 990101 is no place's area code; 139 0000 0000 is not assigned.
FICTIONAL_ID = "990101198503120117"


def record_body(**changes):
    body = {
        "kind": "no_answer",
        "question": "养狗要办什么证",
        "matches": [{"doc_id": "faq-00012", "score": 0.31}],
        "channel": "web",
        "user_hash": USER_HASH,
    }
    body.update(changes)
    return body


async def _post(client, **changes):
    return await client.post(URL, json=record_body(**changes), headers=AUTH)


async def test_a_record_is_stored_with_its_matches(client):
    response = await _post(client)

    assert response.status == 201
    body = await response.json()
    assert body["kind"] == "no_answer"
    assert body["matches"] == [{"doc_id": "faq-00012", "score": 0.31}]
    assert body["user_hash"] == USER_HASH
    assert len(body["record_id"]) == 32


async def test_the_question_is_masked_before_it_is_stored(client, engine):
    question = f"我的身份证{FICTIONAL_ID}，电话13900000000，退休金怎么领"

    response = await _post(client, question=question)

    assert (await response.json())["question"] == (
        "我的身份证[身份证号]，电话[手机号]，退休金怎么领"
    )
    with Session(engine) as session:
        stored = session.execute(select(ReviewRecord.question)).scalar_one()
    assert FICTIONAL_ID not in stored
    assert "13900000000" not in stored


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "angry"},
        {"question": ""},
        {"question": "   "},
        {"question": "问" * 1001},
        {"question": 12},
        {"matches": "faq-1"},
        {"matches": [{"doc_id": "faq-1", "score": 1.5}]},
        {"matches": [{"doc_id": "faq-1", "score": True}]},
        {"matches": [{"doc_id": "<script>", "score": 0.1}]},
        {"matches": [{"doc_id": "faq-1", "title": "x"}]},
        {"matches": [{"doc_id": f"faq-{n}"} for n in range(11)]},
        {"channel": "Web Chat"},
        {"user_hash": "web-0123456789abcdef0123456789abcdef"},
        {"user_hash": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"},
        {"extra": 1},
    ],
)
async def test_a_malformed_record_is_refused_with_a_code(client, changes):
    response = await _post(client, **changes)

    assert response.status == 400
    body = await response.json()
    assert body["error"]["code"] == "invalid_request"
    assert set(body) == {"error", "request_id"}


async def test_each_kind_is_accepted(client):
    for kind in ("no_answer", "clarify_rejected", "thumbs_down", "agent_wrong"):
        response = await _post(client, kind=kind, matches=[])
        assert response.status == 201, kind


async def test_a_match_without_a_score_is_kept(client):
    response = await _post(client, matches=[{"doc_id": "guide-a"}])

    assert (await response.json())["matches"] == [{"doc_id": "guide-a", "score": None}]


async def test_only_the_action_server_records_and_only_an_operator_reads(client):
    as_operator = await client.post(URL, json=record_body(), headers=OPERATOR_AUTH)
    as_action_server = await client.get(f"{URL}?since=2026-01-01", headers=AUTH)
    anonymous = await client.get(f"{URL}?since=2026-01-01")

    assert as_operator.status == 403
    assert as_action_server.status == 403
    assert anonymous.status == 401


async def test_an_operator_reads_the_records_since_a_date(client):
    await _post(client, question="第一问")
    await _post(client, question="第二问", kind="thumbs_down")

    response = await client.get(f"{URL}?since=2026-01-01", headers=OPERATOR_AUTH)

    assert response.status == 200
    body = await response.json()
    assert [r["question"] for r in body["records"]] == ["第一问", "第二问"]
    assert body["next_after"] is None


async def test_records_before_since_are_left_out(client):
    await _post(client)

    response = await client.get(f"{URL}?since=2999-01-01", headers=OPERATOR_AUTH)

    assert (await response.json())["records"] == []


async def test_the_operator_pages_through_many_records(client):
    for number in range(5):
        await _post(client, question=f"问题{number}")

    seen, after = [], 0
    while after is not None:
        response = await client.get(
            f"{URL}?since=2026-01-01&limit=2&after={after}", headers=OPERATOR_AUTH
        )
        body = await response.json()
        seen.extend(r["question"] for r in body["records"])
        after = body["next_after"]

    assert seen == [f"问题{number}" for number in range(5)]


@pytest.mark.parametrize(
    "query",
    ["", "?since=yesterday", "?since=2026-01-01&limit=0", "?since=2026-01-01&after=-1"],
)
async def test_a_bad_query_is_refused(client, query):
    response = await client.get(URL + query, headers=OPERATOR_AUTH)

    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_request"


async def test_writes_and_reads_are_audited(client, engine):
    created = await (await _post(client)).json()
    await client.get(f"{URL}?since=2026-01-01", headers=OPERATOR_AUTH)

    with Session(engine) as session:
        rows = session.execute(select(AuditEntry)).scalars().all()
    trail = [(row.who, row.action, row.reason) for row in rows]
    assert ("action_server", "review.record", "review_loop") in trail
    assert ("operator", "review.list", "review_loop") in trail
    assert created["record_id"] in {row.target for row in rows}
