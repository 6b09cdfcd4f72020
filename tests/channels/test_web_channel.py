"""The web channel over HTTP: a Sanic server on a free port, a scripted bot."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from sanic import Sanic

from bot.privacy import hash_user
from bot.settings import PROJECT_ROOT, InsecureSettingsError
from channels.errors import AssetMissingError
from channels.limits import Limiter, LimitOptions, load_texts
from channels.metrics import REGISTRY
from channels.web import WebChatInput
from channels.web_assets import ASSET_TYPES, STATIC_DIR
from tests.sanic_server import serving

HASH_KEY = "test-hash-key"


def turns(result: str) -> float:
    labels = {"channel": "web", "result": result}
    return REGISTRY.get_sample_value("zw_rasa_turns_total", labels) or 0.0


DOMAIN = PROJECT_ROOT / "domain.yml"
SENDER = "web-00112233445566778899aabbccddeeff"
PRIVATE_TEXT = "我叫张三，手机13812345678，怎么办居住证"


class ScriptedBot:
    """Stands in for Rasa's agent: records turns, answers from a script."""

    def __init__(self) -> None:
        self.received: list = []
        self.replies: list[dict] = []
        self.error: BaseException | None = None

    async def __call__(self, message) -> None:
        self.received.append(message)
        if self.error is not None:
            raise self.error
        for reply in self.replies:
            channel = message.output_channel
            if "buttons" in reply:
                await channel.send_text_with_buttons(
                    message.sender_id, reply["text"], reply["buttons"]
                )
            elif "image" in reply:
                await channel.send_image_url(message.sender_id, reply["image"])
            else:
                await channel.send_text_message(message.sender_id, reply["text"])


@pytest.fixture
def bot() -> ScriptedBot:
    return ScriptedBot()


@pytest.fixture
def channel() -> WebChatInput:
    return WebChatInput(user_hash_key=HASH_KEY)


@pytest.fixture
async def server(bot, channel, monkeypatch):
    """The channel's blueprint mounted where Rasa mounts it, on a free port."""
    # Sanic rewrites its own methods once per process unless in test mode
    # (what sanic-testing sets); a second app would otherwise fail to start.
    monkeypatch.setattr(Sanic, "test_mode", True)
    app = Sanic(f"test_web_{uuid.uuid4().hex}")
    app.blueprint(channel.blueprint(bot), url_prefix="/webhooks/web")
    async with serving(app) as session:
        yield SimpleNamespace(app=app, session=session)


async def _post(session, payload, content_type="application/json"):
    data = json.dumps(payload, ensure_ascii=False).encode()
    async with session.post(
        "/webhooks/web/webhook", data=data, headers={"Content-Type": content_type}
    ) as resp:
        return resp.status, json.loads(await resp.text()), resp.headers


async def test_page_is_served_with_a_strict_content_security_policy(server):
    async with server.session.get("/webhooks/web/") as resp:
        body = await resp.text()

    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/html")
    assert '<html lang="zh-CN">' in body
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_page_without_trailing_slash_redirects_so_relative_links_work(server):
    async with server.session.get("/webhooks/web", allow_redirects=False) as resp:
        assert resp.status == 308
        assert resp.headers["Location"] == "/webhooks/web/"


@pytest.mark.parametrize("name", ["chat.js", "chat.css"])
async def test_page_files_are_served_with_their_content_type(server, name):
    async with server.session.get(f"/webhooks/web/static/{name}") as resp:
        body = await resp.read()

    assert resp.status == 200
    assert resp.headers["Content-Type"] == ASSET_TYPES[name]
    assert body == (STATIC_DIR / name).read_bytes()


async def test_page_files_answer_not_modified_for_a_matching_etag(server):
    async with server.session.get("/webhooks/web/static/chat.js") as first:
        etag = first.headers["ETag"]
    headers = {"If-None-Match": etag}
    async with server.session.get("/webhooks/web/static/chat.js", headers=headers) as r:
        assert r.status == 304


@pytest.mark.parametrize(
    "path",
    [
        "/webhooks/web/static/nope.js",
        "/webhooks/web/static/chat.html",
        "/webhooks/web/static/..%2F..%2Fbot%2Fsettings.py",
    ],
)
async def test_unknown_files_are_not_found_with_a_json_error(server, path):
    async with server.session.get(path) as resp:
        status, text = resp.status, await resp.text()

    assert status == 404
    assert json.loads(text)["error"]["code"] == "not_found"
    assert "load_settings" not in text


async def test_health_says_loading_until_the_agent_is_ready(server):
    async with server.session.get("/webhooks/web/health") as resp:
        assert resp.status == 503
        assert await resp.json() == {"status": "loading"}

    server.app.ctx.agent = SimpleNamespace(is_ready=lambda: True)
    async with server.session.get("/webhooks/web/health") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}


