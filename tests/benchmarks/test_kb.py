"""The knowledge-base benchmark's parts at a tiny size, with a model double.

No timing is asserted: these check that the synthetic corpus is what the
benchmark says it is and that each table has its shape.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.kb import field_table
from benchmarks.kb_speed import (
    embedding_table,
    index_type_table,
    measure_sizes,
    speed_table,
)
from benchmarks.kb_synthetic import NoisyCopyEncoder, synthesise
from bot.settings import PROJECT_ROOT
from knowledge_base.documents import TextPolicy, build_documents
from knowledge_base.loader import load_guides
from knowledge_base.pipeline import Layout
from tests.knowledge_base.conftest import DICT_DIR, HashingEncoder

GUIDES = PROJECT_ROOT / "knowledge_base" / "data" / "guides"
QUERIES = ["开饭店要办什么证", "失业金怎么领", "身份证丢了在哪补办"]


@pytest.fixture(scope="module")
def real_documents():
    return build_documents(load_guides(GUIDES), [], TextPolicy())


@pytest.fixture
def layout(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "dict").symlink_to(DICT_DIR)
    (data / "stopwords.txt").symlink_to(DICT_DIR.parent / "stopwords.txt")
    return Layout(data, tmp_path / "embedder", tmp_path / "index", tmp_path / "cache")


def table_shape(table: str) -> tuple[int, int]:
    """(data rows, columns) of a Markdown table made by benchmarks.table."""
    lines = [line for line in table.splitlines() if line.startswith("|")]
    widths = {line.count("|") - 1 for line in lines}
    assert len(widths) == 1, table
    return len(lines) - 2, widths.pop()


def test_synthesise_keeps_the_real_documents_then_adds_distinct_copies(
    real_documents,
):
    corpus = synthesise(real_documents, 200)

    ids = [doc.doc_id for doc in corpus.documents]
    assert len(ids) == len(set(ids)) == 200
    assert corpus.documents[: len(real_documents)] == real_documents
    copies = corpus.documents[len(real_documents) :]
    real_texts = {doc.text for doc in real_documents}
    real_keywords = {doc.keyword_text for doc in real_documents}
    for copy in copies:
        assert copy.title.endswith("年）")
        assert corpus.originals[copy.text] in real_texts
        assert corpus.originals[copy.keyword_text] in real_keywords
        assert copy.text not in real_texts


def test_synthesise_below_the_real_count_takes_the_first_documents(real_documents):
    corpus = synthesise(real_documents, 10)

    assert corpus.documents == real_documents[:10]
    assert corpus.originals == {}


def test_noisy_copies_stay_unit_length_and_near_their_original(real_documents):
    corpus = synthesise(real_documents, 200)
    model = HashingEncoder()
    texts = [doc.text for doc in corpus.documents]

    vectors = NoisyCopyEncoder(model, corpus.originals).encode_passages(texts)

    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    first_copy = len(real_documents)
    original = model.encode_passages([corpus.originals[texts[first_copy]]])[0]
    assert 0.9 < float(vectors[first_copy] @ original) < 1.0
    np.testing.assert_allclose(vectors[0], model.encode_passages([texts[0]])[0])


def test_speed_tables_have_one_row_per_size(real_documents, layout):
    model = HashingEncoder()
    corpora = [synthesise(real_documents, size) for size in (10, 200)]

    runs, searcher = measure_sizes(corpora, model, layout, QUERIES, repeats=1)

    assert [run.documents for run in runs] == [10, 200]
    assert all(len(run.search_ms) == len(QUERIES) for run in runs)
    assert all(run.disk_mb > 0 for run in runs)
    assert table_shape(speed_table(runs)) == (2, 10)
    stored = searcher.index.dense.reconstruct_n(0, 200)
    vectors = model.encode_queries(QUERIES)
    assert table_shape(index_type_table(stored, vectors, k=10, repeats=1)) == (4, 7)


def test_embedding_table_is_one_row():
    table = embedding_table(HashingEncoder(), QUERIES, ["材料", "时限"], "1 thread")

    assert table_shape(table) == (1, 5)


def test_field_table_counts_right_detections_per_field():
    labelled = [
        ("办这个要带什么材料", "materials"),
        ("要多久能办好", "time_limit"),
        ("在哪里办", "materials"),
        ("怎么办理", None),
    ]

    table = field_table(labelled)

    rows = {
        line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]]
        for line in table.splitlines()
        if line.startswith("| ") and "field" not in line
    }
    assert rows["materials"] == ["2", "1", "1", "1.00", "0.50"]
    assert rows["location"] == ["0", "1", "0", "0.00", "—"]
    assert rows["all"][:3] == ["4", "4", "3"]
