"""Reading a scenario's answers: one answer to the question asked, or every
answer a free sentence gives (我想开一家200平的火锅店，不卖烟).

Generic over the package's questions: each kind has a reader in
:mod:`actions.parsing`; a yes/no clause is tied to its question by the words
it shares with the question's ``label``. Nothing here is per scenario.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from actions import parsing
from actions.form_base import parse_yes_no_or_intent
from knowledge_base.scenarios import Question, Scenario

# Where one clause of a message ends and the next begins.
_CLAUSE_BREAK = re.compile(r"[，,。；;！!？?\s、]+|而且|并且|但是|不过|另外|但")
# Words of a yes/no clause that say yes or no, or nothing at all; what is left
# names the topic (不卖烟 → 烟).
_FILLER = re.compile(
    r"我们|我|咱们|店里|店内|店面|店|打算|准备|计划|想|已经|暂时|目前|还|也|都|就|会|要"
    r"|需要|没有|没|不用|用|先|不|有|是|的|了|呢|啊|吧|呀|卖|办|过|一家|一个|个|嗯|对|好|哦"
)


@dataclass(frozen=True)
class Extraction:
    """Answers found in a message, and the clauses they came from."""

    answers: dict[str, Any]
    used_clauses: frozenset[int]


def _options(question: Question) -> dict[str, tuple[str, ...]]:
    return {o.value: (*o.aliases, o.label, o.value) for o in question.options}


def parse_answer(question: Question, text: Any, intent: str | None) -> Any:
    """The slot value for ``text`` as an answer to ``question``, or ``None``.

    Values are JSON-friendly: areas as float, dates as ``YYYY-MM-DD``, codes
    and numbers normalised.
    """
    text = str(text or "")
    kind = question.kind
    if kind == "area":
        area = parsing.parse_area(text)
        return None if area is None else area.square_metres
    if kind == "choice":
        return parsing.parse_choice(text, _options(question))
    if kind == "district":
        return parsing.parse_district(text, _options(question))
    if kind == "date":
        day = parsing.parse_date(text)
        return None if day is None else day.isoformat()
    if kind == "id_number":
        check = parsing.check_id_number(text)
        return check.value if check.ok else None
    if kind == "credit_code":
        code = parsing.check_credit_code(text)
        return code.value if code.ok else None
    if kind == "phone":
        return parsing.parse_phone(text)
    own = _own_words(question, text)
    if own is not None or text.startswith("/"):
        return own if own is not None else parse_yes_no_or_intent(text, intent)
    return parsing.parse_yes_no(_yes_no_part(question, text))


# A reply this short is read whole for yes or no; a longer one only when it
# speaks about the question or opens with a short answer ("没有，我只卖快餐").
# Otherwise 直接提交申请 would answer 娱乐功能 with yes (提交 is a yes word).
SHORT_ANSWER_CHARS = 8


def _yes_no_part(question: Question, text: str) -> str:
    """The part of ``text`` that may answer a yes/no question ("" for none)."""
    if len(text.strip()) <= SHORT_ANSWER_CHARS or speaks_about(text, question):
        return text
    clauses = split_clauses(text)
    first = clauses[0].strip() if clauses else ""
    return first if len(first) <= SHORT_ANSWER_CHARS else ""


def _own_words(question: Question, text: str) -> bool | None:
    """Yes or no from the question's own words; no words first (没达到 holds 达到)."""
    if any(word in text for word in question.no_words):
        return False
    if any(word in text for word in question.yes_words):
        return True
    return None


def split_clauses(text: str) -> list[str]:
    """The message cut at punctuation and at 而且/但是/另外 …"""
    return [part for part in _CLAUSE_BREAK.split(text or "") if part]


def _longest_common(left: str, right: str) -> int:
    best = 0
    for start in range(len(left)):
        for end in range(start + best + 1, len(left) + 1):
            if left[start:end] not in right:
                break
            best = end - start
    return best


def speaks_about(clause: str, question: Question) -> bool:
    """Whether a yes/no ``clause`` names the topic of ``question``.

    The clause without its yes/no and filler words must share two characters
    in a row with the label (招牌, 执照), or, when only one or two characters
    are left (烟, 烟酒), one of them.
    """
    topic = _FILLER.sub("", clause.lower())
    if not topic:
        return False
    shared = _longest_common(topic, question.label.lower())
    return shared >= 2 or (len(topic) <= 2 and shared >= 1)


def _clause_answer(question: Question, clause: str) -> Any:
    """The answer ``clause`` gives to ``question`` inside a longer message."""
    kind = question.kind
    if kind == "area":
        area = parsing.find_area(clause)
        return None if area is None else area.square_metres
    if kind == "yes_no":
        own = _own_words(question, clause)
        if own is not None:
            return own
        return parsing.parse_yes_no(clause) if speaks_about(clause, question) else None
    if kind == "district" and not question.options:
        return None  # a free district name inside a sentence is too loose a guess
    return parse_answer(question, clause, None)


def extract_answers(
    scenario: Scenario, text: str, skip: frozenset[str] | set[str] = frozenset()
) -> Extraction:
    """Every answer ``text`` gives to the scenario's questions not in ``skip``.

    A question two clauses answer differently, or a clause that answers two
    yes/no questions, is left out: the form asks rather than guesses.
    """
    clauses = split_clauses(text)
    found: dict[str, tuple[Any, set[int]]] = {}
    for question in scenario.questions:
        if question.slot in skip:
            continue
        hits = {
            index: value
            for index, clause in enumerate(clauses)
            if (value := _clause_answer(question, clause)) is not None
        }
        if hits and len(set(map(repr, hits.values()))) == 1:
            found[question.slot] = (next(iter(hits.values())), set(hits))

    claims: dict[int, list[str]] = {}
    for slot, (_, indices) in found.items():
        for index in indices:
            claims.setdefault(index, []).append(slot)
    shared = {index for index, slots in claims.items() if len(slots) > 1}
    answers = {
        slot: value for slot, (value, indices) in found.items() if not indices & shared
    }
    used = {index for slot in answers for index in found[slot][1]}
    return Extraction(answers, frozenset(used))


def residual_text(
    text: str, extraction: Extraction, question: Question | None = None
) -> str:
    """``text`` without the clauses that answered other questions.

    A clause that also speaks about ``question`` stays (没有娱乐也不卖烟 answers
    both); with every clause used, nothing is left (不卖烟 at the 娱乐 question).
    """
    clauses = split_clauses(text)
    kept = [
        clause
        for index, clause in enumerate(clauses)
        if index not in extraction.used_clauses
        or (question is not None and speaks_about(clause, question))
    ]
    return "，".join(kept)
