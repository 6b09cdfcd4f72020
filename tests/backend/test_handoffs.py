"""The handoff store and its checks, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import handoff_store
from backend.db import AuditEntry, Handoff, HandoffMessage
from backend.errors import (
    BackendError,
    HandoffClosedError,
    HandoffNotFoundError,
    HandoffNotYoursError,
    HandoffTakenError,
    IdempotencyConflictError,
    InvalidHandoffNoError,
    InvalidRequestError,
)
from backend.handoffs import (
    new_handoff_no,
    parse_after,
    parse_delivered,
    parse_handoff,
    parse_handoff_no,
    parse_message,
    parse_status_filter,
)
from backend.repository import Caller

ACTION = Caller("action_server", "test-request-0001")
LI = Caller("agent:li", "test-request-0002")
WANG = Caller("agent:wang", "test-request-0003")
START = datetime(2026, 12, 7, 2, 0, 0)


def handoff_body(**changes) -> dict:
    body = {
        "conversation": "web-3f2a9c0d11e4b7a8",
        "channel": "web",
        "reason": "requested",
        "topic": "社保就业",
        "transcript": [
            {"role": "citizen", "text": "退休金怎么领"},
            {"role": "assistant", "text": "您可以在社保网上服务大厅申请。"},
            {"role": "citizen", "text": "转人工"},
        ],
        "collected": {"service_item": "养老金领取"},
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not ...}


class Clock:
    """A clock that moves one second per reading."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _create(engine, key="handoff-key-0001", clock=None, **changes):
    with Session(engine, future=True) as session:
        return handoff_store.create_handoff(
            session,
            parse_handoff(handoff_body(**changes)),
            key,
            ACTION,
            clock or Clock(),
        )


def _call(engine, function, *args, **kwargs):
    with Session(engine, future=True) as session:
        return function(session, *args, **kwargs)


def _rows(engine, model) -> list:
    with Session(engine, future=True) as session:
        return list(session.execute(select(model)).scalars())


def test_handoff_no_carries_the_date_in_china():
    assert new_handoff_no(datetime(2026, 12, 7, 16, 0)).startswith("RG20261208")
    assert parse_handoff_no("RG20261207000001") == "RG20261207000001"
    for bad in (
        "RG2026120700000",
        "GD20261207000001",
        "RG２０２６１２０７０００００１",
    ):
        with pytest.raises(InvalidHandoffNoError):
            parse_handoff_no(bad)


def test_a_handoff_waits_first_in_the_queue(engine):
    result = _create(engine)

    record = result.handoff
    assert result.created
    assert (record.status, record.position, record.agent) == ("waiting", 1, None)
    assert (record.delivered_seq, record.last_seq) == (0, 0)
    (row,) = _rows(engine, Handoff)
    assert row.transcript[2] == {"role": "citizen", "text": "转人工"}
    assert row.collected == {"service_item": "养老金领取"}


def test_the_queue_is_oldest_first(engine):
    clock = Clock()
    first = _create(engine, "handoff-key-0001", clock, conversation="c-one")
    second = _create(engine, "handoff-key-0002", clock, conversation="c-two")
    _call(engine, handoff_store.claim_handoff, first.handoff.handoff_no, LI)

    listed = _call(engine, handoff_store.list_handoffs, ("waiting", "active"), LI)
    again = _call(engine, handoff_store.get_handoff, second.handoff.handoff_no, ACTION)

    assert second.handoff.position == 2
    assert [(r.handoff_no, r.position) for r in listed] == [
        (first.handoff.handoff_no, None),
        (second.handoff.handoff_no, 1),
    ]
    assert again.position == 1
    assert _call(engine, handoff_store.count_waiting) == 1


def test_one_key_replays_and_another_body_conflicts(engine):
    created = _create(engine)
    replayed = _create(engine)

    assert (created.created, replayed.created) == (True, False)
    assert replayed.handoff.handoff_no == created.handoff.handoff_no
    with pytest.raises(IdempotencyConflictError):
        _create(engine, reason="repeated_failures")


def test_another_key_for_an_open_conversation_returns_the_open_one(engine):
    created = _create(engine)
    again = _create(engine, "handoff-key-0002", reason="repeated_failures")

    assert not again.created
    assert again.handoff.handoff_no == created.handoff.handoff_no
    assert len(_rows(engine, Handoff)) == 1


def test_a_closed_conversation_may_hand_off_again(engine):
    first = _create(engine)
    _call(engine, handoff_store.close_handoff, first.handoff.handoff_no, ACTION)

    second = _create(engine, "handoff-key-0002")

    assert second.created
    assert second.handoff.handoff_no != first.handoff.handoff_no
    assert _call(engine, handoff_store.open_handoff, "web-3f2a9c0d11e4b7a8", ACTION)


