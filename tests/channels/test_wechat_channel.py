"""The WeChat channel over HTTP, played by the simulator against a fake bot.

WeChat's clock is scaled by 1/5 (a 5 s deadline is 1 s here), so a
"12-second turn" takes 2.4 s.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict

import pytest

from bot.privacy import hash_user
from bot.settings import PROJECT_ROOT
from channels import wechat_protocol as protocol
from channels.limits import Limiter, LimitOptions, load_texts
from channels.metrics import REGISTRY
from channels.wechat import WeChatInput
from channels.wechat_api import WeChatApiClient, WeChatApiError
from channels.wechat_delivery import Timing
from channels.wechat_protocol import CHANNEL_TEXTS
from channels.wechat_sim import (
    ACCOUNT,
    WeChatSimulator,
    dev_options,
    encrypt_body,
    message_xml,
    run_hostile,
    serve_channel,
    sign_query,
)

SCALE = 0.2
TIMING = Timing(
    passive_wait=4.5 * SCALE, wechat_timeout=5.0 * SCALE, hang_up_margin=0.5 * SCALE
)
HASH_KEY = "test-hash-key"
DOMAIN = PROJECT_ROOT / "domain.yml"
OPENID = "oPrivateOpenId0000000000000"
PRIVATE_TEXT = "我叫张三，手机13812345678，怎么办居住证"


class FakeRasa:
    """Rasa's ``on_new_message``: one turn at a time per user, like its lock store."""

    def __init__(self) -> None:
        self.turns: list[tuple[str, str]] = []
        self.delay: float = 0.0
        self.buttons: list[dict] = []
        self.error: Exception | None = None
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def __call__(self, message) -> None:
        async with self._locks[message.sender_id]:
            self.turns.append((message.sender_id, message.text))
            await asyncio.sleep(self.delay)
            if self.error is not None:
                raise self.error
            channel = message.output_channel
            if self.buttons:
                await channel.send_text_with_buttons(
                    message.sender_id, "请选择：", self.buttons
                )
                return
            await channel.send_text_message(message.sender_id, f"收到：{message.text}")
            await channel.send_text_message(message.sender_id, "还有其他问题吗？")


def wechat_turns(result: str) -> float:
    labels = {"channel": "wechat", "result": result}
    return REGISTRY.get_sample_value("zw_rasa_turns_total", labels) or 0.0


def _answer(text: str) -> str:
    return f"收到：{text}\n\n还有其他问题吗？"


@pytest.fixture
def rasa() -> FakeRasa:
    return FakeRasa()


async def _simulator(
    rasa, mode="safe", api=None, timing=TIMING, limiter=None, **sim_options
):
    overrides = {"mode": mode}
    if api is not None:
        overrides.update(customer_service_api=True, api_base=api.url)
    options = dev_options(**overrides)
    channel = WeChatInput(options, HASH_KEY, timing=timing, limiter=limiter)
    serving = serve_channel(channel, rasa)
    url = await serving.__aenter__()
    sim = WeChatSimulator(
        url,
        options,
        wechat_timeout=timing.wechat_timeout,
        api=api,
        late_wait=3.0,
        **sim_options,
    )
    await sim.__aenter__()
    return sim, serving, channel


@pytest.fixture
async def make_sim():
    opened = []

    async def make(rasa, **kwargs):
        sim, serving, channel = await _simulator(rasa, **kwargs)
        opened.append((sim, serving))
        return sim, channel

    yield make
    for sim, serving in opened:
        await sim.__aexit__(None, None, None)
        await serving.__aexit__(None, None, None)


# --- verification and modes ----------------------------------------------------------


async def test_url_verification_echoes_echostr_and_rejects_a_bad_signature(
    rasa, make_sim
):
    sim, _ = await make_sim(rasa)
    query = {**sign_query(sim.options.token), "echostr": "4958349085"}
    async with sim._session.get(sim.url, params=query) as response:
        assert (response.status, await response.text()) == (200, "4958349085")

    query["signature"] = "0" * 40
    async with sim._session.get(sim.url, params=query) as response:
        assert response.status == 403


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
async def test_every_mode_round_trips_a_turn(rasa, make_sim, mode):
    sim, _ = await make_sim(rasa, mode=mode)

    message = await sim.say(OPENID, "社保卡怎么补办")

    assert message.answers == ["passive:" + _answer("社保卡怎么补办")]
    assert rasa.turns == [(OPENID, "社保卡怎么补办")]
    assert sim.finish().lost == 0


