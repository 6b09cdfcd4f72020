"""Triage on the held-out split of the shared labelled messages (`make bench-triage`).

Tables: per-class precision and recall of the kind head on citizen messages;
how the held-out FAQ questions and the shared eval queries (short chat
questions) are read; per-class topic scores; and prediction speed. The
model is the one `make setup` trained (build/triage), on the other split.
"""

from __future__ import annotations

import json
import time
from collections import Counter

from benchmarks.table import markdown, percentile
from bot.settings import PROJECT_ROOT
from knowledge_base.tokenizer import KbTokenizer
from knowledge_base.triage import data
from knowledge_base.triage.evaluate import HeadReport, score_head
from knowledge_base.triage.model import TriageModel

SHARED = PROJECT_ROOT.parent / "shared"
EVAL_QUERIES = (
    "beijing_faq_dev.jsonl",
    "beijing_unanswerable_dev.jsonl",
    "guangdong_guides_dev.jsonl",
)


def triage_tables() -> list[str]:
    model = TriageModel.load(
        PROJECT_ROOT / "build" / "triage",
        KbTokenizer.load(PROJECT_ROOT / "knowledge_base" / "data" / "dict"),
    )
    _, held_out = data.split(data.load_shared(SHARED / "data"))
    citizens = [m for m in held_out if m.source != "faq"]
    faq = [m.text for m in held_out if m.source == "faq"]
    return [
        _head_table(score_head(model, "kind", *data.with_label(citizens, "kind"))),
        _routing_table(model, faq),
        _head_table(score_head(model, "topic", *data.with_label(citizens, "topic"))),
        _topic_threshold_table(model, *data.with_label(citizens, "topic")),
        _speed_table(model, [m.text for m in citizens[:500]]),
    ]


def _head_table(report: HeadReport) -> str:
    rows = [
        (s.label, s.support, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}")
        for s in report.classes
    ]
    total = sum(s.support for s in report.classes)
    rows.append(("all", total, "", "", f"macro {report.macro_f1:.3f}"))
    rows.append(("accuracy", "", "", "", f"{report.accuracy:.3f}"))
    title = f"triage: {report.head}, held-out citizen messages"
    return markdown(title, ("class", "support", "precision", "recall", "F1"), rows)


def _routing_table(model: TriageModel, faq_questions: list[str]) -> str:
    sets = [("held-out FAQ questions", faq_questions)]
    for name in EVAL_QUERIES:
        path = SHARED / "eval" / name
        queries = [json.loads(line)["query"] for line in path.open(encoding="utf-8")]
        sets.append((f"eval/{name}", queries))
    rows = []
    for name, texts in sets:
        kinds = Counter(model.predict(text).kind for text in texts)
        rows.append(
            (
                name,
                len(texts),
                kinds["question"],
                kinds["complaint"],
                kinds["suggestion"],
                f"{kinds['question'] / len(texts):.3f}",
            )
        )
    header = ("questions", "n", "read as question", "complaint", "suggestion", "share")
    return markdown("triage: questions kept for the knowledge base", header, rows)


def _topic_threshold_table(
    model: TriageModel, texts: list[str], labels: list[str]
) -> str:
    """How right the topic is above each threshold; below it tickets say 其他."""
    readings = [model.predict(text) for text in texts]
    rows = []
    for threshold in (0.0, 0.1, 0.2, 0.3, 0.4):
        kept = [
            (reading.topic == label)
            for reading, label in zip(readings, labels, strict=True)
            if reading.topic_score >= threshold
        ]
        share = len(kept) / len(readings)
        accuracy = sum(kept) / len(kept) if kept else 0.0
        rows.append((threshold, f"{share:.3f}", f"{accuracy:.3f}"))
    header = ("threshold", "share with a topic", "topic right when given")
    return markdown("triage: topic threshold (below it: 其他)", header, rows)


def _speed_table(model: TriageModel, texts: list[str]) -> str:
    timings = []
    for text in texts:
        started = time.perf_counter()
        model.predict(text)
        timings.append((time.perf_counter() - started) * 1000)
    rows = [
        (
            len(texts),
            f"{percentile(timings, 0.5):.2f}",
            f"{percentile(timings, 0.95):.2f}",
            model.meta.get("trained_on", "unknown"),
        )
    ]
    header = ("messages", "p50 ms", "p95 ms", "trained on")
    return markdown("triage: prediction speed (one core)", header, rows)
