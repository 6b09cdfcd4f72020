"""Knowledge-base speed at growing sizes: search, build, load, memory, disk.

Search latency here excludes embedding the query: each timed call is a
whole ``Searcher.search`` less the time its encoder took, and the encoder
already holds the query's vectors from an untimed first pass. Embedding is
timed on its own with the real model. The sizes take turns query by query,
so a burst of load from elsewhere on this shared machine lands on all of
them rather than on one.

Run as ``python -m benchmarks.kb_speed INDEX_DIR DICT_DIR`` this module is
the child process that loads a saved index and reports its resident memory:
a fresh process, so that memory freed by the build cannot be reused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from benchmarks.kb_synthetic import NoisyCopyEncoder, SyntheticCorpus
from benchmarks.table import markdown, percentile
from bot.settings import PROJECT_ROOT
from knowledge_base.encoder import Encoder
from knowledge_base.index import KbIndex
from knowledge_base.pipeline import Layout, scoring_for
from knowledge_base.search import Searcher
from knowledge_base.tokenizer import KbTokenizer

HNSW_M = 32
HNSW_EF_SEARCH = (64, 128, 256)
# Also reported: the share of the exact nearest TOP that an index's answer holds.
TOP = 10


@dataclass(frozen=True)
class SizeRun:
    """What one index size measured; times in ms unless named seconds.

    ``search_one_thread_ms`` is the same search with faiss held to one
    OpenMP thread, as the service could run it. ``machine_load`` is the
    1-minute load average just after the searches, this process included.
    """

    documents: int
    build_seconds: float
    search_ms: list[float]
    search_one_thread_ms: list[float]
    dense_ms: list[float]
    keyword_ms: list[float]
    load_seconds: float
    rss_mb: float
    disk_mb: float
    machine_load: float


@dataclass(frozen=True)
class Built:
    """One size's index, the encoder inside it, and its build seconds."""

    searcher: Searcher
    encoder: NoisyCopyEncoder
    seconds: float


def build_index(corpus: SyntheticCorpus, encoder: Encoder, layout: Layout) -> Built:
    """Index ``corpus`` with noisy copies of real vectors.

    The searcher has the calibrated scoring and the synonym table; the
    seconds leave out the time spent making vectors.
    """
    noisy = NoisyCopyEncoder(encoder, corpus.originals)
    score_config, thresholds = scoring_for(layout, encoder.model_id)
    tokenizer = KbTokenizer.load(layout.dict_dir)
    started = time.perf_counter()
    index = KbIndex.build(
        corpus.documents,
        noisy,
        tokenizer,
        source_hash="benchmark",
        text_policy=layout.text_policy,
        score_config=score_config,
        thresholds=thresholds,
        synonyms=layout.synonyms(),
    )
    seconds = time.perf_counter() - started - noisy.passage_seconds
    return Built(Searcher(index, noisy), noisy, seconds)


def scoring_latency(
    built: Sequence[Built], queries: Sequence[str], repeats: int = 3
) -> list[dict[str, list[float]]]:
    """Milliseconds per query for each index, without embedding time.

    Returns:
        Per index: ``search`` (``Searcher.search`` less its encoder's time),
        ``search_one_thread`` (the same with faiss on one OpenMP thread),
        ``dense`` and ``keyword`` (one faiss top ``pool_size`` and BM25
        over every document: the parts that grow with the index).
    """
    vectors = []
    for item in built:
        item.searcher.search_many(list(queries))  # fills the encoder's memory
        vectors.append(item.encoder.encode_queries(list(queries)))
    names = ("search", "search_one_thread", "dense", "keyword")
    timings: list[dict[str, list[float]]] = [{n: [] for n in names} for _ in built]
    threads = faiss.omp_get_max_threads()
    for _ in range(repeats):
        for position, query in enumerate(queries):
            for item, vector, timing in zip(built, vectors, timings, strict=True):
                timing["search"].append(_search_ms(item, query))
                faiss.omp_set_num_threads(1)
                try:
                    timing["search_one_thread"].append(_search_ms(item, query))
                finally:
                    faiss.omp_set_num_threads(threads)
                dense, keyword = _legs_ms(item.searcher, query, vector[position])
                timing["dense"].append(dense)
                timing["keyword"].append(keyword)
    return timings


def _search_ms(item: Built, query: str) -> float:
    embedding = item.encoder.query_seconds
    started = time.perf_counter()
    item.searcher.search(query)
    elapsed = time.perf_counter() - started
    return (elapsed - (item.encoder.query_seconds - embedding)) * 1000


