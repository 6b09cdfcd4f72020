"""The action server builds its services at start-up and closes them at stop."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

import rasa_sdk_plugins
from actions import services as services_module
from bot.stack import start_stack


class FakeApp:
    def __init__(self):
        self.listeners = []
        self.middleware = []
        self.routes = []

    def add_route(self, handler, uri, methods):
        self.routes.append((uri, tuple(methods)))

    def register_listener(self, listener, event):
        self.listeners.append((event, listener))

    def register_middleware(self, middleware, attach_to):
        self.middleware.append((attach_to, middleware))


class Closable:
    def __init__(self):
        self.closed = False

    async def close(self):
        self.closed = True


class FakeLoop:
    def __init__(self):
        self.stopped = False

    async def stop(self):
        self.stopped = True


def test_the_plugin_registers_start_and_stop_listeners():
    class Manager:
        registered = []

        def register(self, plugin):
            self.registered.append(plugin)

    manager = Manager()
    rasa_sdk_plugins.init_hooks(manager)
    app = FakeApp()
    manager.registered[0].attach_sanic_app_extensions(app)
    assert [event for event, _ in app.listeners] == [
        "after_server_start",
        "before_server_stop",
    ]
    assert [kind for kind, _ in app.middleware] == ["request", "request", "response"]
    assert app.routes == [("/metrics", ("GET",))]


def _request(path, authorization=None):
    headers = {"Authorization": authorization} if authorization else {}
    return SimpleNamespace(path=path, headers=headers)


@pytest.mark.parametrize(
    ("path", "authorization", "allowed"),
    [
        ("/health", None, True),
        ("/webhook", "Bearer action-secret", True),
        ("/actions", "bearer action-secret", True),
        ("/webhook", None, False),
        ("/actions", None, False),
        ("/webhook", "Bearer wrong", False),
        ("/webhook", "Bearer action-secret2", False),
        ("/webhook", "Basic action-secret", False),
        ("/webhook", "Bearer 令牌", False),
        ("/metrics", "Bearer metrics-secret", True),
        ("/metrics", "Bearer action-secret", False),
        ("/metrics", None, False),
        ("/webhook", "Bearer metrics-secret", False),
    ],
)
async def test_the_token_guard_opens_only_health_without_the_token(
    path, authorization, allowed
):
    guard = rasa_sdk_plugins.token_guard("action-secret", "metrics-secret")

    refusal = await guard(_request(path, authorization))

    if allowed:
        assert refusal is None
    else:
        assert refusal.status == 401
        assert json.loads(refusal.body)["error"]["code"] == "unauthorized"


def test_the_plugin_refuses_dev_secrets_in_production_mode(monkeypatch, capsys):
    monkeypatch.setenv("ZW_MODE", "production")
    monkeypatch.delenv("ZW_ACTION_TOKEN", raising=False)

    with pytest.raises(SystemExit) as stopped:
        rasa_sdk_plugins.ActionServerLifecycle().attach_sanic_app_extensions(FakeApp())

    assert stopped.value.code == 2
    assert "ZW_ACTION_TOKEN is the development default" in capsys.readouterr().err


async def test_shutdown_stops_delivery_and_closes_both_clients(monkeypatch):
    kb, backend, loop = Closable(), Closable(), FakeLoop()
    fake = services_module.Services(kb=kb, backend=backend, scenarios={})
    monkeypatch.setattr(services_module, "_services", fake)
    monkeypatch.setattr(services_module, "_delivery", loop)

    await services_module.shutdown_services()

    assert kb.closed and backend.closed and loop.stopped
    assert services_module._services is None and services_module._delivery is None


@pytest.mark.slow
def test_a_started_action_server_delivers_without_waiting_for_a_message(tmp_path):
    stack = start_stack(tmp_path / "var", only={"actions"})
    try:
        deadline = time.monotonic() + 30
        while "actions.delivery.loop_started" not in stack.logs("actions"):
            assert time.monotonic() < deadline, stack.logs("actions")[-2000:]
            time.sleep(0.2)
    finally:
        stack.stop()
    assert "actions.services.closed" in stack.logs("actions")
