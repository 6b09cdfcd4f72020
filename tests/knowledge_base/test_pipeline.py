from __future__ import annotations

import json
import os
import shutil

import pytest

from bot.settings import PROJECT_ROOT
from knowledge_base import pipeline
from knowledge_base.calibration import save_calibration
from knowledge_base.errors import IndexMissingError, ModelMissingError
from knowledge_base.index import MANIFEST
from knowledge_base.scoring import ScoreConfig, Thresholds
from tests.knowledge_base.conftest import HashingEncoder

SAMPLE_GUIDES = PROJECT_ROOT / "knowledge_base" / "data" / "guides"
FAQ_ROWS = [
    {"id": "faq-1", "question": "居住证怎么办理", "answer": "到社区登记后申领。"},
    {
        "id": "faq-2",
        "question": "护照过期了怎么换",
        "answer": "向出入境管理机构申请换发。",
    },
]


@pytest.fixture
def sources(layout):
    shutil.copy(SAMPLE_GUIDES / "identity_card.yml", layout.data_dir / "guides")
    (layout.data_dir / "faq").mkdir()
    faq = layout.data_dir / "faq" / "sample.jsonl"
    faq.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in FAQ_ROWS) + "\n"
    )
    return layout.default_sources()


def test_build_writes_an_index_of_guides_and_faq(layout, sources, encoder):
    manifest, built = pipeline.build(layout, sources, encoder=encoder)

    assert built
    searcher = pipeline.open_searcher(layout, encoder=encoder)
    kinds = {doc.kind for doc in searcher.index.documents}
    assert kinds == {"guide", "faq"} and manifest.doc_count == len(
        searcher.index.documents
    )
    assert searcher.search("护照过期了怎么换").hits[0].doc_id == "faq-2"


def test_build_skips_when_nothing_changed_and_touches_the_manifest(
    layout, sources, encoder
):
    pipeline.build(layout, sources, encoder=encoder)
    manifest_path = layout.index_dir / MANIFEST
    os.utime(manifest_path, (1, 1))

    manifest, built = pipeline.build(layout, sources, encoder=encoder)

    assert not built
    assert manifest_path.stat().st_mtime > 1
    assert pipeline.build(layout, sources, force=True, encoder=encoder)[1]


def test_changed_sources_or_calibration_trigger_a_rebuild(layout, sources, encoder):
    pipeline.build(layout, sources, encoder=encoder)
    faq = sources.faq_files[0]
    faq.write_text(
        faq.read_text() + '{"id": "faq-3", "question": "问", "answer": "答"}\n'
    )

    manifest, built = pipeline.build(layout, sources, encoder=encoder)
    assert (
        built
        and manifest.doc_count == pipeline.read_manifest(layout.index_dir).doc_count
    )

    save_calibration(
        layout.calibration_file,
        encoder.model_id,
        ScoreConfig(),
        Thresholds(0.9, 0.1),
        {},
    )
    manifest, built = pipeline.build(layout, sources, encoder=encoder)
    assert built and manifest.thresholds == Thresholds(0.9, 0.1)


def test_a_model_without_calibration_gets_defaults_with_a_warning(layout, caplog):
    config, thresholds = pipeline.scoring_for(layout, "uncalibrated/model")

    assert (config, thresholds) == (ScoreConfig(), Thresholds())
    assert "kb.calibration.missing" in caplog.text


def test_catalogue_sources_are_loaded_as_guides(layout, tmp_path):
    from tests.knowledge_base.test_loader import CATALOGUE_ROW

    path = tmp_path / "cat.jsonl"
    path.write_text(json.dumps(CATALOGUE_ROW, ensure_ascii=False) + "\n")

    (doc,) = pipeline.load_documents(
        pipeline.Sources(catalogues=(path,)), layout.text_policy
    )

    assert doc.doc_id == "guide-" + CATALOGUE_ROW["task_code"]
    assert CATALOGUE_ROW["task_code"] in doc.identifiers


def test_opening_without_an_index_names_make_setup(layout, encoder):
    with pytest.raises(IndexMissingError, match="make setup"):
        pipeline.open_searcher(layout, encoder=encoder)


def test_building_without_a_model_names_make_setup(layout, sources, monkeypatch):
    def missing(path):
        raise ModelMissingError(f"no embedding model at {path}; run `make setup`")

    monkeypatch.setattr(pipeline, "load_encoder", missing)

    with pytest.raises(ModelMissingError, match="make setup"):
        pipeline.build(layout, sources)


def test_in_memory_searcher_uses_the_embedding_cache(layout, sources):
    documents = pipeline.load_documents(sources, layout.text_policy)
    model = HashingEncoder()
    pipeline.in_memory_searcher(layout, documents, model)
    first = model.encoded

    pipeline.in_memory_searcher(layout, documents, model)

    # Two vectors a document (title and body); identical texts embed once.
    assert len(documents) <= first <= 2 * len(documents) and model.encoded == first
