"""Labelled citizen messages for triage: reading, label mapping and the split.

Two public sets (docs/triage.md): MSGABench's Beijing messages (request type
and domain) and the 2020 泰迪杯 问政 messages (first-level category only).
Each set names its labels its own way; the tables below map them onto our
kinds and topics. The split is by a hash of the message id, so it is the
same on every machine and for every model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from knowledge_base.input_files import read_json_lines

# 留言类型 → kind. MSGABench labels complaints and requests for help together.
KINDS = ("question", "complaint", "suggestion")
BEIJING_KINDS = {"咨询": "question", "投诉/求助": "complaint", "建言": "suggestion"}

# Topics: the areas a 12345 ticket is routed by. Beijing's rare ministry
# labels and empty domains are left out of topic training.
TOPICS = (
    "城建",
    "交通",
    "教育",
    "社保就业",
    "医疗卫生",
    "环保",
    "企业商贸",
    "文旅",
    "政务",
    "治安",
    "三农",
)
BEIJING_TOPICS = {
    "城建": "城建",
    "交通": "交通",
    "教育": "教育",
    "就业": "社保就业",
    "医疗": "医疗卫生",
    "环保": "环保",
    "企业": "企业商贸",
    "金融": "企业商贸",
    "旅游": "文旅",
    "文娱": "文旅",
    "体育": "文旅",
    "政务": "政务",
    "治安": "治安",
    "三农": "三农",
}
TAIDI_TOPICS = {
    "城乡建设": "城建",
    "交通运输": "交通",
    "教育文体": "教育",
    "劳动和社会保障": "社保就业",
    "卫生计生": "医疗卫生",
    "环境保护": "环保",
    "商贸旅游": "企业商贸",
}

BEIJING_FILE = Path("msgabench_beijing_gov_qa/citizen_messages_labelled.jsonl")
TAIDI_FILE = Path("taidi2020_wenzheng_messages/messages_labelled_sample.jsonl")
FAQ_FILES = (
    Path("msgabench_beijing_gov_qa/gov_faq.jsonl"),
    Path("msgabench_beijing_gov_qa/kb_qa_with_keywords.jsonl"),
)
TEST_BUCKETS = 2  # of 10: a fifth of each set is held out


@dataclass(frozen=True)
class LabelledMessage:
    """One citizen message; ``kind`` or ``topic`` is None where the set has none."""

    id: str
    text: str
    kind: str | None
    topic: str | None
    source: str

    @property
    def held_out(self) -> bool:
        """True for the test split (a fifth, chosen by a hash of the id)."""
        digest = hashlib.sha256(f"{self.source}:{self.id}".encode()).digest()
        return digest[0] % 10 < TEST_BUCKETS


def load_beijing(path: Path) -> list[LabelledMessage]:
    """MSGABench's labelled citizen messages (kind and, where given, topic)."""
    return [
        LabelledMessage(
            id=str(row["id"]),
            text=row["message"],
            kind=BEIJING_KINDS.get(row.get("request_type", "")),
            topic=BEIJING_TOPICS.get(row.get("domain", "")),
            source="beijing",
        )
        for row in _rows(path)
        if isinstance(row.get("message"), str) and row["message"].strip()
    ]


def load_taidi(path: Path) -> list[LabelledMessage]:
    """The 泰迪杯 messages: title and text together, topic only."""
    return [
        LabelledMessage(
            id=str(row["msg_id"]),
            text=f"{row.get('title', '')}。{row.get('detail', '')}",
            kind=None,
            topic=TAIDI_TOPICS.get(row.get("category_l1", "")),
            source="taidi",
        )
        for row in _rows(path)
        if "msg_id" in row
    ]


def _rows(path: Path) -> list[dict]:
    return [row for _, row in read_json_lines(path) if isinstance(row, dict)]


def load_faq_questions(path: Path) -> list[LabelledMessage]:
    """The questions of a FAQ file as ``question`` messages.

    The citizen messages are long (median 135 characters); a chat question
    is often ten. FAQ questions teach the kind head what a short question
    looks like.
    """
    return [
        LabelledMessage(
            id=str(row["id"]),
            text=row["question"],
            kind="question",
            topic=None,
            source="faq",
        )
        for row in _rows(path)
        if isinstance(row.get("question"), str) and row["question"].strip()
    ]


def load_shared(shared_data: Path) -> list[LabelledMessage]:
    """Every labelled set from ``../shared/data`` (the shared folder's layout)."""
    messages = load_beijing(shared_data / BEIJING_FILE)
    messages += load_taidi(shared_data / TAIDI_FILE)
    for path in FAQ_FILES:
        messages += load_faq_questions(shared_data / path)
    return messages


def split(
    messages: Iterable[LabelledMessage],
) -> tuple[list[LabelledMessage], list[LabelledMessage]]:
    """(train, held-out test): the same split on every run."""
    train: list[LabelledMessage] = []
    test: list[LabelledMessage] = []
    for message in messages:
        (test if message.held_out else train).append(message)
    return train, test


def with_label(
    messages: Sequence[LabelledMessage], head: str
) -> tuple[list[str], list[str]]:
    """Texts and labels of the messages that carry a ``head`` ("kind"/"topic")."""
    pairs = [(m.text, getattr(m, head)) for m in messages if getattr(m, head)]
    return [text for text, _ in pairs], [label for _, label in pairs]