def test_a_colliding_number_is_drawn_again(engine, monkeypatch):
    numbers = iter(["RG20261207000001", "RG20261207000001", "RG20261207000002"])
    monkeypatch.setattr(handoff_store, "new_handoff_no", lambda now: next(numbers))

    first = _create(engine, conversation="c-one")
    second = _create(engine, "handoff-key-0002", conversation="c-two")

    assert (first.handoff.handoff_no, second.handoff.handoff_no) == (
        "RG20261207000001",
        "RG20261207000002",
    )


def test_no_free_number_is_an_internal_error(engine, monkeypatch):
    monkeypatch.setattr(handoff_store, "new_handoff_no", lambda now: "RG20261207000001")
    _create(engine, conversation="c-one")

    with pytest.raises(BackendError) as raised:
        _create(engine, "handoff-key-0002", conversation="c-two")

    assert raised.value.code == "internal_error"


def test_claim_then_messages_then_close_number_the_messages(engine):
    number = _create(engine).handoff.handoff_no

    claimed = _call(engine, handoff_store.claim_handoff, number, LI)
    citizen = _call(engine, handoff_store.post_message, number, "在吗", None, ACTION)
    agent = _call(engine, handoff_store.post_message, number, "您好", None, LI)
    closed = _call(engine, handoff_store.close_handoff, number, LI)
    status, messages = _call(engine, handoff_store.list_messages, number, 0, ACTION)

    assert (claimed.status, claimed.agent, claimed.last_seq) == ("active", "li", 1)
    assert (citizen.message.role, agent.message.role) == ("citizen", "agent")
    assert (closed.status, closed.last_seq) == ("closed", 4)
    assert status == "closed"
    assert [(m.seq, m.role, m.text, m.event) for m in messages] == [
        (1, "system", None, "claimed"),
        (2, "citizen", "在吗", None),
        (3, "agent", "您好", None),
        (4, "system", None, "closed"),
    ]
    (row,) = _rows(engine, Handoff)
    assert (row.closed_by, row.claimed_at is not None, row.closed_at is not None) == (
        "agent",
        True,
        True,
    )


def test_messages_after_a_seq_come_in_order(engine):
    number = _create(engine).handoff.handoff_no
    for index in range(3):
        _call(engine, handoff_store.post_message, number, f"第{index}条", None, ACTION)

    _, later = _call(engine, handoff_store.list_messages, number, 1, ACTION)

    assert [m.seq for m in later] == [2, 3]


def test_claims_by_the_owner_again_add_nothing_and_others_are_refused(engine):
    number = _create(engine).handoff.handoff_no
    _call(engine, handoff_store.claim_handoff, number, LI)

    again = _call(engine, handoff_store.claim_handoff, number, LI)

    assert again.last_seq == 1
    with pytest.raises(HandoffTakenError):
        _call(engine, handoff_store.claim_handoff, number, WANG)
    with pytest.raises(HandoffNotYoursError):
        _call(engine, handoff_store.post_message, number, "我来", None, WANG)
    with pytest.raises(HandoffNotYoursError):
        _call(engine, handoff_store.close_handoff, number, WANG)


def test_an_agent_must_claim_before_writing(engine):
    number = _create(engine).handoff.handoff_no

    with pytest.raises(HandoffNotYoursError):
        _call(engine, handoff_store.post_message, number, "您好", None, LI)
    with pytest.raises(HandoffNotYoursError):
        _call(engine, handoff_store.close_handoff, number, LI)


def test_a_closed_handoff_takes_no_claim_and_no_message(engine):
    number = _create(engine).handoff.handoff_no
    first = _call(engine, handoff_store.close_handoff, number, ACTION)

    again = _call(engine, handoff_store.close_handoff, number, ACTION)

    assert again == first
    assert _rows(engine, Handoff)[0].closed_by == "citizen"
    with pytest.raises(HandoffClosedError):
        _call(engine, handoff_store.claim_handoff, number, LI)
    with pytest.raises(HandoffClosedError):
        _call(engine, handoff_store.post_message, number, "还在吗", None, ACTION)


def test_a_message_key_replays_its_message_once(engine):
    number = _create(engine).handoff.handoff_no
    post = handoff_store.post_message

    first = _call(engine, post, number, "在吗", "msg-key-0001", ACTION)
    again = _call(engine, post, number, "在吗", "msg-key-0001", ACTION)

    assert (first.created, again.created) == (True, False)
    assert again.message == first.message
    assert len(_rows(engine, HandoffMessage)) == 1
    with pytest.raises(IdempotencyConflictError):
        _call(engine, post, number, "别的话", "msg-key-0001", ACTION)