# --- hostile requests ----------------------------------------------------------------


async def test_forged_replayed_and_hostile_requests_are_rejected_and_logged(
    rasa, make_sim, caplog
):
    caplog.set_level(logging.INFO, logger="channels")
    sim, _ = await make_sim(rasa)

    statuses = await run_hostile(sim)

    assert statuses == {
        "bad_signature": 403,
        "no_signature": 403,
        "stale_replay": 403,
        "billion_laughs": 400,
        "external_entity": 400,
        "oversized": 413,
        "not_xml": 400,
    }
    codes = [
        r.code for r in caplog.records if r.msg == "channels.wechat.request.rejected"
    ]
    assert codes == [
        "bad_signature",
        "bad_timestamp",
        "stale_timestamp",
        "xml_forbidden",
        "xml_forbidden",
        "body_too_large",
        "invalid_xml",
    ]
    assert rasa.turns == []
    # The channel still answers afterwards.
    assert (await sim.say(OPENID, "你好")).answers


async def test_a_bad_msg_signature_in_safe_mode_is_rejected(rasa, make_sim, caplog):
    caplog.set_level(logging.INFO, logger="channels")
    sim, _ = await make_sim(rasa)
    xml = message_xml(OPENID, ACCOUNT, msg_id="1", Content="你好")
    query, body = encrypt_body(sim.options, xml, sign_query(sim.options.token))
    query["msg_signature"] = "0" * 40

    status, _ = await sim.post_raw(body.encode(), query)

    assert status == 403
    assert [r.code for r in caplog.records if hasattr(r, "code")] == ["bad_signature"]
    assert rasa.turns == []


async def test_plaintext_is_refused_in_safe_mode(rasa, make_sim):
    sim, _ = await make_sim(rasa)
    xml = message_xml(OPENID, ACCOUNT, msg_id="1", Content="你好")

    status, _ = await sim.post_raw(xml.encode(), sign_query(sim.options.token))

    assert status == 403
    assert rasa.turns == []


# --- deduplication -------------------------------------------------------------------


async def test_concurrent_deliveries_of_one_msg_id_run_one_turn_and_answer_once(
    rasa, make_sim
):
    sim, _ = await make_sim(rasa)
    rasa.delay = 0.1
    xml = message_xml(OPENID, ACCOUNT, msg_id="6054768590064713728", Content="你好")
    padded = xml.replace("6054768590064713728", " 6054768590064713728 ")

    replies = await asyncio.gather(sim.post(xml), sim.post(padded), sim.post(xml))

    bodies = sorted(sim.open_reply(body) for _, body in replies)
    assert bodies == sorted([_answer("你好"), "success", "success"])
    assert rasa.turns == [(OPENID, "你好")]


async def test_two_users_with_equal_msg_ids_both_get_answers(rasa, make_sim):
    sim, _ = await make_sim(rasa)
    first = message_xml("o-user-a", ACCOUNT, msg_id="777", Content="甲的问题")
    second = message_xml("o-user-b", ACCOUNT, msg_id="777", Content="乙的问题")

    replies = await asyncio.gather(sim.post(first), sim.post(second))

    assert [sim.open_reply(body) for _, body in replies] == [
        _answer("甲的问题"),
        _answer("乙的问题"),
    ]
    assert sorted(rasa.turns) == [("o-user-a", "甲的问题"), ("o-user-b", "乙的问题")]


# --- slow turns ----------------------------------------------------------------------


async def test_a_12_second_turn_runs_once_and_is_answered_once_on_a_retry(
    rasa, make_sim
):
    sim, _ = await make_sim(rasa)
    rasa.delay = 12 * SCALE

    message = await sim.say(OPENID, "慢问题")
    await asyncio.sleep(0.5)

    assert rasa.turns == [(OPENID, "慢问题")]
    assert message.answers == ["passive:" + _answer("慢问题")]
    report = sim.finish()
    assert (report.deliveries, report.duplicated, report.lost) == (3, 0, 0)
    assert report.replies_over_5s == 0