def _legs_ms(searcher: Searcher, query: str, vector: np.ndarray) -> tuple[float, float]:
    started = time.perf_counter()
    searcher.index.dense.search(vector[None, :], searcher.pool_size)
    dense = time.perf_counter()
    searcher.keyword_scores(query, searcher.synonyms.expand(query))
    keyword = time.perf_counter()
    return (dense - started) * 1000, (keyword - dense) * 1000


def measure_sizes(
    corpora: Sequence[SyntheticCorpus],
    encoder: Encoder,
    layout: Layout,
    queries: Sequence[str],
    repeats: int = 3,
) -> tuple[list[SizeRun], Searcher]:
    """Build every size, time searches in turns, then save and reload each.

    Returns:
        One run per corpus, and the last (largest) searcher.
    """
    built = [build_index(corpus, encoder, layout) for corpus in corpora]
    timings = scoring_latency(built, queries, repeats)
    machine_load = os.getloadavg()[0]
    runs = []
    for item, timing in zip(built, timings, strict=True):
        with tempfile.TemporaryDirectory(prefix="bench-kb-") as tmp:
            directory = Path(tmp) / "index"
            item.searcher.index.save(directory)
            disk = sum(path.stat().st_size for path in directory.iterdir())
            probe = load_in_child(directory, layout.dict_dir)
        runs.append(
            SizeRun(
                documents=len(item.searcher.index.documents),
                build_seconds=item.seconds,
                search_ms=timing["search"],
                search_one_thread_ms=timing["search_one_thread"],
                dense_ms=timing["dense"],
                keyword_ms=timing["keyword"],
                load_seconds=probe["seconds"],
                rss_mb=probe["rss_mb"],
                disk_mb=disk / 1e6,
                machine_load=machine_load,
            )
        )
    return runs, built[-1].searcher


