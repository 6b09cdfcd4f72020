"""Play WeChat against the assistant's WeChat channel, for tests and operators.

    python -m channels.wechat_sim --url http://127.0.0.1:5005/webhooks/wechat/
    python -m channels.wechat_sim --local-bot-delay 12      # a slow turn
    python -m channels.wechat_sim --hostile                 # attacks

Each message is signed (and encrypted in compatible or safe mode) as WeChat
does, re-sent when no answer comes within WeChat's 5 s, at most three times.
Without ``--url`` the channel runs in this process with an echo bot (delayed
by ``--local-bot-delay``) and, with ``--customer-service-api``, a fake WeChat
API; everything listens on 127.0.0.1 only. The report counts messages sent,
answered, duplicated, lost and replies that came after WeChat's deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

from bot.logs import configure_logging
from bot.settings import DEV_WECHAT
from channels import wechat_protocol as protocol
from channels.wechat_delivery import Timing
from channels.wechat_fake_api import FakeWeChatApi
from channels.wechat_protocol import CHANNEL_TEXTS, WeChatOptions

NOTICE = CHANNEL_TEXTS["still_working"]
ACCOUNT = "gh_simulated0001"


@dataclass
class Report:
    """What the citizens saw, counted per message."""

    sent: int = 0
    deliveries: int = 0
    answered: int = 0
    answered_passive: int = 0
    answered_api: int = 0
    answered_later: int = 0
    waiting_for_next_message: int = 0
    duplicated: int = 0
    lost: int = 0
    replies_over_5s: int = 0
    rejected: int = 0
    accepted_attacks: int = 0

    def lines(self) -> str:
        return "\n".join(f"{key:<26}{value}" for key, value in asdict(self).items())


@dataclass
class SimMessage:
    """One message a simulated citizen sends, and what became of it."""

    user: str
    text: str
    msg_id: str
    answers: list[str] = field(default_factory=list)
    acknowledged: bool = False
    notice: bool = False


@dataclass
class WeChatSimulator:
    """Signs, encrypts, sends and re-sends like WeChat's servers."""

    url: str
    options: WeChatOptions
    wechat_timeout: float = 5.0
    max_deliveries: int = 3
    late_wait: float = 30.0
    api: FakeWeChatApi | None = None
    report: Report = field(default_factory=Report)
    messages: list[SimMessage] = field(default_factory=list)
    _late: list[asyncio.Task] = field(default_factory=list)
    _session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> WeChatSimulator:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._late:
            await asyncio.wait(self._late, timeout=self.late_wait)
        assert self._session is not None
        await self._session.close()

    async def say(self, user: str, text: str) -> SimMessage:
        """Send one text message as ``user`` and play WeChat's retries."""
        message = SimMessage(user, text, str(secrets.randbits(63)))
        self.messages.append(message)
        self.report.sent += 1
        xml = message_xml(user, ACCOUNT, msg_id=message.msg_id, Content=text)
        reply = await self.deliver(xml)
        self._record(message, reply)
        return message

    async def deliver(self, xml: str) -> str | None:
        """POST ``xml`` up to ``max_deliveries`` times; the in-time reply body.

        Returns:
            The decrypted reply (``"success"`` for a bare acknowledgement), or
            None when every delivery timed out or failed.
        """
        for _ in range(self.max_deliveries):
            self.report.deliveries += 1
            task = asyncio.create_task(self.post(xml))
            done, _ = await asyncio.wait({task}, timeout=self.wechat_timeout)
            if done:
                status, body = task.result()
                return self.open_reply(body) if status == 200 else None
            # WeChat hangs up and re-sends; a reply after that is lost.
            self._late.append(asyncio.create_task(self._count_late(task)))
        return None

    async def post(
        self, xml: str, query: dict[str, str] | None = None
    ) -> tuple[int, str]:
        """Send one signed (and maybe encrypted) delivery; (status, body)."""
        query, body = query or {}, xml
        signed = sign_query(self.options.token, **query)
        if self.options.mode != protocol.PLAINTEXT:
            signed, body = encrypt_body(self.options, xml, signed)
        return await self.post_raw(body.encode("utf-8"), signed)

    async def post_raw(self, body: bytes, query: dict[str, str]) -> tuple[int, str]:
        assert self._session is not None
        async with self._session.post(self.url, params=query, data=body) as response:
            return response.status, await response.text()

    def open_reply(self, body: str) -> str:
        if body in ("", "success"):
            return "success"
        fields = protocol.parse_xml(body.encode("utf-8"))
        if "Encrypt" in fields:
            protocol.check_signature(
                fields.get("MsgSignature"),
                self.options.token,
                fields.get("TimeStamp", ""),
                fields.get("Nonce", ""),
                fields["Encrypt"],
            )
            crypto = protocol.make_crypto(self.options)
            plain = protocol.decrypt(crypto, fields["Encrypt"])
            fields = protocol.parse_xml(plain.encode("utf-8"))
        return fields.get("Content", "")

    async def _count_late(self, task: asyncio.Task) -> None:
        with contextlib.suppress(Exception):
            status, body = await asyncio.wait_for(task, self.late_wait)
            if status == 200 and body not in ("", "success"):
                self.report.replies_over_5s += 1

    def _record(self, message: SimMessage, reply: str | None) -> None:
        if reply is None:
            return
        message.acknowledged = True
        if reply == "success":
            return
        earlier = [m for m in self._waiting(message.user) if m is not message]
        answer = reply.removesuffix(NOTICE).strip()
        message.notice = reply.endswith(NOTICE)
        if answer and earlier and self.api is None:
            # Without the API, a kept answer rides on the next reply.
            for waiting in earlier:
                waiting.answers.append("later:" + answer)
        if answer and not message.notice:
            message.answers.append("passive:" + answer)

    def _waiting(self, user: str) -> list[SimMessage]:
        return [m for m in self.messages if m.user == user and not m.answers]

    def finish(self) -> Report:
        """Attribute customer-service messages and count the outcomes."""
        if self.api is not None:
            for user in {m.user for m in self.messages}:
                waiting = [m for m in self._waiting(user) if m.acknowledged]
                for text, message in zip(
                    self.api.texts_for(user), waiting, strict=False
                ):
                    message.answers.append("api:" + text)
        report = self.report
        for message in self.messages:
            kinds = [answer.split(":", 1)[0] for answer in message.answers]
            report.answered += bool(kinds)
            report.answered_passive += "passive" in kinds
            report.answered_api += "api" in kinds
            report.answered_later += "later" in kinds
            report.duplicated += len(kinds) > 1
            if not kinds and message.notice:
                report.waiting_for_next_message += 1
            elif not kinds:
                report.lost += 1
        return report