async def test_a_turn_slower_than_three_deliveries_is_kept_for_the_next_message(
    rasa, make_sim
):
    sim, _ = await make_sim(rasa)
    rasa.delay = 20 * SCALE

    first = await sim.say(OPENID, "很慢的问题")
    assert first.notice and not first.answers
    rasa.delay = 0
    await asyncio.sleep(1.2)  # the slow turn ends; its answer is kept
    second = await sim.say(OPENID, "下一个问题")
    third = await sim.say(OPENID, "再一个问题")

    assert first.answers == [
        "later:" + _answer("很慢的问题") + "\n\n" + _answer("下一个问题")
    ]
    assert second.answers == [
        "passive:" + _answer("很慢的问题") + "\n\n" + _answer("下一个问题")
    ]
    # Never twice: the kept answer is not repeated.
    assert third.answers == ["passive:" + _answer("再一个问题")]
    assert [text for _, text in rasa.turns] == [
        "很慢的问题",
        "下一个问题",
        "再一个问题",
    ]


async def test_a_slow_turn_goes_out_once_through_the_customer_service_api(
    rasa, make_sim, fake_api
):
    sim, channel = await make_sim(rasa, api=fake_api)
    rasa.delay = 12 * SCALE

    message = await sim.say(OPENID, "慢问题")
    assert message.acknowledged and not message.answers
    await asyncio.sleep(12 * SCALE)
    await channel.desk.drain()

    assert fake_api.texts_for(OPENID) == [_answer("慢问题")]
    assert rasa.turns == [(OPENID, "慢问题")]
    report = sim.finish()
    assert (report.sent, report.answered_api, report.duplicated, report.lost) == (
        1,
        1,
        0,
        0,
    )
    assert report.deliveries == 1


async def test_an_expired_token_is_refreshed_and_the_message_sent_once(
    rasa, make_sim, fake_api
):
    sim, channel = await make_sim(rasa, api=fake_api)
    rasa.delay = 8 * SCALE
    await sim.say(OPENID, "第一个")
    await asyncio.sleep(8 * SCALE)
    await channel.desk.drain()
    fake_api.expire_token()

    await sim.say(OPENID, "第二个")
    await asyncio.sleep(8 * SCALE)
    await channel.desk.drain()

    assert fake_api.texts_for(OPENID) == [_answer("第一个"), _answer("第二个")]
    assert fake_api.token_fetches == 2
    assert fake_api.rejected_tokens == 1


async def test_concurrent_callers_share_one_token_fetch(fake_api):
    options = dev_options(customer_service_api=True, api_base=fake_api.url)
    client = WeChatApiClient(options)

    tokens = await asyncio.gather(*(client.access_token() for _ in range(20)))
    await asyncio.gather(*(client.send_text(f"o-{n}", "通知") for n in range(20)))
    await client.close()

    assert set(tokens) == {"fake-token-1"}
    assert fake_api.token_fetches == 1
    assert len(fake_api.sent) == 20


async def test_a_wrong_app_secret_is_an_api_error(fake_api):
    options = dev_options(
        customer_service_api=True, api_base=fake_api.url, app_secret="wrong"
    )
    client = WeChatApiClient(options)
    with pytest.raises(WeChatApiError):
        await client.send_text("o-user", "通知")
    await client.close()


async def test_an_unreachable_api_is_an_api_error():
    options = dev_options(customer_service_api=True, api_base="http://127.0.0.1:9")
    client = WeChatApiClient(options)
    with pytest.raises(WeChatApiError):
        await client.access_token()
    await client.close()


# --- many users ----------------------------------------------------------------------


async def test_fifty_concurrent_users_each_get_their_own_answers_in_order(
    rasa, make_sim
):
    # WeChat's real deadlines: this is about order, not speed, and a loaded
    # machine must not turn a quick answer into a late one.
    # About order, not load: the channel-wide limit is tested on its own.
    no_channel_limit = Limiter(LimitOptions(channel_burst=0))
    sim, _ = await make_sim(rasa, timing=Timing(), limiter=no_channel_limit)
    rasa.delay = 0.02
    users = [f"o-user-{n:02d}" for n in range(50)]

    async def talk(user):
        return [(await sim.say(user, f"{user}的第{k}个问题")).answers for k in range(3)]

    answers = await asyncio.gather(*(talk(user) for user in users))

    for user, got in zip(users, answers, strict=True):
        assert got == [["passive:" + _answer(f"{user}的第{k}个问题")] for k in range(3)]
    report = sim.finish()
    assert (report.sent, report.answered, report.lost, report.duplicated) == (
        150,
        150,
        0,
        0,
    )


# --- message kinds and shaping -------------------------------------------------------


