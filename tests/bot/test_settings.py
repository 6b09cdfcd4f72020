from __future__ import annotations

import pytest

from bot.settings import (
    ACTION_SECRETS,
    ALL_SECRETS,
    BACKEND_SECRETS,
    DEV_BACKEND_TOKEN,
    KB_SECRETS,
    METRICS_SECRETS,
    WECHAT_SECRETS,
    InsecureSettingsError,
    check_secrets,
    load_settings,
)


def test_defaults_bind_loopback_and_derive_urls():
    settings = load_settings({})
    assert settings.host == "127.0.0.1"
    assert settings.kb_url == "http://127.0.0.1:5060"
    assert settings.backend_token == DEV_BACKEND_TOKEN
    assert settings.backend_database_url.startswith("sqlite:///")


def test_ports_and_urls_follow_the_environment():
    settings = load_settings({"ZW_KB_PORT": "6000", "ZW_BACKEND_URL": "http://b:1"})
    assert settings.kb_url == "http://127.0.0.1:6000"
    assert settings.backend_url == "http://b:1"


def test_malformed_port_is_a_clear_error():
    with pytest.raises(ValueError, match="ZW_RASA_PORT must be a whole number"):
        load_settings({"ZW_RASA_PORT": "fifty"})


# A production environment with every secret set to a real-looking value.
PRODUCTION = {
    "ZW_MODE": "production",
    "ZW_BACKEND_TOKEN": "prod-backend-token-0123",
    "ZW_OPERATOR_TOKEN": "prod-operator-token-0123",
    "ZW_KB_TOKEN": "prod-kb-token-0123456",
    "ZW_ACTION_TOKEN": "prod-action-token-01234",
    "ZW_METRICS_TOKEN": "prod-metrics-token-0123",
    "ZW_AGENT_TOKENS": "li:prod-agent-token-li-0123,wang:prod-agent-wang-0123",
    "ZW_USER_HASH_KEY": "prod-user-hash-key-0123",
    "ZW_WECHAT_TOKEN": "prodwechattoken",
    "ZW_WECHAT_APP_ID": "wx1234567890abcdef",
    "ZW_WECHAT_APP_SECRET": "prod-wechat-app-secret",
    "ZW_WECHAT_AES_KEY": "cHJvZC13ZWNoYXQtYWVzLWtleS0zMi1ieXRlcy0wMTI",
}


def test_production_with_every_secret_set_passes_the_check():
    settings = load_settings(PRODUCTION)

    assert check_secrets(settings, ALL_SECRETS) is settings


def test_development_mode_accepts_the_embedded_defaults():
    settings = load_settings({})

    assert settings.mode == "development"
    assert check_secrets(settings, ALL_SECRETS) is settings


@pytest.mark.parametrize("name", ALL_SECRETS)
def test_production_refuses_each_secret_left_at_its_dev_default(name):
    env = {key: value for key, value in PRODUCTION.items() if key != name}
    env["ZW_WECHAT_CUSTOMER_SERVICE"] = "true"  # so the app secret counts

    with pytest.raises(InsecureSettingsError, match=f"{name} is the development"):
        check_secrets(load_settings(env), ALL_SECRETS)


@pytest.mark.parametrize("name", ["ZW_BACKEND_TOKEN", "ZW_KB_TOKEN", "ZW_WECHAT_TOKEN"])
def test_production_refuses_an_empty_secret(name):
    with pytest.raises(InsecureSettingsError, match=f"{name} is empty"):
        check_secrets(load_settings({**PRODUCTION, name: " "}), ALL_SECRETS)


def test_production_refuses_a_short_token_and_a_shared_operator_token():
    env = {
        **PRODUCTION,
        "ZW_KB_TOKEN": "short",
        "ZW_OPERATOR_TOKEN": PRODUCTION["ZW_BACKEND_TOKEN"],
    }

    with pytest.raises(InsecureSettingsError) as refused:
        check_secrets(load_settings(env), ALL_SECRETS)

    assert "ZW_KB_TOKEN is shorter than 16 characters" in str(refused.value)
    assert "ZW_OPERATOR_TOKEN must differ from ZW_BACKEND_TOKEN" in str(refused.value)


def test_production_refuses_one_token_reused_for_two_services():
    env = {**PRODUCTION, "ZW_KB_TOKEN": PRODUCTION["ZW_BACKEND_TOKEN"]}

    with pytest.raises(InsecureSettingsError, match="ZW_KB_TOKEN must differ from"):
        check_secrets(load_settings(env), ALL_SECRETS)


def test_each_process_checks_only_the_secrets_it_holds():
    env = {**PRODUCTION}
    del env["ZW_WECHAT_TOKEN"]

    settings = load_settings(env)

    check_secrets(settings, BACKEND_SECRETS)
    with pytest.raises(InsecureSettingsError, match="ZW_WECHAT_TOKEN"):
        check_secrets(settings, WECHAT_SECRETS)


