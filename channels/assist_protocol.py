"""Hotline agent assist, version 1: requests, suggestions and what is shown.

Pure functions; channels/assist.py does the HTTP, the audit call and the
knowledge-base search. A 12345 agent's console sends the call's transcript
so far (caller and agent turns); the answer holds ranked suggested answers
with their source and score, the scenario (一件事) the caller's words point
to with its checklist so far, and the fields recognised in the caller's
words, masked unless the agent may see them (docs/hotline-assist.md).
Nothing here reaches the citizen: the agent reads, copies and speaks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actions.kb_client import KbHit, KbSearchResult
from actions.scenario_answers import extract_answers
from actions.scenario_form import match_scenario
from bot.privacy import INVISIBLE, personal_values, redact
from channels.errors import InvalidRequestError
from knowledge_base.scenarios import (
    Scenario,
    applicable_items,
    merged_materials,
    questions_to_ask,
)

VERSION = "v1"
CALLER = "caller"
AGENT = "agent"
MAX_TURNS = 50
MAX_TURN_CHARS = 1000
MAX_BODY_BYTES = 128 * 1024
# The knowledge base reads at most this much of the question.
MAX_QUERY_CHARS = 500
# A caller turn shorter than this ("对", "怎么办") is read with the one before.
SHORT_TURN_CHARS = 8
TOP_K = 5
VERDICTS = frozenset({"wrong", "missing"})

_CALL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DOC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
_TOKEN = re.compile(r"Bearer ([A-Za-z0-9._~+/=-]{1,256})", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MASK = re.compile(r"\[[^\[\]]{1,8}\]")
_NOT_CONTENT = re.compile(r"[\s\d\W]+")

# The labels an agent reads for each kind of personal data (bot.privacy).
FIELD_LABELS = {
    "id_number": "身份证号",
    "mobile": "手机号",
    "landline": "固定电话",
    "credit_code": "统一社会信用代码",
    "bank_card": "银行卡号",
    "email": "电子邮箱",
    "address": "地址",
}


@dataclass(frozen=True)
class Turn:
    role: str
    text: str


@dataclass(frozen=True)
class SuggestRequest:
    """A checked ``POST /v1/suggest`` body."""

    call_id: str | None
    turns: tuple[Turn, ...]
    unmasked: bool


@dataclass(frozen=True)
class FeedbackRequest:
    """A checked ``POST /v1/feedback`` body: a suggestion was wrong, or none fit."""

    call_id: str | None
    question: str
    doc_id: str | None
    score: float | None
    verdict: str


def bad(code: str, message: str, status: int = 400) -> InvalidRequestError:
    return InvalidRequestError(code, message, status)


def agent_token(header: str | None) -> str:
    """The bearer token of an ``Authorization`` header.

    Raises:
        InvalidRequestError: 401 when there is none or it is malformed.
    """
    match = _TOKEN.fullmatch((header or "").strip())
    if match is None:
        raise bad("unauthorized", "需要坐席令牌（Authorization: Bearer …）。", 401)
    return match.group(1)


def decode_body(raw: bytes | None) -> dict[str, Any]:
    """A JSON object of at most :data:`MAX_BODY_BYTES`.

    Raises:
        InvalidRequestError: too large (413), not UTF-8 JSON, or not an object.
    """
    if raw is not None and len(raw) > MAX_BODY_BYTES:
        raise bad("body_too_large", "请求内容过大。", 413)
    try:
        body = json.loads((raw or b"").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise bad("invalid_json", "请求内容不是有效的 JSON。") from exc
    if not isinstance(body, dict):
        raise bad("invalid_json", "请求内容应为 JSON 对象。")
    return body


def _reject_unknown(body: Mapping[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(set(body) - known)
    if unknown:
        raise bad("invalid_request", f"不认识的字段：{', '.join(map(str, unknown))}")


def _call_id(body: Mapping[str, Any]) -> str | None:
    value = body.get("call_id")
    if value is None:
        return None
    if not isinstance(value, str) or not _CALL_ID.fullmatch(value):
        raise bad("invalid_request", "call_id 应为 1-64 位字母、数字、_ 或 -。")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise bad("invalid_request", f"{where} 应为文字。")
    text = INVISIBLE.sub("", _CONTROL.sub("", value)).strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise bad("invalid_request", f"{where} 含有无法识别的字符。") from exc
    if not text or len(text) > MAX_TURN_CHARS:
        raise bad("invalid_request", f"{where} 应为 1-{MAX_TURN_CHARS} 个字。")
    return text


def parse_suggest(body: Mapping[str, Any]) -> SuggestRequest:
    """Check a suggest request: 1-50 turns of caller or agent text.

    Raises:
        InvalidRequestError: the body breaks the contract (named in Chinese).
    """
    _reject_unknown(body, frozenset({"call_id", "turns", "unmasked"}))
    raw_turns = body.get("turns")
    if not isinstance(raw_turns, list) or not 1 <= len(raw_turns) <= MAX_TURNS:
        raise bad("invalid_request", f"turns 应为 1-{MAX_TURNS} 条对话。")
    turns = []
    for index, raw in enumerate(raw_turns, start=1):
        if not isinstance(raw, Mapping):
            raise bad("invalid_request", f"第{index}条对话应为对象。")
        _reject_unknown(raw, frozenset({"role", "text"}))
        role = raw.get("role")
        if role not in (CALLER, AGENT):
            raise bad(
                "invalid_request", f"第{index}条对话的 role 应为 caller 或 agent。"
            )
        turns.append(Turn(role, _text(raw.get("text"), f"第{index}条对话")))
    if not any(turn.role == CALLER for turn in turns):
        raise bad("invalid_request", "对话中没有来电人的话。")
    unmasked = body.get("unmasked", False)
    if not isinstance(unmasked, bool):
        raise bad("invalid_request", "unmasked 应为 true 或 false。")
    return SuggestRequest(_call_id(body), tuple(turns), unmasked)


def parse_feedback(body: Mapping[str, Any]) -> FeedbackRequest:
    """Check a feedback request.

    Raises:
        InvalidRequestError: the body breaks the contract (named in Chinese).
    """
    _reject_unknown(
        body, frozenset({"call_id", "question", "doc_id", "score", "verdict"})
    )
    verdict = body.get("verdict")
    if verdict not in VERDICTS:
        raise bad(
            "invalid_request",
            "verdict 应为 wrong（建议有误）或 missing（没有合适的建议）。",
        )
    doc_id = body.get("doc_id")
    if doc_id is not None and (
        not isinstance(doc_id, str) or not _DOC_ID.fullmatch(doc_id)
    ):
        raise bad("invalid_request", "doc_id 格式不对。")
    if verdict == "wrong" and doc_id is None:
        raise bad("invalid_request", "标记建议有误时需要 doc_id。")
    score = body.get("score")
    if score is not None and (
        isinstance(score, bool)
        or not isinstance(score, int | float)
        or not 0 <= score <= 1
    ):
        raise bad("invalid_request", "score 应为 0 到 1 之间的数。")
    question = _text(body.get("question"), "question")
    return FeedbackRequest(_call_id(body), question, doc_id, score, verdict)


def query_text(turns: tuple[Turn, ...]) -> str:
    """What to search for, masked: the caller's last words, with the turns
    before them while they say too little ("那要多久？", "我身份证号是…").

    Personal data never reaches the knowledge base.
    """
    said = [redact(turn.text) for turn in turns if turn.role == CALLER]
    parts: list[str] = []
    for text in reversed(said):
        parts.insert(0, text)
        if len(_content(" ".join(parts))) >= SHORT_TURN_CHARS:
            break
    return " ".join(parts)[-MAX_QUERY_CHARS:]


def _content(text: str) -> str:
    """The words of ``text`` without masks and punctuation."""
    return _NOT_CONTENT.sub("", _MASK.sub("", text))


def suggestion(rank: int, hit: KbHit) -> dict[str, Any]:
    """One suggested answer: the one fact asked for when there is one."""
    return {
        "rank": rank,
        "doc_id": hit.doc_id,
        "title": hit.title,
        "answer": hit.field_answer or hit.answer,
        "field": hit.field if hit.field_answer else None,
        "department": hit.department,
        "source_url": hit.source_url,
        "score": round(hit.score, 3),
    }


def scenario_view(
    turns: tuple[Turn, ...], scenarios: Mapping[str, Scenario]
) -> dict[str, Any] | None:
    """The scenario the caller named last, with what their words answer.

    The checklist is the items that apply to the answers so far; the
    questions still open say what the agent should ask next.
    """
    said = [turn.text for turn in turns if turn.role == CALLER]
    scenario_id = None
    for text in said:
        scenario_id = match_scenario(text, dict(scenarios)) or scenario_id
    if scenario_id is None:
        return None
    scenario = scenarios[scenario_id]
    answers: dict[str, Any] = {}
    for text in said:
        found = extract_answers(scenario, text, skip=frozenset(answers)).answers
        answers.update(found)
    items = applicable_items(scenario, answers)
    return {
        "id": scenario.id,
        "name": scenario.name,
        "locality": scenario.locality,
        "answers": [
            {"label": question.label, "value": question.display(answers[question.slot])}
            for question in scenario.questions
            if question.slot in answers
        ],
        "items": [{"name": item.name, "department": item.department} for item in items],
        "materials": [material.name for material in merged_materials(scenario, items)],
        "open_questions": [
            question.label
            for question in questions_to_ask(scenario, answers)
            if question.slot not in answers
        ],
    }


def recognised_fields(turns: tuple[Turn, ...], unmasked: bool) -> list[dict[str, Any]]:
    """Personal data in the caller's turns, masked unless ``unmasked``."""
    fields = []
    for index, turn in enumerate(turns):
        if turn.role != CALLER:
            continue
        for kind, value, checked in personal_values(turn.text):
            fields.append(
                {
                    "turn": index,
                    "kind": kind,
                    "label": FIELD_LABELS.get(kind, kind),
                    "value": value if unmasked else redact(value),
                    "checked": checked,
                }
            )
    return fields


def suggest_body(
    request: SuggestRequest,
    result: KbSearchResult | None,
    scenarios: Mapping[str, Scenario],
    unmasked: bool,
    request_id: str,
) -> dict[str, Any]:
    """The v1 answer. ``result`` None: the knowledge base did not answer.

    The words searched for come back masked (``query``), whatever the agent
    may see: the console has the transcript already.
    """
    hits = result.hits if result is not None else ()
    return {
        "version": VERSION,
        "call_id": request.call_id,
        "query": query_text(request.turns),
        "outcome": result.outcome if result is not None else "unavailable",
        "suggestions": [
            suggestion(rank, hit) for rank, hit in enumerate(hits, start=1)
        ],
        "scenario": scenario_view(request.turns, scenarios),
        "fields": recognised_fields(request.turns, unmasked),
        "unmasked": unmasked,
        "request_id": request_id,
    }