async def test_buttons_become_numbers_and_a_digit_sends_the_payload(rasa, make_sim):
    sim, _ = await make_sim(rasa)
    rasa.buttons = [
        {"title": "首次申领", "payload": "/first"},
        {"title": "补领", "payload": "补领身份证"},
    ]

    first = await sim.say(OPENID, "身份证")
    await sim.say(OPENID, "2")

    assert first.answers == [
        f"passive:请选择：\n{CHANNEL_TEXTS['choose_by_number']}\n1. 首次申领\n2. 补领"
    ]
    assert rasa.turns == [(OPENID, "身份证"), (OPENID, "补领身份证")]


@pytest.mark.parametrize(
    ("fields", "reply", "turns"),
    [
        (
            {"MsgType": "image", "PicUrl": "http://x/a.png"},
            CHANNEL_TEXTS["unsupported"],
            [],
        ),
        ({"MsgType": "location", "Label": "某地"}, CHANNEL_TEXTS["unsupported"], []),
        (
            {"MsgType": "voice", "Recognition": "失业金怎么领"},
            _answer("失业金怎么领"),
            ["失业金怎么领"],
        ),
        ({"MsgType": "event", "Event": "subscribe"}, _answer("/greet"), ["/greet"]),
        (
            {"MsgType": "event", "Event": "CLICK", "EventKey": "我想开餐馆"},
            _answer("我想开餐馆"),
            ["我想开餐馆"],
        ),
        ({"MsgType": "event", "Event": "unsubscribe"}, "success", []),
    ],
)
async def test_message_kinds(rasa, make_sim, fields, reply, turns):
    sim, _ = await make_sim(rasa)
    msg_id = "" if fields["MsgType"] == "event" else "55"

    status, body = await sim.post(message_xml(OPENID, ACCOUNT, msg_id=msg_id, **fields))

    assert status == 200
    assert sim.open_reply(body) == reply
    assert [text for _, text in rasa.turns] == turns


async def test_a_long_answer_is_split_and_the_rest_kept_for_the_next_message(
    rasa, make_sim
):
    sim, _ = await make_sim(rasa)
    long_question = "问" * 1000  # the echo is over 2048 bytes

    first = await sim.say(OPENID, long_question)
    second = await sim.say(OPENID, "好的")

    [passive] = [answer.removeprefix("passive:") for answer in first.answers]
    [rest] = [answer.removeprefix("passive:") for answer in second.answers]
    full = _answer(long_question)
    assert len(passive.encode()) <= protocol.MAX_REPLY_BYTES
    assert full.startswith(passive)
    assert rest == full[len(passive) :] + "\n\n" + _answer("好的")
    assert [text for _, text in rasa.turns] == [long_question, "好的"]


async def test_a_failing_turn_answers_with_the_failure_text_and_logs_no_text(
    rasa, make_sim, caplog
):
    caplog.set_level(logging.DEBUG, logger="channels")
    sim, _ = await make_sim(rasa)
    rasa.error = RuntimeError(PRIVATE_TEXT)
    failed = wechat_turns("failed")

    message = await sim.say(OPENID, PRIVATE_TEXT)

    assert message.answers == ["passive:" + CHANNEL_TEXTS["failed"]]
    assert wechat_turns("failed") == failed + 1
    _assert_nothing_private_logged(caplog)


async def test_logs_carry_hashes_never_the_openid_or_text(rasa, make_sim, caplog):
    caplog.set_level(logging.DEBUG, logger="channels")
    sim, _ = await make_sim(rasa)
    rasa.delay = 6 * SCALE

    await sim.say(OPENID, PRIVATE_TEXT)

    events = {r.msg for r in caplog.records}
    assert "channels.wechat.delivery.duplicate" in events
    assert "channels.wechat.delivery.answered" in events
    _assert_nothing_private_logged(caplog)


def _assert_nothing_private_logged(caplog) -> None:
    for record in caplog.records:
        line = record.getMessage() + json.dumps(
            {k: str(v) for k, v in record.__dict__.items()}, ensure_ascii=False
        )
        for fragment in (OPENID, "张三", "13812345678", "居住证"):
            assert fragment not in line, record.msg


# --- abuse limits --------------------------------------------------------------------


