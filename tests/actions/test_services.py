"""The process-wide services: built once from the settings, replaceable in tests."""

from __future__ import annotations

import pytest

from actions import services as services_module
from actions.backend_client import BackendClient
from actions.errors import UnknownScenario
from actions.kb_client import KnowledgeBaseClient


def test_services_are_built_once_from_the_settings(monkeypatch):
    monkeypatch.setenv("ZW_KB_URL", "http://127.0.0.1:1")
    services_module.use_services(None)
    built = services_module.get_services()
    assert isinstance(built.kb, KnowledgeBaseClient)
    assert isinstance(built.backend, BackendClient)
    assert "restaurant" in built.scenarios
    assert services_module.get_services() is built


def test_unknown_scenario_id_raises(services):
    with pytest.raises(UnknownScenario):
        services.scenario("launderette")
    with pytest.raises(UnknownScenario):
        services.scenario(None)
