"""Start-up and shut-down work for the action server, through rasa-sdk's plugin hook.

rasa-sdk 3.6 imports a top-level package of this name, when one is on the
path, and calls :func:`init_hooks` before it serves. We use it to build the
actions' services as the server starts, which starts the outbox delivery
loop (``actions.delivery``), so an application queued before a restart is
sent without waiting for a citizen to write; and to stop the loop and close
the HTTP sessions when the server stops.
"""

from __future__ import annotations

import logging
from typing import Any

import pluggy

logger = logging.getLogger(__name__)
hookimpl = pluggy.HookimplMarker("rasa_sdk")


async def _after_start(app: Any, loop: Any) -> None:
    from actions.services import get_services

    get_services()
    logger.info("actions.server.started")


async def _before_stop(app: Any, loop: Any) -> None:
    from actions.services import shutdown_services

    await shutdown_services()


class ActionServerLifecycle:
    """The hook implementation rasa-sdk calls with its Sanic app."""

    @hookimpl
    def attach_sanic_app_extensions(self, app: Any) -> None:
        app.register_listener(_after_start, "after_server_start")
        app.register_listener(_before_stop, "before_server_stop")


def init_hooks(manager: pluggy.PluginManager) -> None:
    """Called by ``rasa_sdk.plugin`` with its plugin manager."""
    manager.register(ActionServerLifecycle())
