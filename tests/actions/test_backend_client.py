"""The backend client against a real backend served in-process on a free port.

Faults (a 503, a slow answer, a non-JSON body) come from a middleware put in
front of the real app, so everything else is the real request path.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions import backend_client
from actions.backend_client import (
    ApplicationRequest,
    BackendClient,
    BackendRejected,
    BackendUnavailable,
    ConsentRequest,
    ProfileNotFound,
    RequestedItem,
    is_retryable,
    make_idempotency_key,
)
from backend import repository
from backend.app import create_app
from backend.consents import record_consent
from backend.db import (
    Application,
    Consent,
    Handoff,
    create_db_engine,
    upgrade_schema,
)
from backend.lifecycle import set_item_status
from backend.repository import CHINA_TIME
from backend.seed import BUSINESS_LICENCE, FOOD_LICENCE, SAMPLE_CITIZENS, seed
from backend.validation import StatusChange, parse_consent
from bot.logs import KeyValueFormatter
from bot.settings import load_settings

TOKEN = "client-test-token"
HOLDER = SAMPLE_CITIZENS[1]  # 营业执照 and 食品经营许可证
UNKNOWN_ID_NUMBER = "990101200001010006"
FAST = aiohttp.ClientTimeout(total=1, connect=0.5)
NO_CONSENT = "0" * 32
# Consents recorded straight into each test's database (so the fault counter
# sees only the calls under test), by 身份证号.
CONSENTS: dict[str, str] = {}


class Faults:
    """Counts requests; answers the first ``fail`` of them with ``status``.

    With ``page`` set, every answer is that non-JSON page with ``status``.
    """

    def __init__(self) -> None:
        self.requests = 0
        self.peers: list[object] = []
        self.fail = 0
        self.status = 503
        self.after_handler = False
        self.delay_s = 0.0
        self.page: bytes | None = None

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        self.requests += 1
        self.peers.append(request.transport.get_extra_info("peername"))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.page is not None:
            return web.Response(
                body=self.page, status=self.status, content_type="text/html"
            )
        if self.requests > self.fail:
            return await handler(request)
        if self.after_handler:
            # The backend did the work but the answer is lost on the way.
            await handler(request)
        return web.json_response({"error": {"code": "x"}}, status=self.status)


@pytest.fixture
def engine(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'backend.db'}")
    upgrade_schema(engine)
    with Session(engine, future=True) as session:
        seed(session)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def consents(engine):
    """A consent for the holder and for the unknown citizen, in the database."""
    caller = repository.Caller("action_server", "test-request-0001")
    CONSENTS.clear()
    with Session(engine, future=True) as session:
        for number, id_number in enumerate((HOLDER.id_number, UNKNOWN_ID_NUMBER)):
            submission = parse_consent(
                {
                    "id_number": id_number,
                    "fields": ["address", "licences", "name", "phone"],
                    "scenario_id": "restaurant",
                    "form_instance": f"form-instance-{number}",
                }
            )
            result = record_consent(
                session, submission, f"consent-{number:04d}", caller
            )
            CONSENTS[id_number] = result.consent.consent_id
    return CONSENTS


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
async def server(engine, faults):
    settings = replace(load_settings({}), backend_token=TOKEN)
    app = create_app(settings, engine)
    app.middlewares.insert(0, faults.middleware)
    server = TestServer(app)
    await server.start_server(access_log=None)
    yield server
    await server.close()


@pytest.fixture
async def client(server):
    client = BackendClient(
        str(server.make_url("")), TOKEN, timeout=FAST, backoff_s=0.01
    )
    yield client
    await client.close()


def _request(**changes) -> ApplicationRequest:
    request = ApplicationRequest(
        scenario_id="restaurant",
        applicant_id_number=HOLDER.id_number,
        answers={"venue_area": 80, "has_business_licence": True},
        items=(
            RequestedItem(
                "food_business_licence",
                "食品经营许可（餐饮服务）",
                "县级市场监督管理局",
                "normal",
            ),
        ),
        form={"shop_name": "春梅面馆"},
    )
    return replace(request, **changes)


def _applications(engine) -> int:
    with Session(engine, future=True) as session:
        return session.execute(
            select(func.count()).select_from(Application)
        ).scalar_one()


async def test_profile_comes_back_as_a_frozen_profile(client):
    profile = await client.get_profile(HOLDER.id_number, CONSENTS[HOLDER.id_number])

    assert (profile.name, profile.phone) == (HOLDER.name, HOLDER.phone)
    assert profile.has_licence(BUSINESS_LICENCE)
    assert profile.has_licence(FOOD_LICENCE)
    assert not profile.has_licence("烟草专卖零售许可证")


async def test_unknown_citizen_raises_profile_not_found(client):
    with pytest.raises(ProfileNotFound) as raised:
        await client.get_profile(UNKNOWN_ID_NUMBER, CONSENTS[UNKNOWN_ID_NUMBER])

    assert raised.value.code == "profile_not_found"
    assert raised.value.status == 404


async def test_malformed_id_number_is_rejected_without_retry(client, faults):
    with pytest.raises(BackendRejected) as raised:
        await client.get_profile("12345", NO_CONSENT)

    assert raised.value.code == "invalid_id_number"
    assert faults.requests == 1


async def test_path_characters_in_an_id_number_are_escaped(client):
    with pytest.raises(BackendRejected) as raised:
        await client.get_profile("../../health", NO_CONSENT)

    assert raised.value.code == "invalid_id_number"


async def test_a_503_is_retried_then_the_answer_is_returned(client, faults):
    faults.fail = 1

    profile = await client.get_profile(HOLDER.id_number, CONSENTS[HOLDER.id_number])

    assert profile.id_number == HOLDER.id_number
    assert faults.requests == 2


async def test_retries_stop_after_the_attempts_and_keep_the_code(client, faults):
    faults.fail = 10
    faults.status = 502

    with pytest.raises(BackendUnavailable) as raised:
        await client.get_profile(HOLDER.id_number, CONSENTS[HOLDER.id_number])

    assert (raised.value.code, raised.value.status) == ("x", 502)
    assert faults.requests == 3


async def test_a_500_is_not_retried(client, faults):
    faults.fail = 1
    faults.status = 500

    with pytest.raises(BackendUnavailable):
        await client.get_profile(HOLDER.id_number, CONSENTS[HOLDER.id_number])

    assert faults.requests == 1


async def test_submission_is_created_then_replayed_with_the_same_key(client, engine):
    key = make_idempotency_key("sender-1", "restaurant", "1")

    first = await client.submit_application(_request(), key)
    second = await client.submit_application(_request(), key)

    assert (first.replayed, second.replayed) == (False, True)
    assert replace(second, replayed=False) == first
    assert [item.status for item in first.items] == ["received"]
    assert _applications(engine) == 1


async def test_a_lost_answer_is_retried_and_makes_one_application(
    client, engine, faults
):
    faults.fail = 1
    faults.after_handler = True

    receipt = await client.submit_application(_request(), "conversation-lost-1")

    assert receipt.replayed
    assert faults.requests == 2
    assert _applications(engine) == 1


async def test_same_key_with_other_answers_is_rejected_as_a_conflict(client):
    await client.submit_application(_request(), "conversation-0001")

    with pytest.raises(BackendRejected) as raised:
        await client.submit_application(
            _request(answers={"venue_area": 300}), "conversation-0001"
        )

    assert raised.value.code == "idempotency_conflict"
    assert raised.value.status == 409


async def test_status_lookup_returns_the_receipt(client):
    receipt = await client.submit_application(_request(), "conversation-0001")

    looked_up = await client.get_application(receipt.application_no)

    assert looked_up == receipt


async def test_status_lookup_of_an_unknown_number_is_rejected(client):
    with pytest.raises(BackendRejected) as raised:
        await client.get_application("ZW20261203000123")

    assert raised.value.code == "application_not_found"


async def test_a_slow_backend_times_out_as_backend_unavailable(server, faults):
    faults.delay_s = 0.5
    client = BackendClient(
        str(server.make_url("")),
        TOKEN,
        timeout=aiohttp.ClientTimeout(total=0.1),
        attempts=2,
        backoff_s=0.01,
    )
    try:
        with pytest.raises(BackendUnavailable) as raised:
            await client.get_profile(HOLDER.id_number, CONSENTS[HOLDER.id_number])
    finally:
        await client.close()

    assert raised.value.code == "backend_timeout"
    assert faults.requests == 2


async def test_nothing_listening_is_backend_unavailable(unused_tcp_port):
    client = BackendClient(
        f"http://127.0.0.1:{unused_tcp_port}", TOKEN, timeout=FAST, backoff_s=0.01
    )
    try:
        with pytest.raises(BackendUnavailable) as raised:
            await client.get_profile(HOLDER.id_number, CONSENTS[HOLDER.id_number])
    finally:
        await client.close()

    assert raised.value.code == "backend_unreachable"


async def test_a_wrong_token_is_unavailable_not_the_citizens_fault(server, faults):
    client = BackendClient(str(server.make_url("")), "wrong", timeout=FAST)
    try:
        with pytest.raises(BackendUnavailable) as raised:
            await client.get_profile(HOLDER.id_number, CONSENTS[HOLDER.id_number])
    finally:
        await client.close()

    assert raised.value.code == "backend_unauthorized"
    assert faults.requests == 1


BROKEN_PROFILE = (
    b'{"id_number": "x", "name": "n", "phone": "p", "address": "a", "licences": 5}'
)


@pytest.mark.parametrize("page", [b"<html>ok</html>", b"{}", BROKEN_PROFILE])
async def test_a_200_that_breaks_the_contract_is_a_bad_response(client, faults, page):
    faults.page = page
    faults.status = 200

    with pytest.raises(BackendUnavailable) as raised:
        await client.get_profile(HOLDER.id_number, CONSENTS[HOLDER.id_number])

    assert raised.value.code == "backend_bad_response"
    assert raised.value.request_id
    assert faults.requests == 1


async def test_a_proxy_error_page_is_retried_as_a_server_error(client, faults):
    faults.page = b"<html>502 Bad Gateway</html>"
    faults.status = 502

    with pytest.raises(BackendUnavailable) as raised:
        await client.get_profile(HOLDER.id_number, CONSENTS[HOLDER.id_number])

    assert (raised.value.code, raised.value.status) == ("backend_server_error", 502)
    assert faults.requests == 3


async def test_calls_share_one_connection_and_close_reopens(client, faults):
    await client.get_profile(HOLDER.id_number, CONSENTS[HOLDER.id_number])
    await client.get_profile(HOLDER.id_number, CONSENTS[HOLDER.id_number])
    await client.close()
    await client.get_profile(HOLDER.id_number, CONSENTS[HOLDER.id_number])

    assert faults.peers[0] == faults.peers[1]
    assert faults.peers[2] != faults.peers[0]


async def test_client_logs_carry_no_id_number(client, caplog):
    caplog.set_level(logging.DEBUG)

    await client.get_profile(HOLDER.id_number, CONSENTS[HOLDER.id_number])
    with pytest.raises(ProfileNotFound):
        await client.get_profile(UNKNOWN_ID_NUMBER, CONSENTS[UNKNOWN_ID_NUMBER])

    lines = "\n".join(KeyValueFormatter().format(r) for r in caplog.records)
    assert "backend_client.call.done" in lines
    assert "backend_client.call.failed" in lines
    for secret in (HOLDER.id_number, UNKNOWN_ID_NUMBER, HOLDER.name):
        assert secret not in lines


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        ("GET", {}, True),
        ("POST", {"Idempotency-Key": "k"}, True),
        ("POST", {}, False),
        ("DELETE", {}, False),
    ],
)
def test_only_gets_and_keyed_calls_are_retryable(method, headers, expected):
    assert is_retryable(method, headers) is expected


def test_idempotency_keys_are_stable_distinct_and_acceptable():
    key = make_idempotency_key("sender-1", "restaurant", "1")

    assert key == make_idempotency_key("sender-1", "restaurant", "1")
    assert key != make_idempotency_key("sender-1", "restaurant", "2")
    # "a\x1fb" + "c" must not collide with "a" + "b\x1fc"-style joins.
    assert make_idempotency_key("ab", "c") != make_idempotency_key("a", "bc")
    assert 8 <= len(key) <= 128


def test_attempts_below_one_is_a_developer_mistake():
    with pytest.raises(ValueError, match="attempts"):
        BackendClient("http://127.0.0.1:1", TOKEN, attempts=0)


async def test_shared_client_uses_the_settings_and_closes(server, monkeypatch):
    monkeypatch.setenv("ZW_BACKEND_URL", str(server.make_url("")))
    monkeypatch.setenv("ZW_BACKEND_TOKEN", TOKEN)
    shared = backend_client.get_backend_client()
    try:
        assert backend_client.get_backend_client() is shared
        profile = await shared.get_profile(HOLDER.id_number, CONSENTS[HOLDER.id_number])
        assert profile.name == HOLDER.name
    finally:
        await backend_client.close_backend_client()

    assert backend_client.get_backend_client() is not shared
    await backend_client.close_backend_client()


async def test_only_an_unavailable_backend_logs_a_warning(client, faults, caplog):
    caplog.set_level(logging.INFO)
    with pytest.raises(ProfileNotFound):
        await client.get_profile(UNKNOWN_ID_NUMBER, CONSENTS[UNKNOWN_ID_NUMBER])
    faults.fail = 10

    with pytest.raises(BackendUnavailable):
        await client.get_profile(HOLDER.id_number, CONSENTS[HOLDER.id_number])

    failed = [
        r for r in caplog.records if r.getMessage() == "backend_client.call.failed"
    ]
    assert [(r.levelname, r.code) for r in failed] == [
        ("INFO", "profile_not_found"),
        ("WARNING", "x"),
    ]


def _consent(**changes) -> ConsentRequest:
    consent = ConsentRequest(
        id_number=HOLDER.id_number,
        fields=("name", "phone", "address"),
        scenario_id="restaurant",
        form_instance="run-0001-instance",
    )
    return replace(consent, **changes)


async def test_a_consent_releases_only_its_fields(client):
    receipt = await client.record_consent(_consent(), "consent-key-0001")
    profile = await client.get_profile(HOLDER.id_number, receipt.consent_id)

    assert receipt.fields == ("address", "name", "phone")
    assert (profile.name, profile.phone) == (HOLDER.name, HOLDER.phone)
    assert profile.licences == ()
    assert profile.consent_id == receipt.consent_id


async def test_a_consent_is_retried_on_a_503_and_recorded_once(client, faults, engine):
    faults.fail, faults.after_handler = 1, True

    receipt = await client.record_consent(_consent(), "consent-key-0001")
    again = await client.record_consent(_consent(), "consent-key-0001")

    assert faults.requests == 3
    assert receipt.consent_id == again.consent_id
    with Session(engine, future=True) as session:
        rows = session.execute(select(func.count()).select_from(Consent)).scalar_one()
    assert rows == 3  # the two of the fixture and this one


async def test_another_citizens_consent_is_rejected(client):
    with pytest.raises(BackendRejected) as raised:
        await client.get_profile(HOLDER.id_number, CONSENTS[UNKNOWN_ID_NUMBER])

    assert (raised.value.code, raised.value.status) == ("consent_invalid", 403)


async def test_cancel_returns_the_cancelled_application_and_is_not_retried(
    client, faults
):
    receipt = await client.submit_application(_request(), "conversation-0001")
    cancelled = await client.cancel_application(receipt.application_no)
    assert cancelled.status == "cancelled"
    assert {item.status for item in cancelled.items} == {"cancelled"}

    faults.fail, faults.requests = 1, 0
    with pytest.raises(BackendUnavailable):
        await client.cancel_application(receipt.application_no)
    assert faults.requests == 1


async def test_a_returned_items_reason_reaches_the_receipt(client, engine):
    receipt = await client.submit_application(_request(), "conversation-0001")
    with Session(engine, future=True) as session:
        set_item_status(
            session,
            receipt.application_no,
            "food_business_licence",
            StatusChange("returned", "请补充平面图"),
            repository.Caller("operator_cli", "test-request-0002"),
        )

    current = await client.get_application(receipt.application_no)

    assert current.status == "returned"
    assert [(i.status, i.reason) for i in current.items] == [
        ("returned", "请补充平面图")
    ]
    assert current.updated_at >= current.created_at


def test_an_application_request_survives_its_json_form():
    request = _request()

    assert ApplicationRequest.from_json(request.to_json()) == replace(
        request, answers=dict(request.answers), form=dict(request.form)
    )


async def test_a_ticket_is_filed_once_per_key_and_read_back(client, engine):
    request = backend_client.TicketRequest(
        kind="complaint",
        topic="城建",
        description="幸福路口的路灯坏了一个月",
        location="示范区幸福路口",
        occurred=None,
        contact_phone="13000000001",
        channel="web",
    )
    key = make_idempotency_key("citizen-1", "ticket", "instance-1")

    first = await client.file_ticket(request, key)
    again = await client.file_ticket(request, key)
    read = await client.get_ticket(first.ticket_no)

    assert (first.replayed, again.replayed) == (False, True)
    assert first.ticket_no == again.ticket_no == read.ticket_no
    assert (read.kind, read.topic, read.status) == ("complaint", "城建", "received")
    with pytest.raises(BackendRejected) as refused:
        await client.get_ticket("GD20000101000000")
    assert refused.value.code == "ticket_not_found"


AGENT_TOKEN = "client-test-agent-token"


def _handoff_request(**changes) -> backend_client.HandoffRequest:
    request = backend_client.HandoffRequest(
        conversation="web-3f2a9c0d11e4b7a8",
        channel="web",
        reason="requested",
        topic="社保就业",
        transcript=(("citizen", "退休金怎么领"), ("citizen", "转人工")),
        collected={"service_item": "养老金领取"},
    )
    return replace(request, **changes)


@pytest.fixture
async def agent_server(engine):
    """The backend with one agent (li) and hours that are always open."""
    settings = replace(
        load_settings({}),
        backend_token=TOKEN,
        agent_tokens=(("li", AGENT_TOKEN),),
        service_hours="1-7 00:00-24:00",
    )
    server = TestServer(create_app(settings, engine))
    await server.start_server(access_log=None)
    yield server
    await server.close()


@pytest.fixture
async def handoff_clients(agent_server):
    """The action server's client and an agent's, on one backend."""
    url = str(agent_server.make_url(""))
    citizen = BackendClient(url, TOKEN, timeout=FAST, backoff_s=0.01)
    agent = BackendClient(url, AGENT_TOKEN, timeout=FAST, backoff_s=0.01)
    yield citizen, agent
    await citizen.close()
    await agent.close()


async def test_a_handoff_is_started_once_and_found_open(handoff_clients):
    client, _ = handoff_clients
    key = make_idempotency_key("citizen-1", "handoff", "1")

    assert await client.open_handoff("web-3f2a9c0d11e4b7a8") is None
    first = await client.start_handoff(_handoff_request(), key)
    again = await client.start_handoff(_handoff_request(), key)
    other_key = await client.start_handoff(
        _handoff_request(reason="repeated_failures"), key + "-2"
    )
    found = await client.open_handoff("web-3f2a9c0d11e4b7a8")

    assert (first.created, again.created, other_key.created) == (True, False, False)
    assert first.handoff_no == again.handoff_no == other_key.handoff_no
    assert found == replace(first, created=False)
    assert (first.status, first.position, first.agent) == ("waiting", 1, None)
    assert (first.open_now, first.hours, first.next_open) == (
        True,
        "每天 0:00-24:00",
        None,
    )


async def test_messages_go_both_ways_and_a_closed_handoff_raises(
    handoff_clients, engine
):
    client, agent = handoff_clients
    receipt = await client.start_handoff(_handoff_request(), "handoff-key-0001")
    number = receipt.handoff_no
    # The agent's side of the API, through the same client class.
    await agent._call("POST", f"/v1/handoffs/{number}/claim", "claim")
    await agent._call(
        "POST", f"/v1/handoffs/{number}/messages", "message", json={"text": "您好"}
    )

    sent = await client.send_handoff_message(number, "在吗", "msg-key-0001")
    resent = await client.send_handoff_message(number, "在吗", "msg-key-0001")
    status, messages = await client.handoff_messages(number, after=1)
    marked = await client.mark_delivered(number, 3)
    closed = await client.close_handoff(number)

    assert sent == resent
    assert status == "active"
    assert [(m.seq, m.role, m.text, m.event) for m in messages] == [
        (2, "agent", "您好", None),
        (3, "citizen", "在吗", None),
    ]
    assert (marked.delivered_seq, marked.agent) == (3, "li")
    assert (closed.status, closed.last_seq) == ("closed", 4)
    with pytest.raises(backend_client.HandoffClosed) as raised:
        await client.send_handoff_message(number, "还在吗")
    assert (raised.value.code, raised.value.status) == ("handoff_closed", 409)
    assert isinstance(raised.value, BackendRejected)


async def test_next_open_is_an_aware_utc_time_while_closed(engine):
    # One window, on a weekday other than today's in China: closed now.
    other = datetime.now(CHINA_TIME).isoweekday() % 7 + 1
    settings = replace(
        load_settings({}), backend_token=TOKEN, service_hours=f"{other} 09:00-18:00"
    )
    server = TestServer(create_app(settings, engine))
    await server.start_server(access_log=None)
    client = BackendClient(str(server.make_url("")), TOKEN, timeout=FAST)
    try:
        receipt = await client.start_handoff(_handoff_request(), "handoff-key-0001")
    finally:
        await client.close()
        await server.close()

    assert receipt.open_now is False
    assert receipt.next_open.utcoffset() == timedelta(0)
    assert (receipt.next_open.hour, receipt.next_open.minute) == (1, 0)
    assert receipt.next_open.astimezone(CHINA_TIME).isoweekday() == other


async def test_a_handoff_start_is_retried_on_a_503_and_made_once(
    client, faults, engine
):
    faults.fail, faults.after_handler = 1, True

    receipt = await client.start_handoff(_handoff_request(), "handoff-key-0001")

    assert faults.requests == 2
    assert receipt.created is False  # the lost first answer had created it
    with Session(engine, future=True) as session:
        rows = session.execute(select(func.count()).select_from(Handoff)).scalar_one()
    assert rows == 1


async def test_a_message_without_a_key_is_sent_once(client, faults):
    receipt = await client.start_handoff(_handoff_request(), "handoff-key-0001")
    faults.fail, faults.requests = 10, 0

    with pytest.raises(BackendUnavailable):
        await client.send_handoff_message(receipt.handoff_no, "在吗")

    assert faults.requests == 1


async def test_a_summary_that_breaks_the_contract_is_a_bad_response(client, faults):
    faults.fail, faults.status = 1, 200

    with pytest.raises(BackendUnavailable) as raised:
        await client.start_handoff(_handoff_request(), "handoff-key-0001")

    assert raised.value.code == "backend_bad_response"


def test_a_handoff_request_sends_the_transcript_as_objects():
    assert _handoff_request(topic=None).to_json() == {
        "conversation": "web-3f2a9c0d11e4b7a8",
        "channel": "web",
        "reason": "requested",
        "topic": None,
        "transcript": [
            {"role": "citizen", "text": "退休金怎么领"},
            {"role": "citizen", "text": "转人工"},
        ],
        "collected": {"service_item": "养老金领取"},
    }
