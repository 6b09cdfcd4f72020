"""The gap report: grouping on fixed vectors, suggestions, the CLI on a backend."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import aiohttp
import numpy as np
import pytest
from aiohttp.test_utils import TestServer

from backend.app import create_app
from backend.db import create_db_engine, upgrade_schema
from bot.settings import load_settings
from knowledge_base import cli, gaps, pipeline
from knowledge_base.gaps import GapRecord, group_questions, suggest
from knowledge_base.search import SearchHit, SearchResult
from tests.knowledge_base.conftest import HashingEncoder
from tests.knowledge_base.test_cli import write_lines

ACTION_TOKEN = "gaps-test-action-token"
OPERATOR_TOKEN = "gaps-test-operator-token"


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_near_questions_share_a_group_largest_first():
    vectors = np.stack(
        [
            unit(1, 0, 0),  # 0: group A
            unit(0, 1, 0),  # 1: group B
            unit(1, 0.1, 0),  # 2: A
            unit(0, 0, 1),  # 3: alone
            unit(0.1, 1, 0),  # 4: B
            unit(1, 0, 0.1),  # 5: A
        ]
    )

    groups = group_questions(vectors, threshold=0.95)

    assert [g.members for g in groups] == [(0, 2, 5), (1, 4), (3,)]
    assert groups[0].representative == 0


def test_a_group_does_not_creep_along_a_chain_of_questions():
    # Each step is close to the one before, the ends are far apart: with a
    # running centroid everything would end in one group.
    angles = np.radians(np.arange(0, 90, 12))
    vectors = np.stack([unit(np.cos(a), np.sin(a), 0) for a in angles])

    groups = group_questions(vectors, threshold=0.97)

    assert len(groups) > 1
    for group in groups:
        members = vectors[list(group.members)]
        assert float((members @ members.T).min()) > 0.9


def test_grouping_matches_a_brute_force_check_of_the_rule():
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    groups = group_questions(vectors, threshold=0.5)

    # Replay in record order: each later member had a mean cosine of at
    # least the threshold with the members before it.
    for group in groups:
        for position, row in enumerate(group.members[1:], start=1):
            earlier = vectors[list(group.members[:position])]
            assert float((earlier @ vectors[row]).mean()) >= 0.5 - 1e-6
    assert sorted(row for g in groups for row in g.members) == list(range(40))


def hit(doc_id: str, score: float) -> SearchHit:
    return SearchHit(doc_id, "faq", "居住证办理", "答", None, None, score)


@pytest.mark.parametrize(
    ("records", "result", "expected"),
    [
        ([GapRecord("no_answer", "q")], SearchResult("no_answer", ()), "add_answer"),
        (
            [GapRecord("no_answer", "q", ("faq-1",))] * 2,
            SearchResult("no_answer", (hit("faq-1", 0.57),)),
            "add_synonym",
        ),
        (
            [GapRecord("no_answer", "q", ("faq-9",))] * 2,
            SearchResult("no_answer", (hit("faq-1", 0.55),)),
            "add_answer",
        ),
        (
            [GapRecord("no_answer", "q", ("faq-1",))],
            SearchResult("no_answer", (hit("faq-1", 0.5),)),
            "add_answer",
        ),
        (
            [GapRecord("thumbs_down", "q", ("faq-1",))],
            SearchResult("no_answer", (hit("faq-1", 0.55),)),
            "add_answer",
        ),
        (
            [GapRecord("no_answer", "q")],
            SearchResult("answer", (hit("faq-2", 0.8),)),
            "answered_now",
        ),
        (
            [GapRecord("clarify_rejected", "q", ("faq-2",))],
            SearchResult("answer", (hit("faq-2", 0.8),)),
            "add_answer",
        ),
    ],
)
def test_the_suggestion_follows_the_current_index(records, result, expected):
    assert suggest(records, result, answer_threshold=0.6) == expected


@pytest.fixture
def env(layout, monkeypatch, tmp_path):
    monkeypatch.setenv("ZW_BUILD_DIR", str(layout.index_dir.parent))
    monkeypatch.setenv("ZW_KB_DATA_DIR", str(layout.data_dir))
    monkeypatch.setenv("ZW_OPERATOR_TOKEN", OPERATOR_TOKEN)
    model = HashingEncoder()
    monkeypatch.setattr(pipeline, "load_encoder", lambda path: model)
    faq = write_lines(
        tmp_path / "faq.jsonl",
        [{"id": "faq-1", "question": "护照过期了怎么换", "answer": "申请换发。"}],
    )
    assert cli.main(["build", "--faq", str(faq)]) == 0
    return layout


@pytest.fixture
async def backend_url(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'backend.db'}")
    upgrade_schema(engine)
    settings = replace(
        load_settings({}), backend_token=ACTION_TOKEN, operator_token=OPERATOR_TOKEN
    )
    server = TestServer(create_app(settings, engine))
    await server.start_server(access_log=None)
    yield str(server.make_url("")).rstrip("/")
    await server.close()
    engine.dispose()


async def seed(client_url: str, questions: list[str]) -> None:
    headers = {"Authorization": f"Bearer {ACTION_TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for question in questions:
            body = {
                "kind": "no_answer",
                "question": question,
                "channel": "web",
                "user_hash": "0123456789abcdef",
            }
            async with session.post(f"{client_url}/v1/review-records", json=body) as r:
                assert r.status == 201


DOG = ["养狗要办什么证", "养狗要办什么证件", "我想养狗要办什么证"]


async def test_the_cli_reports_the_largest_gap_from_the_backend(
    env, backend_url, capsys
):
    await seed(backend_url, [*DOG, "公园几点开门"])

    code = await asyncio.to_thread(
        cli.main, ["gaps", "--backend-url", backend_url, "--similarity", "0.6"]
    )

    out = capsys.readouterr().out
    assert code == 0
    assert "gap report: 4 records" in out
    first = out.split("\n#2")[0]
    assert "#1  3 records  [no_answer 3]" in first
    assert "养狗要办什么证" in first
    assert "add an answer" in first


async def test_the_report_reads_an_answer_the_operator_just_added(
    env, backend_url, tmp_path, capsys
):
    await seed(backend_url, DOG)
    arguments = ["gaps", "--backend-url", backend_url]
    await asyncio.to_thread(cli.main, arguments)
    assert "top match:  faq-dog" not in capsys.readouterr().out
    answer = write_lines(
        tmp_path / "dog.jsonl",
        [{"id": "faq-dog", "question": "养狗要办什么证", "answer": "办理养犬登记证。"}],
    )

    assert cli.main(["add", str(answer)]) == 0
    capsys.readouterr()
    await asyncio.to_thread(cli.main, arguments)

    assert "top match:  faq-dog" in capsys.readouterr().out


def test_the_cli_without_a_backend_says_what_to_do(env, capsys):
    code = cli.main(["gaps", "--backend-url", "http://127.0.0.1:9"])

    err = capsys.readouterr().err
    assert code == 2
    assert "error [review_records_unavailable]" in err
    assert "--records FILE" in err


def test_the_cli_reads_an_exported_file(env, tmp_path, capsys):
    rows = [{"kind": "thumbs_down", "question": q, "matches": []} for q in DOG]
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))

    assert cli.main(["gaps", "--records", str(path), "--similarity", "0.6"]) == 0

    assert "#1  3 records  [thumbs_down 3]" in capsys.readouterr().out


def test_a_broken_records_file_is_an_error_with_a_code(env, tmp_path, capsys):
    path = tmp_path / "records.jsonl"
    path.write_text("not json\n")

    assert cli.main(["gaps", "--records", str(path)]) == 2
    assert "review_records_unavailable" in capsys.readouterr().err


def test_no_records_make_an_empty_report(env, tmp_path, capsys):
    path = tmp_path / "records.jsonl"
    path.write_text("")

    assert cli.main(["gaps", "--records", str(path)]) == 0
    assert "0 records" in capsys.readouterr().out


def test_the_backend_refusing_the_token_is_reported(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise gaps.urllib.error.HTTPError("u", 403, "Forbidden", {}, None)

    monkeypatch.setattr(gaps.urllib.request, "urlopen", refuse)

    with pytest.raises(gaps.ReviewSourceError, match="HTTP 403"):
        gaps.fetch_records("http://x", "t", gaps.since_days(1))