def test_delivered_never_moves_back_nor_past_the_last_message(engine):
    number = _create(engine).handoff.handoff_no
    for text in ("一", "二", "三"):
        _call(engine, handoff_store.post_message, number, text, None, ACTION)
    mark = handoff_store.mark_delivered

    assert _call(engine, mark, number, 2, ACTION).delivered_seq == 2
    assert _call(engine, mark, number, 1, ACTION).delivered_seq == 2
    assert _call(engine, mark, number, 99, ACTION).delivered_seq == 3


def test_an_agents_read_carries_the_transcript(engine):
    number = _create(engine).handoff.handoff_no

    summary = _call(engine, handoff_store.get_handoff, number, ACTION)
    detailed = _call(engine, handoff_store.get_handoff, number, LI, details=True)

    assert summary.transcript is None
    assert [line.text for line in detailed.transcript][-1] == "转人工"
    assert dict(detailed.collected) == {"service_item": "养老金领取"}


def test_unknown_numbers_and_conversations_are_not_found(engine):
    for call in (
        lambda s: handoff_store.get_handoff(s, "RG20000101000000", ACTION),
        lambda s: handoff_store.claim_handoff(s, "RG20000101000000", LI),
        lambda s: handoff_store.open_handoff(s, "nobody", ACTION),
        lambda s: handoff_store.list_messages(s, "RG20000101000000", 0, ACTION),
    ):
        with pytest.raises(HandoffNotFoundError):
            _call(engine, call)


def test_every_call_is_audited_with_the_reason_handoff(engine):
    number = _create(engine).handoff.handoff_no
    _create(engine)
    _call(engine, handoff_store.claim_handoff, number, LI)
    _call(engine, handoff_store.post_message, number, "您好", None, LI)
    _call(engine, handoff_store.list_messages, number, 0, ACTION)
    _call(engine, handoff_store.mark_delivered, number, 2, ACTION)
    _call(engine, handoff_store.close_handoff, number, LI)
    _call(engine, handoff_store.list_handoffs, ("closed",), LI)

    entries = [(e.who, e.action, e.reason) for e in _rows(engine, AuditEntry)]

    assert entries == [
        ("action_server", "handoff.create", "handoff"),
        ("action_server", "handoff.replay", "handoff"),
        ("agent:li", "handoff.claim", "handoff"),
        ("agent:li", "handoff.message", "handoff"),
        ("action_server", "handoff.read", "handoff"),
        ("action_server", "handoff.delivered", "handoff"),
        ("agent:li", "handoff.close", "handoff"),
        ("agent:li", "handoff.list", "handoff"),
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"conversation": "有中文"},
        {"conversation": "x" * 129},
        {"conversation": ""},
        {"channel": "fax"},
        {"reason": "bored"},
        {"topic": "天气"},
        {"transcript": "退休金"},
        {"transcript": [{"role": "agent", "text": "你好"}]},
        {"transcript": [{"role": "citizen", "text": "长" * 1001}]},
        {"transcript": [{"role": "citizen", "text": "  "}]},
        {"transcript": [{"role": "citizen"}]},
        {"transcript": [{"role": "citizen", "text": "好"}] * 51},
        {"collected": []},
        {"collected": {"k": 1}},
        {"collected": {"k": "长" * 201}},
        {"collected": {"": "v"}},
        {"collected": {"k" * 65: "v"}},
        {"collected": {f"k{i}": "v" for i in range(31)}},
        {"conversation": ...},
        {"extra": 1},
    ],
)
def test_a_malformed_handoff_names_the_field_not_the_value(changes):
    with pytest.raises(InvalidRequestError) as raised:
        parse_handoff(handoff_body(**changes))

    assert "长" not in raised.value.message
    assert "你好" not in raised.value.message


def test_the_optional_parts_may_be_empty():
    submission = parse_handoff(handoff_body(topic=None, transcript=[], collected={}))

    assert (submission.topic, submission.transcript, submission.collected) == (
        None,
        (),
        (),
    )
    assert parse_handoff(handoff_body(topic=...)).topic is None


@pytest.mark.parametrize(
    ("parse", "raw"),
    [
        (parse_message, {"text": ""}),
        (parse_message, {"text": "长" * 1001}),
        (parse_message, {"text": 5}),
        (parse_message, {"text": "好", "role": "agent"}),
        (parse_delivered, {"seq": -1}),
        (parse_delivered, {"seq": True}),
        (parse_delivered, {"seq": "3"}),
        (parse_after, "-1"),
        (parse_after, "３"),
        (parse_after, "1.5"),
        (parse_status_filter, "open"),
    ],
)
def test_malformed_messages_marks_and_queries_are_refused(parse, raw):
    with pytest.raises(InvalidRequestError):
        parse(raw)


def test_queries_have_defaults():
    assert parse_after(None) == 0
    assert parse_after("12") == 12
    assert parse_status_filter(None) == ("waiting", "active")
    assert parse_status_filter("closed") == ("closed",)
    assert parse_message({"text": " 您好 "}) == "您好"
    assert parse_delivered({"seq": 0}) == 0
