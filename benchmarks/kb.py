"""`make bench-kb`: the knowledge base measured on the shared data (issue #3).

Three parts, each a Markdown table: quality of the fused search against
each leg alone on the Beijing FAQ and Guangdong guide sets, how well
``detect_field`` reads the fact a Guangdong query asks for, and speed at
the real 2,262 guides and at synthetic 20,000 and 100,000 entries
(``benchmarks.kb_synthetic``, ``benchmarks.kb_speed``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from benchmarks.kb_speed import (
    embedding_table,
    index_type_table,
    measure_sizes,
    speed_table,
)
from benchmarks.kb_synthetic import synthesise
from benchmarks.retrieval import EVAL_SETS, SHARED
from benchmarks.table import markdown
from bot.settings import load_settings
from knowledge_base import pipeline
from knowledge_base.documents import build_documents
from knowledge_base.encoder import CachedEncoder, Encoder, load_encoder
from knowledge_base.evaluate import (
    EvalQuery,
    EvalReport,
    load_queries,
    run_queries,
    summarise,
)
from knowledge_base.fields import FIELDS, detect_field
from knowledge_base.loader import load_faq, load_guide_catalogue
from knowledge_base.schema import Document
from knowledge_base.search import baseline

GUANGDONG_CORPUS = "data/guangdong_service_guides_2021/service_guides.jsonl"
GUANGDONG_QUERIES = "eval/guangdong_guides_dev.jsonl"
SYNTHETIC_SIZES = (20_000, 100_000)
EMBEDDED_PASSAGES = 500
METHODS = ("fused", "dense only", "BM25 only")


def kb_tables(sizes: Sequence[int] = SYNTHETIC_SIZES) -> Iterator[str]:
    """Every table of the knowledge-base benchmark, as each is measured."""
    if not SHARED.is_dir():
        yield f"\n(kb benchmark skipped: {SHARED} is absent)"
        return
    layout = pipeline.Layout.from_settings(load_settings())
    model = load_encoder(layout.embedder_dir)
    for name, kind, corpus, query_files in EVAL_SETS:
        documents = set_documents(kind, SHARED / corpus, layout)
        queries = [
            query
            for path in query_files
            for query in load_queries(SHARED / path, guide_golds=kind == "guides")
        ]
        reports = compare_methods(layout, model, documents, queries)
        synonyms = len(layout.synonyms())
        yield quality_table(f"{name}: fused against each leg alone", reports, synonyms)
    yield field_table(load_field_labels(SHARED / GUANGDONG_QUERIES))
    yield from speed_tables(layout, model, sizes)


def set_documents(kind: str, path: Path, layout: pipeline.Layout) -> list[Document]:
    """The documents of one shared corpus, as ``knowledge_base eval`` reads it."""
    if kind == "guides":
        return build_documents(load_guide_catalogue(path), [], layout.text_policy)
    return build_documents([], load_faq(path), layout.text_policy)


def compare_methods(
    layout: pipeline.Layout,
    model: Encoder,
    documents: Sequence[Document],
    queries: Sequence[EvalQuery],
) -> dict[str, EvalReport]:
    """The calibrated fused search and its two legs alone, on one index."""
    fused = pipeline.in_memory_searcher(layout, documents, model)
    searchers = {
        "fused": fused,
        "dense only": baseline(fused, "dense"),
        "BM25 only": baseline(fused, "keyword"),
    }
    return {
        name: summarise(run_queries(searcher, queries))
        for name, searcher in searchers.items()
    }


def quality_table(title: str, reports: dict[str, EvalReport], synonyms: int) -> str:
    """One row per method; the last column compares fused with the best leg."""
    best_single = max(reports["dense only"].hit_at_1, reports["BM25 only"].hit_at_1)
    rows = []
    for name in METHODS:
        report = reports[name]
        gain = report.hit_at_1 - best_single if name == "fused" else None
        rows.append(
            (
                name,
                f"{report.hit_at_1:.3f}",
                f"{report.hit_at_3:.3f}",
                f"{report.mrr:.3f}",
                f"{report.answered_right} / {report.answered_wrong}",
                _unanswerable(report),
                "" if gain is None else f"{gain:+.3f}",
            )
        )
    header = (
        "method",
        "hit@1",
        "hit@3",
        "MRR@10",
        "answered right / wrong",
        "unanswerable answered",
        "fused − best single (hit@1)",
    )
    answerable = next(iter(reports.values())).answerable
    note = (
        f"{answerable} answerable queries; synonym table: {synonyms} entries; "
        "all three use the thresholds calibrated for the fused score"
    )
    return markdown(f"{title} ({note})", header, rows)


def _unanswerable(report: EvalReport) -> str:
    if not report.unanswerable:
        return "—"
    share = 100 * report.unanswerable_answered / report.unanswerable
    return f"{report.unanswerable_answered} of {report.unanswerable} ({share:.0f}%)"


def load_field_labels(path: Path) -> list[tuple[str, str | None]]:
    """``(query, field)`` pairs from a labelled file; ``None``: the whole guide."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        (raw["query"], raw.get("field"))
        for raw in (json.loads(line) for line in lines if line.strip())
    ]


def field_table(labelled: Sequence[tuple[str, str | None]]) -> str:
    """Per field: labelled, detected, right, precision and recall."""
    detected = [(field, detect_field(query)) for query, field in labelled]
    rows = []
    for field in (*FIELDS, None):
        wanted = sum(1 for label, _ in detected if label == field)
        found = sum(1 for _, guess in detected if guess == field)
        right = sum(1 for label, guess in detected if label == guess == field)
        rows.append(
            (
                field or "none (whole guide)",
                wanted,
                found,
                right,
                f"{right / found:.2f}" if found else "—",
                f"{right / wanted:.2f}" if wanted else "—",
            )
        )
    correct = sum(1 for label, guess in detected if label == guess)
    rows.append(("all", len(detected), len(detected), correct, "", ""))
    header = ("field", "labelled", "detected", "right", "precision", "recall")
    title = (
        f"Field detection on the Guangdong queries (detect_field against the "
        f"labels: {correct} of {len(detected)} right)"
    )
    return markdown(title, header, rows)


def speed_tables(
    layout: pipeline.Layout, model: Encoder, sizes: Sequence[int]
) -> Iterator[str]:
    """Embedding, then search and index costs at the real size and ``sizes``."""
    real = set_documents("guides", SHARED / GUANGDONG_CORPUS, layout)
    queries = [query.query for query in load_queries(SHARED / GUANGDONG_QUERIES)]
    step = max(1, len(real) // EMBEDDED_PASSAGES)
    passages = [doc.text for doc in real[::step][:EMBEDDED_PASSAGES]]
    yield embedding_table(model, queries, passages, _threads())

    cached = CachedEncoder(model, layout.cache_dir)
    corpora = [synthesise(real, size) for size in (len(real), *sizes)]
    runs, largest = measure_sizes(corpora, cached, layout, queries)
    yield speed_table(runs)
    stored = largest.index.dense.reconstruct_n(0, largest.index.dense.ntotal)
    vectors = largest.encoder.encode_queries(queries)
    yield index_type_table(stored, vectors, k=largest.pool_size)


def _threads() -> str:
    """How many torch threads the model runs on (the service uses 1)."""
    import torch  # already imported by the model; only for the title

    return f"{torch.get_num_threads()} torch thread(s)"
