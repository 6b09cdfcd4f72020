"""The action server builds its services at start-up and closes them at stop."""

from __future__ import annotations

import time

import pytest

import rasa_sdk_plugins
from actions import services as services_module
from bot.stack import start_stack


class FakeApp:
    def __init__(self):
        self.listeners = []

    def register_listener(self, listener, event):
        self.listeners.append((event, listener))


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
