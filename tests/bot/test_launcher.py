from __future__ import annotations

from dataclasses import replace

import pytest

from bot.launcher import (
    MissingArtifact,
    UnsafeCommand,
    check_artifacts,
    check_rasa_argv,
    process_env,
    process_specs,
    run_foreground,
)
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


def test_rasa_is_never_started_with_its_http_api():
    rasa = next(s for s in process_specs(load_settings({})) if s.name == "rasa")

    assert "--enable-api" not in rasa.argv
    check_rasa_argv(rasa.argv)


@pytest.mark.parametrize(
    ("extra", "refused"),
    [
        (("--enable-api",), True),
        (("--enable-api", "--auth-token", "x"), False),
        (("--enable-api", "--jwt-secret", "x"), False),
        ((), False),
    ],
)
def test_an_open_rasa_api_is_refused(extra, refused):
    argv = ("rasa", "run", "--port", "5005", *extra)

    if refused:
        with pytest.raises(UnsafeCommand, match="--auth-token"):
            check_rasa_argv(argv)
    else:
        check_rasa_argv(argv)


def test_the_operator_token_goes_to_the_backend_only():
    settings = load_settings({"ZW_OPERATOR_TOKEN": "operator-secret-0123"})
    specs = {spec.name: spec for spec in process_specs(settings)}

    assert specs["backend"].env["ZW_OPERATOR_TOKEN"] == "operator-secret-0123"
    assert "operator-secret-0123" not in process_env(settings).values()
    assert all(
        "ZW_OPERATOR_TOKEN" not in spec.env
        for name, spec in specs.items()
        if name != "backend"
    )


def test_the_agent_tokens_go_to_the_backend_only():
    settings = load_settings({"ZW_AGENT_TOKENS": "li:agent-secret-0123,wang:w-0123"})
    specs = {spec.name: spec for spec in process_specs(settings)}

    passed = specs["backend"].env["ZW_AGENT_TOKENS"]
    assert load_settings({"ZW_AGENT_TOKENS": passed}).agent_tokens == (
        ("li", "agent-secret-0123"),
        ("wang", "w-0123"),
    )
    assert "ZW_AGENT_TOKENS" not in process_env(settings)
    assert all(
        "ZW_AGENT_TOKENS" not in spec.env
        for name, spec in specs.items()
        if name != "backend"
    )


def test_children_share_the_mode_and_the_tokens_they_check():
    env = process_env(load_settings({"ZW_MODE": "production", "ZW_KB_TOKEN": "k" * 16}))

    assert env["ZW_MODE"] == "production"
    assert env["ZW_KB_TOKEN"] == "k" * 16
    shared = {"ZW_ACTION_TOKEN", "ZW_USER_HASH_KEY", "ZW_BACKEND_TOKEN"}
    assert shared | {"ZW_METRICS_TOKEN"} <= set(env)


def test_run_in_production_mode_with_dev_secrets_starts_nothing(capsys):
    settings = load_settings({"ZW_MODE": "production"})

    assert run_foreground(settings) == 2
    err = capsys.readouterr().err
    assert "ZW_BACKEND_TOKEN is the development default" in err
    assert "ZW_WECHAT_TOKEN" in err
