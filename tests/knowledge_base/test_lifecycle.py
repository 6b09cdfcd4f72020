"""Adding, updating and withdrawing entries in a live knowledge base."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from knowledge_base import cli, lifecycle, pipeline
from knowledge_base.errors import InvalidDataError
from knowledge_base.index import KbIndex, read_manifest
from knowledge_base.metrics import REGISTRY
from knowledge_base.service import create_app
from knowledge_base.tokenizer import KbTokenizer
from tests.knowledge_base.conftest import DICT_DIR, HashingEncoder

ROWS = [
    {"id": "faq-1", "question": "居住证怎么办理", "answer": "到社区登记后申领。"},
    {
        "id": "faq-2",
        "question": "护照过期了怎么换",
        "answer": "向出入境管理机构申请换发。",
    },
]
GUIDE_YAML = """\
topic: test
guides:
  - id: pet-licence
    name: 养犬登记证办理
    audience: personal
    last_checked: 2026-12-01
    sample: true
    department: 公安机关
    eligibility: 在城区饲养犬只的居民
    required_materials: [居民身份证, 犬只免疫证明]
    sources:
      - url: https://example.gov.cn/pet
"""


def write_faq(path, rows):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return path


@pytest.fixture
def env(layout, monkeypatch):
    monkeypatch.setenv("ZW_BUILD_DIR", str(layout.index_dir.parent))
    monkeypatch.setenv("ZW_KB_DATA_DIR", str(layout.data_dir))
    model = HashingEncoder()
    monkeypatch.setattr(pipeline, "load_encoder", lambda path: model)
    (layout.data_dir / "faq").mkdir()
    write_faq(layout.data_dir / "faq" / "base.jsonl", ROWS)
    pipeline.build(layout, layout.default_sources(), encoder=model)
    return layout, model


def reloads(result: str) -> float:
    labels = {"result": result}
    return REGISTRY.get_sample_value("zw_kb_index_reloads_total", labels) or 0.0


def doc_ids(layout):
    index = KbIndex.load(layout.index_dir, KbTokenizer.load(DICT_DIR))
    return {doc.doc_id for doc in index.documents}


def test_add_copies_a_guide_file_and_rebuilds_embedding_only_the_new_texts(
    env, tmp_path, capsys
):
    layout, model = env
    before = model.encoded
    guide = tmp_path / "pets.yml"
    guide.write_text(GUIDE_YAML, encoding="utf-8")

    assert cli.main(["add", str(guide)]) == 0

    assert (layout.data_dir / "guides" / "pets.yml").is_file()
    assert doc_ids(layout) == {"faq-1", "faq-2", "guide-pet-licence"}
    # Only the new guide is embedded (its title and body texts, equal here).
    assert 1 <= model.encoded - before <= 2
    assert "3 documents" in capsys.readouterr().out


def test_adding_a_file_of_the_same_name_updates_its_entries(env, tmp_path):
    layout, _ = env
    changed = write_faq(
        tmp_path / "base.jsonl", [{**ROWS[0], "answer": "网上申领即可。"}]
    )

    assert cli.main(["add", str(changed)]) == 0

    index = KbIndex.load(layout.index_dir, KbTokenizer.load(DICT_DIR))
    assert [(d.doc_id, d.answer) for d in index.documents] == [
        ("faq-1", "网上申领即可。")
    ]


def test_a_broken_file_is_refused_and_nothing_changes(env, tmp_path, capsys):
    layout, _ = env
    before = read_manifest(layout.index_dir)
    broken = tmp_path / "broken.yml"
    broken.write_text("topic: x\nguides:\n  - id: Bad Id\n", encoding="utf-8")

    assert cli.main(["add", str(broken)]) == 2

    assert "error [kb_invalid_data]" in capsys.readouterr().err
    assert not (layout.data_dir / "guides" / "broken.yml").exists()
    assert read_manifest(layout.index_dir) == before


def test_an_add_whose_build_fails_is_rolled_back(env, tmp_path):
    layout, _ = env
    clash = write_faq(tmp_path / "other.jsonl", [ROWS[0]])  # repeats faq-1

    assert cli.main(["add", str(clash)]) == 2

    assert not (layout.data_dir / "faq" / "other.jsonl").exists()
    assert doc_ids(layout) == {"faq-1", "faq-2"}


def test_an_unknown_file_kind_is_refused(env, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert cli.main(["add", str(text)]) == 2


def test_remove_withdraws_until_restored(env, capsys):
    layout, _ = env

    assert cli.main(["remove", "faq-2"]) == 0
    assert doc_ids(layout) == {"faq-1"}
    assert "faq-2" in lifecycle.read_withdrawn(layout.data_dir)
    # Still in its source file, for the record.
    assert "faq-2" in (layout.data_dir / "faq" / "base.jsonl").read_text()

    assert cli.main(["restore", "faq-2"]) == 0
    assert doc_ids(layout) == {"faq-1", "faq-2"}


def test_removing_an_unknown_id_changes_nothing(env, capsys):
    layout, _ = env
    assert cli.main(["remove", "faq-404"]) == 2
    assert "no such document: faq-404" in capsys.readouterr().err
    assert lifecycle.read_withdrawn(layout.data_dir) == frozenset()


def test_query_explains_and_stats_describe_the_index(env, capsys):
    assert cli.main(["query", "护照过期了怎么换"]) == 0
    out = capsys.readouterr().out
    assert "cosine" in out and "keyword" in out and "faq-2" in out

    assert cli.main(["stats"]) == 0
    out = capsys.readouterr().out
    assert "documents    2: faq 2" in out and "withdrawn    0" in out


def test_a_second_writer_waits_for_the_first(layout):
    held = threading.Event()
    release = threading.Event()

    def first():
        with lifecycle.build_lock(layout.index_dir):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(5)
    with (
        pytest.raises(lifecycle.BuildLockedError),
        lifecycle.build_lock(layout.index_dir, wait=0.2),
    ):
        pass
    release.set()
    thread.join()
    with lifecycle.build_lock(layout.index_dir, wait=0.2):
        pass


def test_concurrent_builds_leave_one_whole_index(env):
    layout, model = env
    errors = []

    def build():
        try:
            pipeline.build(layout, layout.default_sources(), force=True, encoder=model)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert doc_ids(layout) == {"faq-1", "faq-2"}


def test_withdraw_refuses_an_id_the_sources_do_not_hold(tmp_path):
    with pytest.raises(InvalidDataError, match="faq-9"):
        lifecycle.withdraw(tmp_path, ["faq-9"], known=["faq-1"])


async def test_the_running_service_picks_up_a_withdrawal_without_a_restart(
    env, aiohttp_client
):
    layout, model = env
    searcher = pipeline.open_searcher(layout, encoder=model)
    client = await aiohttp_client(
        create_app(searcher, layout, reload_seconds=0.05, token="t"),
        headers={"Authorization": "Bearer t"},
    )
    first = (await (await client.get("/health")).json())["index_id"]
    assert (await client.get("/docs/faq-2")).status == 200
    loaded = reloads("loaded")

    await asyncio.to_thread(cli.main, ["remove", "faq-2"])

    deadline = time.monotonic() + 10
    while (await (await client.get("/health")).json())["index_id"] == first:
        assert time.monotonic() < deadline, "the service never reloaded"
        await asyncio.sleep(0.05)
    assert (await client.get("/docs/faq-2")).status == 404
    body = await (
        await client.post("/search", json={"query": "护照过期了怎么换"})
    ).json()
    assert "faq-2" not in [hit["doc_id"] for hit in body["hits"]]
    assert reloads("loaded") == loaded + 1
    assert REGISTRY.get_sample_value("zw_kb_index_documents") == 1


async def test_an_unreadable_new_index_leaves_the_old_one_served(env, aiohttp_client):
    layout, model = env
    searcher = pipeline.open_searcher(layout, encoder=model)
    client = await aiohttp_client(
        create_app(searcher, layout, reload_seconds=0.05, token="t"),
        headers={"Authorization": "Bearer t"},
    )
    manifest = layout.index_dir / "manifest.json"
    raw = json.loads(manifest.read_text())
    failed = reloads("failed")
    manifest.write_text(json.dumps({**raw, "index_id": "changed", "doc_count": 99}))

    await asyncio.sleep(0.3)
    deadline = time.monotonic() + 10
    while reloads("failed") == failed:
        assert time.monotonic() < deadline, "the service never tried the index"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)

    body = await (await client.get("/health")).json()
    assert body["docs"] == 2 and body["index_id"] != "changed"
    # Tried once, then left alone until RETRY_FAILED_SECONDS have passed.
    assert reloads("failed") == failed + 1
    assert REGISTRY.get_sample_value("zw_kb_index_documents") == 2
