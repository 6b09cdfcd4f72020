"""The shared clients and scenario packages the actions use, made once per process.

Actions call :func:`get_services`; tests install fakes with :func:`use_services`
so no test reaches a real service.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from actions.errors import UnknownScenario
from actions.kb_client import KnowledgeBaseClient
from bot.settings import load_settings
from knowledge_base.scenarios import Scenario, load_scenarios

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """Everything an action may call: the two clients and the scenarios by id."""

    kb: Any
    backend: Any
    scenarios: dict[str, Scenario]

    def scenario(self, scenario_id: str | None) -> Scenario:
        """The package with ``scenario_id``.

        Raises:
            UnknownScenario: no package has this id.
        """
        if scenario_id not in self.scenarios:
            raise UnknownScenario(str(scenario_id))
        return self.scenarios[scenario_id]


_services: Services | None = None


def get_services() -> Services:
    """The process-wide services, built from ``load_settings()`` on first use."""
    global _services
    if _services is None:
        _services = _build()
    return _services


def use_services(services: Services | None) -> None:
    """Replace the process-wide services (tests); ``None`` rebuilds on next use."""
    global _services
    _services = services


def _build() -> Services:
    from actions.backend_client import BackendClient

    settings = load_settings()
    scenarios = load_scenarios(settings.kb_data_dir / "scenarios")
    logger.info(
        "actions.services.ready",
        extra={"scenarios": len(scenarios), "kb_url": settings.kb_url},
    )
    return Services(
        kb=KnowledgeBaseClient(settings.kb_url),
        backend=BackendClient(settings.backend_url, settings.backend_token),
        scenarios=scenarios,
    )