def message_xml(user: str, account: str, msg_id: str = "", **fields: str) -> str:
    """A WeChat message body; ``fields`` default to a text message."""
    fields.setdefault("MsgType", "text")
    body = {
        "ToUserName": account,
        "FromUserName": user,
        "CreateTime": str(int(time.time())),
        **fields,
    }
    if msg_id:
        body["MsgId"] = msg_id
    inner = "".join(
        f"<{key}>{protocol.cdata(value)}</{key}>"
        if key != "CreateTime"
        else f"<{key}>{value}</{key}>"
        for key, value in body.items()
    )
    return f"<xml>{inner}</xml>"


def sign_query(token: str, **overrides: str) -> dict[str, str]:
    """``signature``, ``timestamp`` and ``nonce`` as WeChat puts them in the URL."""
    timestamp = overrides.pop("timestamp", str(int(time.time())))
    nonce = overrides.pop("nonce", secrets.token_hex(5))
    query = {
        "signature": protocol.signature(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": "sim",
    }
    query.update(overrides)
    return query


def encrypt_body(
    options: WeChatOptions, xml: str, query: dict[str, str]
) -> tuple[dict[str, str], str]:
    """Encrypt ``xml`` as WeChat does in compatible and safe mode."""
    crypto = protocol.make_crypto(options)
    envelope = protocol.parse_xml(
        crypto.encrypt_message(xml, query["nonce"], query["timestamp"]).encode()
    )
    encrypt = envelope["Encrypt"]
    query = {
        **query,
        "encrypt_type": "aes",
        "msg_signature": protocol.signature(
            options.token, query["timestamp"], query["nonce"], encrypt
        ),
    }
    if options.mode == protocol.COMPATIBLE:
        body = xml.replace(
            "</xml>", f"<Encrypt>{protocol.cdata(encrypt)}</Encrypt></xml>"
        )
    else:
        body = (
            f"<xml><ToUserName>{protocol.cdata(ACCOUNT)}</ToUserName>"
            f"<Encrypt>{protocol.cdata(encrypt)}</Encrypt></xml>"
        )
    return query, body


# --- attacks -----------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
    '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    "<xml><ToUserName>x</ToUserName><FromUserName>u</FromUserName>"
    "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&d;</Content></xml>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>x</ToUserName><FromUserName>u</FromUserName>"
    "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&e;</Content></xml>"
)


def attacks(options: WeChatOptions) -> list[tuple[str, bytes, dict[str, str]]]:
    """(name, body, query) of requests the channel must refuse."""
    valid = message_xml("o-attacker", ACCOUNT, msg_id="1", Content="你好")
    signed = sign_query(options.token)
    stale = sign_query(options.token, timestamp=str(int(time.time()) - 3600))
    bad = {**sign_query(options.token), "signature": "0" * 40}
    oversized = valid.replace("你好", "好" * 20_000)
    return [
        ("bad_signature", valid.encode(), bad),
        ("no_signature", valid.encode(), {}),
        ("stale_replay", valid.encode(), stale),
        ("billion_laughs", BILLION_LAUGHS.encode(), signed),
        ("external_entity", EXTERNAL_ENTITY.encode(), signed),
        ("oversized", oversized.encode(), signed),
        ("not_xml", b'{"a": 1}', signed),
    ]


