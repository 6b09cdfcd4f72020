"""Start-up and shut-down work for the action server, through rasa-sdk's plugin hook.

rasa-sdk 3.6 imports a top-level package of this name, when one is on the
path, and calls :func:`init_hooks` before it serves. We use it to build the
actions' services as the server starts, which starts the outbox delivery
loop (``actions.delivery``), so an application queued before a restart is
sent without waiting for a citizen to write; and to stop the loop and close
the HTTP sessions when the server stops. It also refuses development secrets
in production mode, and puts a bearer token (``ZW_ACTION_TOKEN``, sent by the
Rasa server from endpoints.yml) in front of every route but ``/health``:
rasa-sdk 3.6 has no authentication of its own. Last, it times every action
run and serves ``GET /metrics`` (``actions.metrics``) to a scraper holding
``ZW_METRICS_TOKEN``.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import pluggy

from bot import metrics

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


def token_guard(token: str, metrics_token: str = "") -> Any:
    """A Sanic request middleware refusing calls without ``Bearer <token>``.

    ``/metrics`` takes ``metrics_token`` instead (empty: refused to all), and
    ``token`` does not open it.
    """
    from sanic import response

    async def require_token(request: Any) -> Any:
        if request.path in PUBLIC_PATHS:
            return None
        expected = metrics_token if request.path == metrics.PATH else token
        if metrics.authorized(request.headers.get("Authorization"), expected):
            return None
        logger.warning("actions.request.unauthorized", extra={"path": request.path})
        body = {"error": {"code": "unauthorized", "message": "bearer token required"}}
        return response.json(body, status=401, headers={"WWW-Authenticate": "Bearer"})

    return require_token


def webhook_timer() -> tuple[Any, Any]:
    """Sanic request and response middleware counting each ``POST /webhook``."""
    from actions.metrics import action_name, count_action

    async def start(request: Any) -> None:
        if request.path == "/webhook":
            request.ctx.zw_started = time.perf_counter()

    async def finish(request: Any, response: Any) -> None:
        started = getattr(request.ctx, "zw_started", None)
        if started is None:
            return
        name = action_name(request.body, request.headers.get("Content-Encoding"))
        count_action(name, response.status, time.perf_counter() - started)

    return start, finish


async def scrape(request: Any) -> Any:
    """``GET /metrics``; ``token_guard`` checked the scraper's token."""
    from sanic import response

    from actions.metrics import REGISTRY

    body, content_type = metrics.exposition(REGISTRY)
    return response.raw(body, content_type=content_type)


def _tokens() -> tuple[str, str]:
    """``ZW_ACTION_TOKEN`` and ``ZW_METRICS_TOKEN``, after the production check.

    Exits with status 2 when production mode refuses the settings.
    """
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
    return settings.action_token, settings.metrics_token


class ActionServerLifecycle:
    """The hook implementation rasa-sdk calls with its Sanic app."""

    @hookimpl
    def attach_sanic_app_extensions(self, app: Any) -> None:
        action_token, metrics_token = _tokens()
        app.register_middleware(token_guard(action_token, metrics_token), "request")
        start, finish = webhook_timer()
        app.register_middleware(start, "request")
        app.register_middleware(finish, "response")
        app.add_route(scrape, metrics.PATH, methods=["GET"])
        app.register_listener(_after_start, "after_server_start")
        app.register_listener(_before_stop, "before_server_stop")


def init_hooks(manager: pluggy.PluginManager) -> None:
    """Called by ``rasa_sdk.plugin`` with its plugin manager."""
    manager.register(ActionServerLifecycle())