def test_the_wechat_app_secret_counts_only_with_the_customer_service_api():
    env = {key: v for key, v in PRODUCTION.items() if key != "ZW_WECHAT_APP_SECRET"}

    check_secrets(load_settings(env), WECHAT_SECRETS)
    with pytest.raises(InsecureSettingsError, match="ZW_WECHAT_APP_SECRET"):
        check_secrets(
            load_settings({**env, "ZW_WECHAT_CUSTOMER_SERVICE": "true"}), WECHAT_SECRETS
        )


@pytest.mark.parametrize(
    "secrets", [BACKEND_SECRETS, KB_SECRETS, ACTION_SECRETS, METRICS_SECRETS]
)
def test_every_process_with_a_metrics_endpoint_refuses_the_dev_metrics_token(
    secrets,
):
    env = {key: v for key, v in PRODUCTION.items() if key != "ZW_METRICS_TOKEN"}

    with pytest.raises(InsecureSettingsError, match="ZW_METRICS_TOKEN is the dev"):
        check_secrets(load_settings(env), secrets)


def test_production_refuses_the_metrics_token_reused_as_another_token():
    env = {**PRODUCTION, "ZW_METRICS_TOKEN": PRODUCTION["ZW_KB_TOKEN"]}

    with pytest.raises(InsecureSettingsError, match="ZW_METRICS_TOKEN must differ"):
        check_secrets(load_settings(env), ALL_SECRETS)


def test_an_unknown_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="ZW_MODE"):
        load_settings({"ZW_MODE": "prod"})


def test_secrets_never_show_in_the_settings_repr():
    text = repr(load_settings(PRODUCTION))

    for name in ALL_SECRETS:
        assert PRODUCTION[name] not in text
    assert "prod-agent-wang-0123" not in text


def test_agent_tokens_are_name_token_pairs_with_a_dev_default():
    assert load_settings({}).agent_tokens == (("demo", "dev-agent-token"),)
    assert load_settings(
        {"ZW_AGENT_TOKENS": " a_1:t-one , b:t:two ,"}
    ).agent_tokens == (
        ("a_1", "t-one"),
        ("b", "t:two"),
    )
    assert load_settings({"ZW_AGENT_TOKENS": ""}).agent_tokens == ()


def test_unmasked_assist_agents_are_known_agents_and_none_by_default():
    assert load_settings({}).unmasked_agents == frozenset()
    env = {"ZW_AGENT_TOKENS": "li:t1,wang:t2", "ZW_ASSIST_UNMASKED_AGENTS": " li ,"}
    assert load_settings(env).unmasked_agents == frozenset({"li"})
    with pytest.raises(ValueError, match=r"not in ZW_AGENT_TOKENS: \['zhao'\]"):
        load_settings({**env, "ZW_ASSIST_UNMASKED_AGENTS": "li,zhao"})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("demo", "name:token pairs"),
        ("Demo:token", "name:token pairs"),
        (":token", "name:token pairs"),
        (f"{'a' * 33}:token", "name:token pairs"),
        ("a:one,a:two", "names an agent twice"),
    ],
)
def test_malformed_agent_tokens_are_a_clear_error(raw, message):
    with pytest.raises(ValueError, match=message):
        load_settings({"ZW_AGENT_TOKENS": raw})


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "ZW_AGENT_TOKENS is empty"),
        ("demo: ", "ZW_AGENT_TOKENS is empty (agent demo)"),
        ("demo:dev-agent-token", "is the development default (agent demo)"),
        ("li:short-token", "shorter than 16 characters (agent li)"),
        (
            f"li:{PRODUCTION['ZW_OPERATOR_TOKEN']}",
            "ZW_AGENT_TOKENS must differ from ZW_OPERATOR_TOKEN (agent li)",
        ),
        (
            "li:prod-agent-token-0123,wang:prod-agent-token-0123",
            "must differ from agent li (agent wang)",
        ),
    ],
)
def test_production_refuses_weak_or_shared_agent_tokens(raw, problem):
    env = {**PRODUCTION, "ZW_AGENT_TOKENS": raw}

    with pytest.raises(InsecureSettingsError) as refused:
        check_secrets(load_settings(env), BACKEND_SECRETS)

    assert problem in str(refused.value)


def test_service_hours_and_the_desk_token_come_from_the_environment():
    settings = load_settings(
        {"ZW_SERVICE_HOURS": "1-7 08:00-20:00", "ZW_AGENT_TOKEN": "desk-token"}
    )

    assert settings.service_hours == "1-7 08:00-20:00"
    assert settings.agent_token == "desk-token"
    assert load_settings({}).service_hours == "1-5 09:00-18:00"