async def run_hostile(sim: WeChatSimulator) -> dict[str, int]:
    """Send every attack; the statuses, counted into the report."""
    statuses = {}
    for name, body, query in attacks(sim.options):
        status, _ = await sim.post_raw(body, query)
        statuses[name] = status
        if 400 <= status < 500:
            sim.report.rejected += 1
        else:
            sim.report.accepted_attacks += 1
    return statuses


# --- a local channel with an echo bot -----------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EchoBot:
    """Stands in for Rasa: answers ``收到：<text>`` after ``delay`` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.turns: list[tuple[str, str]] = []

    async def __call__(self, message: Any) -> None:
        self.turns.append((message.sender_id, message.text))
        await asyncio.sleep(self.delay)
        await message.output_channel.send_text_message(
            message.sender_id, f"收到：{message.text}"
        )


@contextlib.asynccontextmanager
async def serve_channel(
    channel: Any, on_new_message: Callable[[Any], Awaitable[Any]]
) -> AsyncIterator[str]:
    """Mount ``channel`` on a Sanic server on a free port; yield its URL."""
    from sanic import Sanic

    # Sanic rewrites its own methods once per process outside test mode.
    Sanic.test_mode = True
    app = Sanic(f"wechat_sim_{uuid.uuid4().hex}")
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/wechat")
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    await server.startup()
    await server.start_serving()
    try:
        yield f"http://127.0.0.1:{port}/webhooks/wechat/"
    finally:
        await channel.close()
        server.close()
        await server.wait_closed()


def dev_options(**overrides: Any) -> WeChatOptions:
    """The dev-only account of bot.settings, as the stack's channel sees it."""
    return protocol.parse_options(
        {
            "token": DEV_WECHAT["ZW_WECHAT_TOKEN"],
            "app_id": DEV_WECHAT["ZW_WECHAT_APP_ID"],
            "app_secret": DEV_WECHAT["ZW_WECHAT_APP_SECRET"],
            "aes_key": DEV_WECHAT["ZW_WECHAT_AES_KEY"],
            "mode": DEV_WECHAT["ZW_WECHAT_MODE"],
            **overrides,
        }
    )


async def run_users(sim: WeChatSimulator, users: int, texts: list[str]) -> None:
    """Each user sends ``texts`` in order; users run concurrently."""

    async def one(index: int) -> None:
        user = f"o-sim-{index:04d}-{secrets.token_hex(4)}"
        for text in texts:
            await sim.say(user, text)

    await asyncio.gather(*(one(index) for index in range(users)))


async def main_async(args: argparse.Namespace) -> Report:
    options = dev_options(
        mode=args.mode, token=args.token or DEV_WECHAT["ZW_WECHAT_TOKEN"]
    )
    # A running assistant keeps WeChat's real clock; only local runs scale.
    scale = 1.0 if args.url else args.time_scale
    fake_api = None
    async with contextlib.AsyncExitStack() as stack:
        url = args.url
        if not url:
            from channels.wechat import WeChatInput

            if args.customer_service_api:
                fake_api = FakeWeChatApi(options.app_id, options.app_secret)
                await fake_api.start()
                stack.push_async_callback(fake_api.stop)
                options = dev_options(
                    mode=args.mode, customer_service_api=True, api_base=fake_api.url
                )
            timing = Timing(
                passive_wait=4.5 * scale,
                wechat_timeout=5.0 * scale,
                hang_up_margin=0.5 * scale,
            )
            channel = WeChatInput(options, "sim-hash-key", timing=timing)
            bot = EchoBot(args.local_bot_delay * scale)
            url = await stack.enter_async_context(serve_channel(channel, bot))
        sim = WeChatSimulator(
            url,
            options,
            wechat_timeout=5.0 * scale,
            api=fake_api,
            late_wait=max(30.0, args.local_bot_delay) * scale,
        )
        async with sim:
            if args.hostile:
                statuses = await run_hostile(sim)
                print(json.dumps(statuses), file=sys.stderr)
            await run_users(sim, args.users, args.text or ["你好"])
            # Late answers go out when the turn ends; wait for the slowest.
            await asyncio.sleep((args.settle + args.local_bot_delay) * scale)
        return sim.finish()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m channels.wechat_sim")
    parser.add_argument("--url", help="the channel's URL; none: run one locally")
    parser.add_argument("--mode", default="safe", choices=protocol.MODES)
    parser.add_argument("--token", help="the account token (dev token by default)")
    parser.add_argument("--users", type=int, default=3)
    parser.add_argument("--text", action="append", help="a message (repeatable)")
    parser.add_argument(
        "--local-bot-delay",
        type=float,
        default=0.0,
        help="seconds the local echo bot takes per turn",
    )
    parser.add_argument(
        "--customer-service-api",
        action="store_true",
        help="local run: late answers go through a fake WeChat API",
    )
    parser.add_argument(
        "--hostile",
        action="store_true",
        help="also send forged, replayed and hostile requests",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=2.0,
        help="seconds to wait for late API messages at the end",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="scale every WeChat deadline (local runs; 0.1 = 10x faster)",
    )
    configure_logging("WARNING")
    report = asyncio.run(main_async(parser.parse_args(argv)))
    print(report.lines())
    return 0 if report.lost == 0 and report.accepted_attacks == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
