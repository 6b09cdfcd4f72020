from __future__ import annotations

from dataclasses import replace

import pytest

from bot.launcher import MissingArtifact, check_artifacts, process_specs
from bot.settings import load_settings


def test_missing_model_names_the_command_that_builds_it(tmp_path):
    settings = replace(load_settings({}), build_dir=tmp_path, models_dir=tmp_path)
    (tmp_path / "embedder").mkdir()
    (tmp_path / "embedder" / "manifest.json").write_text("{}")
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "manifest.json").write_text("{}")
    with pytest.raises(MissingArtifact, match="make train"):
        check_artifacts(settings)


def test_missing_index_is_reported_before_the_model(tmp_path):
    settings = replace(load_settings({}), build_dir=tmp_path, models_dir=tmp_path)
    (tmp_path / "embedder").mkdir()
    (tmp_path / "embedder" / "manifest.json").write_text("{}")
    with pytest.raises(MissingArtifact, match="make index"):
        check_artifacts(settings)


def test_every_process_binds_the_configured_host():
    settings = load_settings({"ZW_HOST": "127.0.0.2"})
    for spec in process_specs(settings):
        assert "127.0.0.2" in spec.argv or spec.env.get("SANIC_HOST") == "127.0.0.2"
        assert spec.health_url.startswith("http://127.0.0.2:")