def load_in_child(directory: Path, dict_dir: Path) -> dict[str, float]:
    """Load the index in a fresh process; its seconds and RSS growth in MB."""
    module = "benchmarks.kb_speed"
    command = [sys.executable, "-m", module, str(directory), str(dict_dir)]
    output = subprocess.run(
        command, check=True, capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    return json.loads(output.stdout)


def _rss_mb() -> float:
    """This process's resident set size from /proc/self/status, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def _report_load(directory: Path, dict_dir: Path) -> None:
    tokenizer = KbTokenizer.load(dict_dir)  # the dictionary is not the index
    before = _rss_mb()
    started = time.perf_counter()
    index = KbIndex.load(directory, tokenizer)
    seconds = time.perf_counter() - started
    rss = _rss_mb() - before
    report = {"documents": len(index.documents), "seconds": seconds, "rss_mb": rss}
    print(json.dumps(report))


def _p50_p95(values: Sequence[float]) -> str:
    return f"{percentile(values, 0.5):.1f} / {percentile(values, 0.95):.1f}"


def speed_table(runs: Sequence[SizeRun]) -> str:
    """One row per size."""
    machine_load = max(run.machine_load for run in runs)
    rows = [
        (
            f"{run.documents:,}",
            _p50_p95(run.search_ms),
            _p50_p95(run.search_one_thread_ms),
            f"{percentile(run.dense_ms, 0.5):.2f}",
            f"{percentile(run.keyword_ms, 0.5):.2f}",
            f"{run.build_seconds:.1f}",
            f"{run.documents / run.build_seconds:,.0f}",
            f"{run.load_seconds:.1f}",
            f"{run.rss_mb:.0f}",
            f"{run.disk_mb:.0f}",
        )
        for run in runs
    ]
    header = (
        "documents",
        "search p50 / p95 ms",
        "same, faiss on 1 thread",
        "one faiss top-100 p50 ms",
        "BM25 p50 ms",
        "build s",
        "build docs/s",
        "load s",
        "loaded RSS MB",
        "on disk MB",
    )
    title = (
        "Knowledge-base speed by size (query embedding excluded; past the real "
        "2,262 Guangdong guides, copies with varied text and noisy copies of "
        "the real vectors; build excludes making vectors; 1-minute load "
        f"average after the searches {machine_load:.1f}, this process included)"
    )
    return markdown(title, header, rows)


def embedding_table(
    encoder: Encoder,
    queries: Sequence[str],
    passages: Sequence[str],
    note: str = "",
) -> str:
    """The real model: one query at a time, then ``passages`` in one call."""
    encoder.encode_queries([queries[0]])  # warm-up
    query_ms = []
    for query in queries:
        started = time.perf_counter()
        encoder.encode_queries([query])
        query_ms.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    encoder.encode_passages(list(passages))
    passage_seconds = time.perf_counter() - started
    rows = [
        (
            len(queries),
            f"{percentile(query_ms, 0.5):.0f}",
            f"{percentile(query_ms, 0.95):.0f}",
            len(passages),
            f"{len(passages) / passage_seconds:.1f}",
        )
    ]
    header = (
        "queries",
        "query p50 ms",
        "query p95 ms",
        "passages",
        "passages/s",
    )
    title = f"Query and passage embedding ({encoder.model_id}"
    return markdown(f"{title}{', ' + note if note else ''})", header, rows)


def index_type_table(
    stored: np.ndarray, queries: np.ndarray, k: int = 100, repeats: int = 3
) -> str:
    """Exact ``IndexFlatIP`` against ``IndexHNSWFlat`` for the dense top ``k``.

    Searches run with faiss on one OpenMP thread: with two, a single query
    waits for a second thread that the shared machine may not schedule for
    a time slice, which hides the search's own cost. The kinds take turns
    query by query, so a burst of load elsewhere lands on all of them.
    """
    stored = np.ascontiguousarray(stored, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    k = min(k, len(stored))
    top = min(TOP, k)
    flat = faiss.IndexFlatIP(stored.shape[1])
    flat.add(stored)
    _, exact = flat.search(queries, k)
    started = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(stored.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(stored)
    hnsw_seconds = time.perf_counter() - started

    kinds = [("IndexFlatIP (exact)", flat, 0, 0.0)] + [
        (f"IndexHNSWFlat M={HNSW_M}, efSearch={ef}", hnsw, ef, hnsw_seconds)
        for ef in HNSW_EF_SEARCH
    ]
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        timings, found = _time_in_turns(
            [(i, ef) for _, i, ef, _ in kinds], queries, k, repeats
        )
    finally:
        faiss.omp_set_num_threads(threads)
    rows = [
        (
            name,
            f"{build_seconds:.1f}",
            f"{percentile(timings[position], 0.5):.2f}",
            f"{percentile(timings[position], 0.95):.2f}",
            f"{_recall(found[position], exact, k):.3f}",
            f"{_recall(found[position], exact[:, :top], top):.3f}",
            f"{len(faiss.serialize_index(index)) / 1e6:.0f}",
        )
        for position, (name, index, _, build_seconds) in enumerate(kinds)
    ]
    header = (
        "index",
        "build s",
        "p50 ms",
        "p95 ms",
        f"recall@{k}",
        f"exact top {top} found",
        "size MB",
    )
    title = (
        f"Dense top-{k} over {len(stored):,} vectors, one query at a time, "
        "faiss on 1 thread "
        "(the synthetic corpus: a copy sits at cosine ~0.98 from its "
        "original, as close as a real guide's nearest real neighbour)"
    )
    return markdown(title, header, rows)


def _time_in_turns(
    indexes: Sequence[tuple[faiss.Index, int]],
    queries: np.ndarray,
    k: int,
    repeats: int,
) -> tuple[list[list[float]], list[list[np.ndarray]]]:
    """Milliseconds per search for each ``(index, efSearch)``, and the rows
    each found for every query (from the first round)."""
    timings: list[list[float]] = [[] for _ in indexes]
    found: list[list[np.ndarray]] = [[] for _ in indexes]
    for round_number in range(repeats):
        for query in queries:
            for position, (index, ef) in enumerate(indexes):
                if ef:
                    index.hnsw.efSearch = ef
                started = time.perf_counter()
                _, hits = index.search(query[None, :], k)
                timings[position].append((time.perf_counter() - started) * 1000)
                if round_number == 0:
                    found[position].append(hits[0])
    return timings, found


def _recall(found: Sequence[np.ndarray], exact: np.ndarray, k: int) -> float:
    """Mean share of the exact top ``k`` found anywhere in an index's answer."""
    shares = [
        len(set(got.tolist()) & set(want.tolist())) / k
        for got, want in zip(found, exact, strict=True)
    ]
    return float(np.mean(shares))


if __name__ == "__main__":
    _report_load(Path(sys.argv[1]), Path(sys.argv[2]))
