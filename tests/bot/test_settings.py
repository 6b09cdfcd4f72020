from __future__ import annotations

import pytest

from bot.settings import DEV_BACKEND_TOKEN, load_settings


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
