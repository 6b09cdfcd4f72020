"""The 👍/👎 under a knowledge-base answer: ids on answers, votes, thumbs-downs."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from sanic import Sanic

from actions import review
from bot.privacy import hash_user
from channels.errors import InvalidRequestError
from channels.feedback import FeedbackBook, parse_vote
from channels.web import WebChatInput
from channels.web_protocol import shape_replies
from tests.channels.test_web_channel import HASH_KEY, SENDER
from tests.sanic_server import serving

OTHER_SENDER = "web-ffeeddccbbaa99887766554433221100"
ANSWER = "携带户口簿到派出所办理。"
FEEDBACK = {"kb_feedback": {"doc_id": "guide-id-card-first", "score": 0.83}}


class KbBot:
    """Answers every typed question from the KB, as Rasa sends it to a channel."""

    def __init__(self) -> None:
        self.custom: dict[str, Any] | None = FEEDBACK

    async def __call__(self, message) -> None:
        reply = {"text": ANSWER, "custom": self.custom}
        await message.output_channel.send_response(message.sender_id, reply)


@dataclass
class RecordingBackend:
    records: list = field(default_factory=list)

    async def record_review(self, request) -> None:
        self.records.append(request)


@pytest.fixture
def backend() -> RecordingBackend:
    return RecordingBackend()


@pytest.fixture
def kb_bot() -> KbBot:
    return KbBot()


@pytest.fixture
async def server(kb_bot, backend, monkeypatch):
    monkeypatch.setattr(Sanic, "test_mode", True)
    channel = WebChatInput(user_hash_key=HASH_KEY, backend=backend)
    app = Sanic(f"test_feedback_{uuid.uuid4().hex}")
    app.blueprint(channel.blueprint(kb_bot), url_prefix="/webhooks/web")
    async with serving(app) as session:
        yield SimpleNamespace(session=session, channel=channel)


async def _post(session, path: str, payload: dict):
    data = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    async with session.post(f"/webhooks/web/{path}", data=data, headers=headers) as r:
        return r.status, json.loads(await r.text())


async def ask(server, text: str, sender: str = SENDER) -> dict:
    status, replies = await _post(
        server.session, "webhook", {"sender": sender, "message": text}
    )
    assert status == 200
    return replies[0]


async def vote(server, feedback_id: str, choice: str, sender: str = SENDER):
    body = {"sender": sender, "feedback_id": feedback_id, "vote": choice}
    return await _post(server.session, "feedback", body)


async def test_a_kb_answer_comes_with_a_feedback_id(server):
    reply = await ask(server, "第一次办身份证要带什么")

    assert reply["text"] == ANSWER
    assert len(reply["feedback_id"]) == 22


async def test_a_reply_without_an_entry_has_no_feedback_id(server, kb_bot):
    kb_bot.custom = None

    reply = await ask(server, "你好")

    assert "feedback_id" not in reply


async def test_a_thumbs_down_records_the_masked_question_and_the_entry(server, backend):
    reply = await ask(server, "我电话13900000000，身份证怎么办")

    status, body = await vote(server, reply["feedback_id"], "down")
    await review.drain()

    assert (status, body) == (200, {"status": "ok"})
    [record] = backend.records
    assert record.kind == "thumbs_down"
    assert record.question == "我电话[手机号]，身份证怎么办"
    assert record.matches == (("guide-id-card-first", 0.83),)
    assert record.channel == "web"
    assert record.user_hash == hash_user(SENDER, HASH_KEY)


async def test_a_thumbs_up_records_nothing(server, backend):
    reply = await ask(server, "身份证怎么办")

    status, _ = await vote(server, reply["feedback_id"], "up")
    await review.drain()

    assert status == 200
    assert backend.records == []


async def test_an_answer_is_rated_once(server):
    reply = await ask(server, "身份证怎么办")
    await vote(server, reply["feedback_id"], "down")

    status, body = await vote(server, reply["feedback_id"], "down")

    assert status == 404
    assert body["error"]["code"] == "feedback_unknown"


async def test_another_conversation_cannot_rate_the_answer(server, backend):
    reply = await ask(server, "身份证怎么办")

    status, _ = await vote(server, reply["feedback_id"], "down", OTHER_SENDER)
    await review.drain()

    assert status == 404
    assert backend.records == []


async def test_an_answer_from_a_button_is_rated_against_the_typed_question(
    server, backend
):
    await ask(server, "身份证")
    reply = await ask(server, '/choose_candidate{"kb_doc_id": "guide-a"}')

    await vote(server, reply["feedback_id"], "down")
    await review.drain()

    assert backend.records[0].question == "身份证"


@pytest.mark.parametrize(
    "body",
    [
        {"sender": SENDER, "feedback_id": "short", "vote": "down"},
        {"sender": SENDER, "feedback_id": "a" * 22, "vote": "meh"},
        {"sender": "not valid!", "feedback_id": "a" * 22, "vote": "up"},
    ],
)
async def test_a_malformed_vote_is_refused_with_a_code(server, body):
    status, answer = await _post(server.session, "feedback", body)

    assert status == 400
    assert set(answer) == {"error", "request_id"}


async def test_without_a_backend_a_thumbs_down_is_only_logged(server, caplog):
    server.channel.backend = None
    reply = await ask(server, "身份证怎么办")

    with caplog.at_level(logging.WARNING, logger="channels.web"):
        status, _ = await vote(server, reply["feedback_id"], "down")

    assert status == 200
    assert "channels.web.feedback.not_recorded" in caplog.messages


def test_an_old_feedback_id_is_refused():
    now = [0.0]
    book = FeedbackBook(ttl_s=60, clock=lambda: now[0])
    book.note_message("u1", "身份证怎么办")
    feedback_id = book.issue("u1", FEEDBACK["kb_feedback"])

    now[0] = 61.0

    assert book.take(feedback_id, "u1") is None


def test_the_book_forgets_the_oldest_ids_when_full():
    book = FeedbackBook(max_entries=2)
    book.note_message("u1", "问题")
    ids = [book.issue("u1", FEEDBACK["kb_feedback"]) for _ in range(3)]

    assert book.take(ids[0], "u1") is None
    assert book.take(ids[2], "u1") is not None


def test_no_id_is_issued_without_an_entry_or_a_question():
    book = FeedbackBook()
    assert book.issue("u1", FEEDBACK["kb_feedback"]) is None
    book.note_message("u1", "问题")
    assert book.issue("u1", {"score": 0.5}) is None


def test_a_vote_that_is_not_json_is_refused():
    with pytest.raises(InvalidRequestError):
        parse_vote(b"vote=down", "application/x-www-form-urlencoded")


def test_without_a_feedback_issuer_the_payload_is_dropped():
    messages = [{"recipient_id": "r", "text": ANSWER}, {"custom": FEEDBACK}]

    [reply] = shape_replies(messages)

    assert reply.to_dict() == {"recipient_id": "r", "text": ANSWER}