async def test_webhook_returns_text_and_buttons_and_drops_images(server, bot):
    bot.replies = [
        {
            "text": "请问您办理哪一项？",
            "buttons": [{"title": "首次申领", "payload": "/first"}],
        },
        {"image": "https://example.org/a.png"},
        {"text": "办理地点：<b>户籍窗口</b>\n\n来源：示例 https://example.gov.cn/a"},
    ]

    status, body, headers = await _post(
        server.session, {"sender": SENDER, "message": " 怎么办身份证 "}
    )

    assert status == 200
    assert body == [
        {
            "recipient_id": SENDER,
            "text": "请问您办理哪一项？",
            "buttons": [{"title": "首次申领", "payload": "/first"}],
        },
        {"recipient_id": SENDER, "text": "办理地点：<b>户籍窗口</b>"},
        {"recipient_id": SENDER, "text": "来源：示例 https://example.gov.cn/a"},
    ]
    assert headers["X-Request-Id"]
    assert bot.received[0].text == "怎么办身份证"
    assert bot.received[0].sender_id == SENDER
    assert bot.received[0].input_channel == "web"


async def test_webhook_logs_length_and_user_hash_but_never_the_text(
    server, bot, caplog
):
    bot.replies = [{"text": "好的"}]
    caplog.set_level(logging.DEBUG, logger="channels")

    await _post(server.session, {"sender": SENDER, "message": PRIVATE_TEXT})

    [record] = [r for r in caplog.records if r.msg == "channels.web.message.handled"]
    assert record.user == hash_user(SENDER, HASH_KEY)
    assert record.chars == len(PRIVATE_TEXT)
    assert record.replies == 1
    _assert_nothing_private_logged(caplog)


@pytest.mark.parametrize(
    ("payload", "content_type", "status", "code"),
    [
        ({"sender": SENDER, "message": ""}, "application/json", 400, "empty_message"),
        ({"sender": SENDER}, "application/json", 400, "missing_message"),
        ({"sender": SENDER, "message": 7}, "application/json", 400, "invalid_message"),
        (
            {"sender": SENDER, "message": PRIVATE_TEXT * 100},
            "application/json",
            400,
            "message_too_long",
        ),
        (
            {"sender": "<b>", "message": PRIVATE_TEXT},
            "application/json",
            400,
            "invalid_sender",
        ),
        (
            {"sender": SENDER, "message": PRIVATE_TEXT},
            "text/plain",
            415,
            "unsupported_media_type",
        ),
    ],
)
async def test_webhook_rejects_bad_bodies_with_a_json_error_and_no_trace(
    server, bot, caplog, payload, content_type, status, code
):
    caplog.set_level(logging.DEBUG, logger="channels")

    got_status, body, _ = await _post(server.session, payload, content_type)

    assert got_status == status
    assert body["error"]["code"] == code
    assert set(body) == {"error", "request_id"}
    assert "Traceback" not in json.dumps(body)
    assert bot.received == []
    _assert_nothing_private_logged(caplog)


