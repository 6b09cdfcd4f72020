"""Fixtures for the chat page in a browser, against a scripted webhook.

The page's files are served by intercepting the browser's requests, with the
channel's real headers (CSP included); nothing listens on a port.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest

from channels.web_assets import PAGE_NAME, load_assets
from channels.wechat_fake_api import FakeWeChatApi
from tests.channels.browser import PHONE, launch_chromium

ORIGIN = "http://127.0.0.1:18999"
PAGE_URL = f"{ORIGIN}/webhooks/web/"


@dataclass
class ScriptedWebhook:
    """Answers the page's POSTs in order: ``(status, body)``, "abort" or "hold".

    A ``body`` that is a ``str`` is sent as HTML (a proxy's error page), any
    other body as JSON.

    A held request waits in ``held`` until the test fulfils it, so the test
    can look at the page while a reply is pending.
    """

    script: list = field(default_factory=list)
    bodies: list[dict] = field(default_factory=list)
    held: list = field(default_factory=list)
    # Answers to the page's agent polls (``GET /agent``), in order, and the
    # query strings the page sent.
    agent_script: list[dict] = field(default_factory=list)
    polls: list[dict[str, str]] = field(default_factory=list)

    def reply(self, *messages: dict, status: int = 200) -> None:
        self.script.append((status, list(messages)))

    def __call__(self, route) -> None:
        self.bodies.append(route.request.post_data_json)
        action = self.script.pop(0) if self.script else (200, [])
        if action == "abort":
            route.abort("connectionrefused")
        elif action == "hold":
            self.held.append(route)
        else:
            status, body = action
            if isinstance(body, str):
                route.fulfill(status=status, content_type="text/html", body=body)
            else:
                fulfil_json(route, status, body)

    def poll(self, route) -> None:
        query = parse_qs(urlsplit(route.request.url).query, keep_blank_values=True)
        self.polls.append({key: values[0] for key, values in query.items()})
        nothing = {"handoff_no": None, "status": None, "after": 0, "replies": []}
        fulfil_json(
            route, 200, self.agent_script.pop(0) if self.agent_script else nothing
        )


def fulfil_json(route, status: int, body: object) -> None:
    route.fulfill(
        status=status,
        content_type="application/json; charset=utf-8",
        body=json.dumps(body, ensure_ascii=False),
    )


@pytest.fixture
async def fake_api():
    """WeChat's token and customer-service routes on a local port."""
    api = FakeWeChatApi("wxdev000000000000", "dev-wechat-app-secret")
    await api.start()
    yield api
    await api.stop()


@dataclass
class ChatPage:
    """A browser page showing the chat page, and what it sent and logged."""

    page: object
    webhook: ScriptedWebhook
    foreign_requests: list[str]
    console_errors: list[str]

    def ask(self, text: str) -> None:
        """Type ``text`` and submit with the Enter key, as a citizen would."""
        self.page.get_by_label("输入您的问题").fill(text)
        self.page.get_by_label("输入您的问题").press("Enter")

    def wait_idle(self) -> None:
        self.page.wait_for_selector("#messages[aria-busy='false']")

    def bot_bubbles(self):
        return self.page.locator(".message-bot .bubble")


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as chromium:
        yield chromium


def _serve(route, assets, webhook) -> None:
    path = urlsplit(route.request.url).path
    if path in ("/webhooks/web/webhook", "/webhooks/web/feedback"):
        webhook(route)
        return
    if path == "/webhooks/web/agent":
        webhook.poll(route)
        return
    name = PAGE_NAME if path == "/webhooks/web/" else path.rsplit("/", 1)[-1]
    asset = assets.get(name)
    if asset is None or not path.startswith("/webhooks/web/"):
        route.fulfill(status=404, body="not found")
        return
    route.fulfill(
        status=200,
        headers=asset.headers(),
        content_type=asset.content_type,
        body=asset.body,
    )


def open_chat(context, webhook: ScriptedWebhook) -> ChatPage:
    """Open the chat page in ``context`` with ``webhook`` answering its POSTs."""
    assets = load_assets()
    page = context.new_page()
    chat = ChatPage(page, webhook, foreign_requests=[], console_errors=[])
    page.route("**/*", lambda route: _serve(route, assets, webhook))
    page.on(
        "request",
        lambda request: None
        if request.url.startswith(ORIGIN)
        else chat.foreign_requests.append(request.url),
    )
    page.on(
        "console",
        lambda message: chat.console_errors.append(message.text)
        if message.type == "error"
        else None,
    )
    page.goto(PAGE_URL)
    return chat


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    yield context
    context.close()


@pytest.fixture
def chat(context) -> ChatPage:
    return open_chat(context, ScriptedWebhook())
