from __future__ import annotations

import json

import faiss
import numpy as np
import pytest

from knowledge_base.documents import TextPolicy, faq_document
from knowledge_base.errors import IndexMissingError, InvalidDataError
from knowledge_base.index import DENSE, DOCS, MANIFEST, KbIndex, read_manifest
from knowledge_base.schema import FaqEntry
from knowledge_base.scoring import ScoreConfig, Thresholds

DOCS_IN = [
    faq_document(FaqEntry(f"faq-{i}", q, f"答复{i}", "部门"), TextPolicy())
    for i, q in enumerate(["居住证怎么办理", "护照过期了怎么换", "社保卡丢了怎么补"])
]


def build(encoder, tokenizer, documents=DOCS_IN) -> KbIndex:
    return KbIndex.build(
        documents,
        encoder,
        tokenizer,
        source_hash="abc",
        text_policy=TextPolicy(faq_embed_chars=10),
        score_config=ScoreConfig(dense_weight=0.8, keyword_weight=0.2),
        thresholds=Thresholds(answer=0.7, clarify=0.5, margin=0.02),
    )


def test_saved_index_loads_back_identically(tmp_path, encoder, tokenizer):
    index = build(encoder, tokenizer)

    index.save(tmp_path / "index")
    loaded = KbIndex.load(tmp_path / "index", tokenizer)

    assert loaded.documents == index.documents
    assert loaded.manifest == index.manifest
    assert loaded.manifest.thresholds.margin == 0.02
    assert loaded.dense.ntotal == 3
    vectors = encoder.encode_passages([d.text for d in DOCS_IN])
    np.testing.assert_allclose(loaded.dense.reconstruct_n(0, 3), vectors, atol=1e-6)


def test_saving_replaces_the_old_index_and_leaves_no_temporary_files(
    tmp_path, encoder, tokenizer
):
    build(encoder, tokenizer, DOCS_IN[:1]).save(tmp_path / "index")

    build(encoder, tokenizer).save(tmp_path / "index")

    assert KbIndex.load(tmp_path / "index", tokenizer).manifest.doc_count == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]


def test_a_failed_save_keeps_the_old_index(tmp_path, encoder, tokenizer, monkeypatch):
    build(encoder, tokenizer, DOCS_IN[:1]).save(tmp_path / "index")

    def broken(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(faiss, "write_index", broken)
    with pytest.raises(RuntimeError):
        build(encoder, tokenizer).save(tmp_path / "index")

    assert KbIndex.load(tmp_path / "index", tokenizer).manifest.doc_count == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]


def test_duplicate_document_ids_are_refused(encoder, tokenizer):
    with pytest.raises(InvalidDataError, match="duplicate id 'faq-0'"):
        build(encoder, tokenizer, [DOCS_IN[0], DOCS_IN[0]])


def test_loading_without_an_index_names_make_setup(tmp_path, tokenizer):
    with pytest.raises(IndexMissingError, match="make setup"):
        KbIndex.load(tmp_path / "absent", tokenizer)


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: (d / MANIFEST).write_text("{not json"),
        lambda d: (d / DENSE).unlink(),
        lambda d: (d / DOCS).write_text("{}\n"),
        lambda d: (d / DOCS).write_text((d / DOCS).read_text().splitlines()[0] + "\n"),
    ],
    ids=["manifest", "vectors", "docs", "short-docs"],
)
def test_a_damaged_index_is_refused_with_a_rebuild_hint(
    tmp_path, encoder, tokenizer, damage
):
    build(encoder, tokenizer).save(tmp_path / "index")
    damage(tmp_path / "index")

    with pytest.raises(IndexMissingError, match="build --force"):
        KbIndex.load(tmp_path / "index", tokenizer)


def test_manifest_records_model_hash_and_thresholds(tmp_path, encoder, tokenizer):
    build(encoder, tokenizer).save(tmp_path / "index")

    raw = json.loads((tmp_path / "index" / MANIFEST).read_text())

    assert raw["model_id"] == encoder.model_id and raw["dim"] == encoder.dim
    assert raw["doc_count"] == 3 and raw["source_hash"] == "abc"
    assert raw["thresholds"] == {"answer": 0.7, "clarify": 0.5, "margin": 0.02}
    assert raw["text_policy"] == {
        "faq_embed_chars": 10,
        "guide_embed_chars": 200,
        "keyword_chars": 400,
        "faq_body_chars": 150,
        "guide_body_chars": 400,
    }
    assert read_manifest(tmp_path / "absent") is None
