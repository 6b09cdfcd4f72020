from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from knowledge_base.encoder import CachedEncoder, load_encoder
from knowledge_base.errors import ModelMissingError
from tests.knowledge_base.conftest import HashingEncoder


def test_cached_vectors_are_not_embedded_again(tmp_path):
    model = HashingEncoder()
    first = CachedEncoder(model, tmp_path).encode_passages(["甲", "乙", "甲"])

    again = CachedEncoder(model, tmp_path).encode_passages(["乙", "甲", "丙"])

    assert model.encoded == 3  # 甲, 乙, then only 丙
    np.testing.assert_array_equal(again[:2], first[[1, 0]])
    np.testing.assert_allclose(again[2], model.encode_passages(["丙"])[0])


def test_queries_and_passages_are_cached_apart(tmp_path):
    model = HashingEncoder()
    cached = CachedEncoder(model, tmp_path)

    cached.encode_passages(["甲"])
    cached.encode_queries(["甲"])

    assert model.encoded == 2


def test_another_model_gets_its_own_cache(tmp_path):
    CachedEncoder(HashingEncoder(), tmp_path).encode_passages(["甲"])
    other = HashingEncoder(model_id="other/model")

    CachedEncoder(other, tmp_path).encode_passages(["甲"])

    assert other.encoded == 1
    assert len(list(tmp_path.glob("embeddings-*.npz"))) == 2


@pytest.mark.parametrize("content", [b"not a numpy file", None])
def test_an_unreadable_cache_is_ignored_with_a_warning(tmp_path, caplog, content):
    model = HashingEncoder()
    cached = CachedEncoder(model, tmp_path)
    if content is None:  # right format, wrong dimension
        np.savez(cached.path, keys=np.array(["k"]), vectors=np.zeros((1, 3)))
    else:
        cached.path.write_bytes(content)

    vectors = CachedEncoder(model, tmp_path).encode_passages(["甲"])

    assert vectors.shape == (1, model.dim)
    assert "kb.cache.unreadable" in caplog.text


def test_empty_input_gives_an_empty_matrix(tmp_path):
    assert CachedEncoder(HashingEncoder(), tmp_path).encode_queries([]).shape == (0, 64)


def test_missing_model_names_make_setup(tmp_path, monkeypatch):
    module = types.ModuleType("knowledge_base.embedder")

    class EmbedderNotBuilt(Exception):
        pass

    class Embedder:
        @classmethod
        def load(cls, path):
            raise EmbedderNotBuilt(path)

    module.Embedder, module.EmbedderNotBuilt = Embedder, EmbedderNotBuilt
    monkeypatch.setitem(sys.modules, "knowledge_base.embedder", module)

    with pytest.raises(ModelMissingError, match="make setup"):
        load_encoder(tmp_path / "embedder")


def test_missing_model_code_names_make_setup(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "knowledge_base.embedder", None)

    with pytest.raises(ModelMissingError, match="make setup"):
        load_encoder(tmp_path / "embedder")


def test_a_built_model_is_returned_as_loaded(tmp_path, monkeypatch):
    model = HashingEncoder()
    module = types.ModuleType("knowledge_base.embedder")
    module.Embedder = types.SimpleNamespace(load=lambda path: model)
    module.EmbedderNotBuilt = ModelMissingError
    monkeypatch.setitem(sys.modules, "knowledge_base.embedder", module)

    assert load_encoder(tmp_path / "embedder") is model


def test_a_failed_cache_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)

    with pytest.raises(OSError, match="disk full"):
        CachedEncoder(HashingEncoder(), tmp_path).encode_passages(["甲"])

    assert list(tmp_path.iterdir()) == []