async def test_a_flooding_user_gets_a_passive_refusal_and_rasa_never_sees_it(
    rasa, make_sim, caplog
):
    caplog.set_level(logging.INFO, logger="channels")
    limiter = Limiter(LimitOptions(user_burst=2, user_per_minute=1))
    sim, _ = await make_sim(rasa, limiter=limiter)

    said = [await sim.say(OPENID, f"{PRIVATE_TEXT}{n}") for n in range(4)]
    other = await sim.say("o-other-user", "你好")

    refusal = "passive:" + load_texts(DOMAIN)["user_rate"]
    assert [m.answers for m in said[2:]] == [[refusal], [refusal]]
    assert [text for _, text in rasa.turns] == [
        f"{PRIVATE_TEXT}0",
        f"{PRIVATE_TEXT}1",
        "你好",
    ]
    assert other.answers == ["passive:" + _answer("你好")]
    limited = [r for r in caplog.records if r.msg == "channels.wechat.message.limited"]
    # The flood's first refusal is a warning; the second is at debug.
    assert [(r.code, r.user) for r in limited] == [
        ("rate_limited", hash_user(OPENID, HASH_KEY))
    ]
    _assert_nothing_private_logged(caplog)


async def test_a_redelivered_message_is_not_counted_again(rasa, make_sim):
    # A 2-second turn: WeChat delivers the message twice before it answers.
    limiter = Limiter(LimitOptions(user_burst=1, user_per_minute=1))
    sim, _ = await make_sim(rasa, limiter=limiter)
    rasa.delay = 10 * SCALE

    message = await sim.say(OPENID, "社保怎么转移")

    assert rasa.turns == [(OPENID, "社保怎么转移")]
    assert load_texts(DOMAIN)["user_rate"] not in " ".join(message.answers)


async def test_a_too_long_message_is_refused_with_the_limit_in_the_reply(
    rasa, make_sim
):
    sim, channel = await make_sim(rasa)
    channel.max_message_chars = 10

    message = await sim.say(OPENID, "我" * 11)

    expected = load_texts(DOMAIN)["message_too_long"].replace("{max_chars}", "10")
    assert message.answers == ["passive:" + expected]
    assert "10" in expected
    assert rasa.turns == []


# --- configuration -------------------------------------------------------------------


def test_from_credentials_reads_limits_and_message_size():
    credentials = {
        "token": "tok123",
        "app_id": "wx",
        "mode": "plaintext",
        "max_message_chars": "200",
        "limits": {"turns_per_day": 5},
    }

    channel = WeChatInput.from_credentials(credentials)

    assert channel.max_message_chars == 200
    assert channel.limiter.options.turns_per_day == 5


def test_from_credentials_refuses_the_dev_account_in_production_mode(monkeypatch):
    from bot.settings import DEV_WECHAT

    monkeypatch.setenv("ZW_MODE", "production")
    monkeypatch.setenv("ZW_USER_HASH_KEY", "a-real-user-hash-key-0123")
    monkeypatch.setenv("ZW_ACTION_TOKEN", "a-real-action-token-0123")
    for name, value in DEV_WECHAT.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ValueError, match="ZW_WECHAT_TOKEN is the development default"):
        WeChatInput.from_credentials({"token": "devwechattoken", "app_id": "wx"})


def test_from_credentials_names_a_bad_option():
    with pytest.raises(ValueError, match="aes_key"):
        WeChatInput.from_credentials(
            {"token": "tok123", "app_id": "wx", "aes_key": "x"}
        )


def test_credentials_file_loads_every_channel_with_the_dev_environment(monkeypatch):
    from rasa.core.run import create_http_input_channels

    from bot.launcher import process_env
    from bot.settings import load_settings

    for name, value in process_env(load_settings({})).items():
        if name.startswith("ZW_WECHAT_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("ZW_WECHAT_MODE", "compatible")

    channels = create_http_input_channels(None, str(PROJECT_ROOT / "credentials.yml"))

    names = [channel.name() for channel in channels]
    assert names == ["web", "wechat", "metrics", "assist"]
    assert channels[1].options.mode == "compatible"
    assert channels[1].options.customer_service_api is False


async def test_a_turn_counts_once_however_often_wechat_delivers_it(rasa, make_sim):
    before = wechat_turns("handled")
    rasa.delay = 6.0 * SCALE  # a "6-second turn": WeChat delivers it again
    sim, _ = await make_sim(rasa)

    await sim.say(OPENID, "社保卡怎么补办")
    sim.finish()

    assert len(rasa.turns) == 1
    assert wechat_turns("handled") == before + 1