async def test_webhook_rejects_malformed_json_with_invalid_json(server, bot):
    async with server.session.post(
        "/webhooks/web/webhook",
        data=b'{"sender":',
        headers={"Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "invalid_json"


async def test_webhook_answers_500_with_a_code_when_the_bot_fails(server, bot, caplog):
    bot.error = RuntimeError(f"tracker failed for {PRIVATE_TEXT}")
    caplog.set_level(logging.DEBUG, logger="channels")
    failed = turns("failed")

    status, body, _ = await _post(
        server.session, {"sender": SENDER, "message": PRIVATE_TEXT}
    )

    assert status == 500
    assert turns("failed") == failed + 1
    assert body["error"]["code"] == "processing_failed"
    assert "tracker failed" not in json.dumps(body, ensure_ascii=False)
    [record] = [r for r in caplog.records if r.msg == "channels.web.message.failed"]
    assert record.exc_type == "RuntimeError"
    _assert_nothing_private_logged(caplog)


async def test_handle_turn_lets_a_cancellation_through_and_logs_it(caplog):
    bot = ScriptedBot()
    bot.error = asyncio.CancelledError()
    channel = WebChatInput(user_hash_key=HASH_KEY)
    body = json.dumps({"sender": SENDER, "message": PRIVATE_TEXT}).encode()
    request = SimpleNamespace(
        body=body, content_type="application/json", remote_addr="", ip="127.0.0.1"
    )
    caplog.set_level(logging.DEBUG, logger="channels")

    with pytest.raises(asyncio.CancelledError):
        await channel.handle_turn(request, bot)

    assert any(r.msg == "channels.web.message.cancelled" for r in caplog.records)
    _assert_nothing_private_logged(caplog)


def _limited(**options) -> WebChatInput:
    limiter = Limiter(LimitOptions(**{"turns_per_day": 0, **options}))
    return WebChatInput(user_hash_key=HASH_KEY, limiter=limiter)


@pytest.mark.parametrize("channel", [_limited(user_burst=2, user_per_minute=1)])
async def test_a_sender_over_the_rate_gets_429_with_retry_after_and_rasa_never_sees_it(
    server, bot, caplog
):
    caplog.set_level(logging.INFO, logger="channels")
    message = {"sender": SENDER, "message": PRIVATE_TEXT}
    statuses = [(await _post(server.session, message))[0] for _ in range(2)]
    limited = turns("limited")

    status, body, headers = await _post(server.session, message)

    assert statuses == [200, 200]
    assert status == 429
    assert turns("limited") == limited + 1
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["message"] == load_texts(DOMAIN)["user_rate"]
    assert body["request_id"] == headers["X-Request-Id"]
    assert len(bot.received) == 2
    limited = [r for r in caplog.records if r.msg == "channels.web.message.limited"]
    assert [(r.code, r.user) for r in limited] == [
        ("rate_limited", hash_user(SENDER, HASH_KEY))
    ]
    _assert_nothing_private_logged(caplog)


@pytest.mark.parametrize("channel", [_limited(user_burst=1)])
async def test_one_sender_over_the_rate_does_not_refuse_another(server, bot):
    first = {"sender": SENDER, "message": "你好"}
    other = {"sender": "web-other", "message": "你好"}

    statuses = [
        (await _post(server.session, body))[0] for body in (first, first, other)
    ]

    assert statuses == [200, 429, 200]


@pytest.mark.parametrize(
    "channel", [_limited(user_burst=10, turns_per_day=1, address_burst=0)]
)
async def test_a_sender_past_the_daily_turns_is_told_to_come_back_tomorrow(server, bot):
    body = {"sender": SENDER, "message": "你好"}
    await _post(server.session, body)

    status, reply, headers = await _post(server.session, body)

    assert (status, reply["error"]["code"]) == (429, "daily_limit_reached")
    assert reply["error"]["message"] == load_texts(DOMAIN)["daily_turns"]
    assert int(headers["Retry-After"]) <= 86_400


def test_blueprint_refuses_to_start_without_the_page_files(tmp_path: Path):
    channel = WebChatInput(user_hash_key=HASH_KEY, static_dir=tmp_path)

    with pytest.raises(AssetMissingError, match="chat.html"):
        channel.blueprint(ScriptedBot())


def test_from_credentials_reads_the_hash_key_from_settings(monkeypatch):
    monkeypatch.setenv("ZW_USER_HASH_KEY", "from-env")

    channel = WebChatInput.from_credentials({"max_message_chars": 300})

    assert channel.user_hash_key == "from-env"
    assert channel.max_message_chars == 300


def test_from_credentials_reads_the_limits():
    channel = WebChatInput.from_credentials({"limits": {"user_burst": 3}})

    assert channel.limiter.options.user_burst == 3


def test_from_credentials_refuses_dev_secrets_in_production_mode(monkeypatch):
    monkeypatch.setenv("ZW_MODE", "production")
    monkeypatch.delenv("ZW_USER_HASH_KEY", raising=False)

    with pytest.raises(InsecureSettingsError, match="ZW_USER_HASH_KEY"):
        WebChatInput.from_credentials({})


def test_from_credentials_rejects_a_bad_option():
    with pytest.raises(ValueError, match="max_message_chars"):
        WebChatInput.from_credentials({"max_message_chars": 0})


def test_credentials_file_loads_only_the_checked_web_channel_through_rasa(
    monkeypatch,
):
    # Rasa's own REST channel logs the message text of a malformed body.
    from rasa.core.run import create_http_input_channels

    from bot.settings import DEV_WECHAT

    # credentials.yml also enables the WeChat channel, from ZW_WECHAT_*.
    for name, value in DEV_WECHAT.items():
        monkeypatch.setenv(name, value)

    channels = create_http_input_channels(None, str(PROJECT_ROOT / "credentials.yml"))

    names = [channel.name() for channel in channels]
    assert names == ["web", "wechat", "metrics", "assist"]
    web = channels[0]
    assert isinstance(web, WebChatInput)
    assert web.url_prefix() == "web"


def _assert_nothing_private_logged(caplog) -> None:
    for record in caplog.records:
        line = (
            record.getMessage()
            + " "
            + json.dumps(
                {k: str(v) for k, v in record.__dict__.items()}, ensure_ascii=False
            )
        )
        for fragment in ("张三", "13812345678", "居住证"):
            assert fragment not in line, record.msg
