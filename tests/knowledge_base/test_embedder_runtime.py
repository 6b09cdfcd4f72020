"""Embedder.load refusing folders that are not (or no longer) a built model."""

from __future__ import annotations

import pytest

from knowledge_base.embedder import Embedder, EmbedderNotBuilt, runtime
from tests.knowledge_base.test_embedder_manifest import _folder


def test_load_names_make_setup_when_nothing_was_built(tmp_path):
    with pytest.raises(EmbedderNotBuilt, match="make setup"):
        Embedder.load(tmp_path / "embedder")


def test_load_names_make_setup_when_the_manifest_is_missing(tmp_path):
    (tmp_path / "embedder").mkdir()
    (tmp_path / "embedder" / "config.json").write_text("{}")

    with pytest.raises(EmbedderNotBuilt, match="make setup"):
        Embedder.load(tmp_path / "embedder")


def test_load_refuses_a_folder_whose_files_changed(tmp_path, monkeypatch):
    folder, _ = _folder(tmp_path)
    (folder / "config.json").write_text('{"a": 10}')
    monkeypatch.setattr(runtime, "_load_model", pytest.fail)

    with pytest.raises(EmbedderNotBuilt, match="config.json.*make setup"):
        Embedder.load(folder)


def test_load_with_verify_catches_a_same_size_change(tmp_path, monkeypatch):
    folder, _ = _folder(tmp_path)
    (folder / "config.json").write_text('{"a": 9}')
    monkeypatch.setattr(runtime, "_load_model", lambda path, threads: object())

    Embedder.load(folder)  # sizes alone agree
    with pytest.raises(EmbedderNotBuilt):
        Embedder.load(folder, verify=True)


@pytest.mark.parametrize(
    ("asked", "cpus", "expected"),
    [(None, 8, 1), (None, 1, 1), (2, 8, 2), (4, 2, 2), (0, 8, 1)],
)
def test_thread_count_defaults_to_one_and_never_exceeds_the_cpus(
    monkeypatch, asked, cpus, expected
):
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: cpus)

    assert runtime._thread_count(asked) == expected
