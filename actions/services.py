"""The shared clients, outbox and scenario packages the actions use, made once.

Actions call :func:`get_services`; tests install fakes with :func:`use_services`
so no test reaches a real service. The first call inside the action server's
event loop also starts the outbox delivery loop (actions.delivery).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from actions.errors import UnknownScenario
from actions.kb_client import KnowledgeBaseClient
from bot.privacy import hash_user
from bot.settings import load_settings
from knowledge_base.scenarios import Scenario, load_scenarios

logger = logging.getLogger(__name__)

OUTBOX_FILE = "outbox.db"
TRIAGE_DIR = "triage"


@dataclass(frozen=True)
class Services:
    """Everything an action may call: the clients, the outbox, the scenarios."""

    kb: Any
    backend: Any
    scenarios: dict[str, Scenario]
    outbox: Any = None
    user_hash_key: str = "dev-user-hash-key"
    # knowledge_base.triage.TriageModel, or None: every free message then
    # goes to the knowledge base alone (no model was trained at setup).
    triage: Any = None

    def scenario(self, scenario_id: str | None) -> Scenario:
        """The package with ``scenario_id``.

        Raises:
            UnknownScenario: no package has this id.
        """
        if scenario_id not in self.scenarios:
            raise UnknownScenario(str(scenario_id))
        return self.scenarios[scenario_id]

    def sender_hash(self, sender_id: str) -> str:
        """The keyed hash that stands for a conversation in the outbox and logs."""
        return hash_user(sender_id, self.user_hash_key)


_services: Services | None = None
_delivery: Any = None


def get_services() -> Services:
    """The process-wide services, built from ``load_settings()`` on first use."""
    global _services
    if _services is None:
        _services = _build()
        _start_delivery(_services)
    return _services


def use_services(services: Services | None) -> None:
    """Replace the process-wide services (tests); ``None`` rebuilds on next use."""
    global _services
    _services = services


async def shutdown_services() -> None:
    """Stop the delivery loop and close the clients' sessions (server stop).

    Called by ``rasa_sdk_plugins`` when the action server stops; what is
    still queued stays in the outbox file for the next start.
    """
    global _services, _delivery
    from actions import review

    # Review records still on their way get their few seconds.
    await review.drain()
    if _delivery is not None:
        await _delivery.stop()
        _delivery = None
    if _services is not None:
        for client in (_services.kb, _services.backend):
            close = getattr(client, "close", None)
            if close is not None:
                await close()
        _services = None
    logger.info("actions.services.closed")


def _start_delivery(services: Services) -> None:
    # The action server builds its services inside its event loop when it
    # starts (rasa_sdk_plugins), or on the first action if run without it;
    # the delivery loop starts with them. Rows wait on disk until then.
    global _delivery
    from actions.delivery import DeliveryLoop

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # built outside the server (a script): nothing to run on
    _delivery = DeliveryLoop(services.outbox, services.backend)
    _delivery.start()


def _build() -> Services:
    from actions.backend_client import BackendClient
    from actions.outbox import Outbox

    settings = load_settings()
    scenarios = load_scenarios(settings.kb_data_dir / "scenarios")
    logger.info(
        "actions.services.ready",
        extra={"scenarios": len(scenarios), "kb_url": settings.kb_url},
    )
    return Services(
        triage=_load_triage(settings),
        kb=KnowledgeBaseClient(settings.kb_url, token=settings.kb_token),
        backend=BackendClient(settings.backend_url, settings.backend_token),
        scenarios=scenarios,
        outbox=Outbox(settings.var_dir / OUTBOX_FILE),
        user_hash_key=settings.user_hash_key,
    )


def _load_triage(settings: Any) -> Any:
    from knowledge_base.errors import KnowledgeBaseError
    from knowledge_base.tokenizer import KbTokenizer
    from knowledge_base.triage import TriageModel

    folder = settings.build_dir / TRIAGE_DIR
    try:
        return TriageModel.load(folder, KbTokenizer.load(settings.kb_data_dir / "dict"))
    except FileNotFoundError:
        # A degraded start, not a failed one: questions are still answered.
        logger.warning("actions.triage.model_missing", extra={"run": "make triage"})
    except KnowledgeBaseError as exc:
        logger.error("actions.triage.model_unreadable", extra={"reason": str(exc)})
    return None
