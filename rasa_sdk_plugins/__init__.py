"""Start-up and shut-down work for the action server, through rasa-sdk's plugin hook.

rasa-sdk 3.6 imports a top-level package of this name, when one is on the
path, and calls :func:`init_hooks` before it serves. We use it to build the
actions' services as the server starts, which starts the outbox delivery
loop (``actions.delivery``), so an application queued before a restart is
sent without waiting for a citizen to write; and to stop the loop and close
the HTTP sessions when the server stops. It also refuses development secrets
in production mode, and puts a bearer token (``ZW_ACTION_TOKEN``, sent by the
Rasa server from endpoints.yml) in front of every route but ``/health``:
rasa-sdk 3.6 has no authentication of its own.
"""

from __future__ import annotations

import hmac
import logging
import sys
from typing import Any

import pluggy

logger = logging.getLogger(__name__)
hookimpl = pluggy.HookimplMarker("rasa_sdk")

PUBLIC_PATHS = frozenset({"/health"})


async def _after_start(app: Any, loop: Any) -> None:
    from actions.services import get_services

    get_services()
    logger.info("actions.server.started")


async def _before_stop(app: Any, loop: Any) -> None:
    from actions.services import shutdown_services

    await shutdown_services()


def token_guard(token: str) -> Any:
    """A Sanic request middleware refusing calls without ``Bearer <token>``."""
    from sanic import response

    expected = token.encode("utf-8")

    async def require_token(request: Any) -> Any:
        if request.path in PUBLIC_PATHS:
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode("utf-8"), expected
        ):
            return None
        logger.warning("actions.request.unauthorized", extra={"path": request.path})
        body = {"error": {"code": "unauthorized", "message": "bearer token required"}}
        return response.json(body, status=401, headers={"WWW-Authenticate": "Bearer"})

    return require_token


def _action_token() -> str:
    """``ZW_ACTION_TOKEN``, after the production check; exits 2 when refused."""
    from bot.settings import (
        ACTION_SECRETS,
        InsecureSettingsError,
        check_secrets,
        load_settings,
    )

    try:
        settings = check_secrets(load_settings(), ACTION_SECRETS)
    except InsecureSettingsError as exc:
        print(f"action server: cannot start: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from exc
    return settings.action_token


class ActionServerLifecycle:
    """The hook implementation rasa-sdk calls with its Sanic app."""

    @hookimpl
    def attach_sanic_app_extensions(self, app: Any) -> None:
        app.register_middleware(token_guard(_action_token()), "request")
        app.register_listener(_after_start, "after_server_start")
        app.register_listener(_before_stop, "before_server_stop")


def init_hooks(manager: pluggy.PluginManager) -> None:
    """Called by ``rasa_sdk.plugin`` with its plugin manager."""
    manager.register(ActionServerLifecycle())
