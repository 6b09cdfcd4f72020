"""Knowledge-base benchmarks: search latency on the built index, and quality
on the shared labelled sets (through the eval CLI, as an operator runs it)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from benchmarks.table import markdown, percentile
from bot.settings import PROJECT_ROOT, load_settings
from knowledge_base import pipeline
from knowledge_base.loader import load_guides

SHARED = PROJECT_ROOT.parent / "shared"

EVAL_SETS = [
    (
        "Beijing FAQ (2,080) + unanswerable",
        "faq",
        "data/msgabench_beijing_gov_qa/gov_faq.jsonl",
        ["eval/beijing_faq_dev.jsonl", "eval/beijing_unanswerable_dev.jsonl"],
    ),
    (
        "Guangdong guides (2,262)",
        "guides",
        "data/guangdong_service_guides_2021/service_guides.jsonl",
        ["eval/guangdong_guides_dev.jsonl"],
    ),
]


def sample_questions() -> list[str]:
    """The citizens' phrasings written into the sample guides."""
    layout = pipeline.Layout.from_settings(load_settings())
    guides = load_guides(layout.data_dir / "guides")
    return [question for guide in guides for question in guide.questions]


def latency_table(repeats: int = 3) -> str:
    """Search latency in process, one query at a time, on the built index."""
    layout = pipeline.Layout.from_settings(load_settings())
    searcher = pipeline.open_searcher(layout)
    questions = sample_questions()
    searcher.search(questions[0])  # warm-up: first call pays for lazy set-up
    timings = []
    for _ in range(repeats):
        for question in questions:
            started = time.perf_counter()
            searcher.search(question)
            timings.append((time.perf_counter() - started) * 1000)
    rows = [
        (
            len(searcher.index.documents),
            len(timings),
            f"{percentile(timings, 0.5):.1f}",
            f"{percentile(timings, 0.95):.1f}",
            f"{1000 * len(timings) / sum(timings):.1f}",
        )
    ]
    header = ("documents", "queries", "p50 ms", "p95 ms", "queries/s")
    return markdown("Search latency (in process, 1 thread)", header, rows)


def quality_table() -> str:
    """hit@1, hit@3, MRR and outcome counts on the shared labelled sets."""
    if not SHARED.is_dir():
        return f"\n(quality skipped: {SHARED} is absent)"
    rows = []
    for name, kind, corpus, query_files in EVAL_SETS:
        command = [
            sys.executable,
            "-m",
            "knowledge_base",
            "eval",
            "--json",
            "--format",
            kind,
            "--corpus",
            str(SHARED / corpus),
        ]
        for query_file in query_files:
            command += ["--queries", str(SHARED / query_file)]
        started = time.perf_counter()
        output = subprocess.run(command, check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        report = json.loads(output.stdout)
        rows.append(
            (
                name,
                report["answerable"],
                f"{report['hit_at_1']:.3f}",
                f"{report['hit_at_3']:.3f}",
                f"{report['mrr']:.3f}",
                f"{report['answered_right']}/{report['answered_wrong']}",
                report["clarified"],
                report["wrongly_refused"],
                f"{report['unanswerable_refused']}/{report['unanswerable']}",
                f"{seconds:.0f}",
            )
        )
    header = (
        "set",
        "answerable",
        "hit@1",
        "hit@3",
        "MRR@10",
        "answered right/wrong",
        "clarified",
        "wrongly refused",
        "unanswerable refused",
        "seconds",
    )
    return markdown("Retrieval quality (shared labelled sets)", header, rows)
