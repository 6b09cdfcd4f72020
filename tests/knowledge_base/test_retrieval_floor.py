"""Retrieval quality floor on the shared Beijing dev sets, with the real model.

Needs ../shared and the built embedder (``make setup``). Vectors come from
the embedding cache under build/cache, so a second run only encodes the
queries; the first run on a fresh machine embeds the 2,080 FAQ entries once.
The floors sit below the numbers measured in docs/knowledge-base.md, with a
margin for small changes; raise them when retrieval improves.
"""

from __future__ import annotations

import pytest

from bot.settings import load_settings
from knowledge_base.calibration import load_calibration
from knowledge_base.documents import build_documents
from knowledge_base.encoder import load_encoder
from knowledge_base.evaluate import load_queries, run_queries, summarise
from knowledge_base.loader import load_faq
from knowledge_base.pipeline import Layout, in_memory_searcher

pytestmark = pytest.mark.slow

HIT_AT_1_FLOOR = 0.70
HIT_AT_3_FLOOR = 0.84
MAX_WRONG_ANSWERS = 6
MIN_UNANSWERABLE_NOT_ANSWERED = 27


@pytest.fixture(scope="module")
def report(shared_dir):
    layout = Layout.from_settings(load_settings())
    if not (layout.embedder_dir / "manifest.json").is_file():
        pytest.skip(f"needs the embedding model at {layout.embedder_dir} (make setup)")
    encoder = load_encoder(layout.embedder_dir)
    if load_calibration(layout.calibration_file, encoder.model_id) is None:
        pytest.fail(
            f"no calibration for {encoder.model_id}; run "
            "`python -m knowledge_base calibrate` (docs/knowledge-base.md)"
        )
    corpus = load_faq(
        shared_dir / "data" / "msgabench_beijing_gov_qa" / "gov_faq.jsonl"
    )
    queries = [
        *load_queries(shared_dir / "eval" / "beijing_faq_dev.jsonl"),
        *load_queries(shared_dir / "eval" / "beijing_unanswerable_dev.jsonl"),
    ]
    documents = build_documents([], corpus, layout.text_policy)
    searcher = in_memory_searcher(layout, documents, encoder)
    return summarise(run_queries(searcher, queries))


def test_beijing_ranking_holds_its_floor(report):
    assert report.answerable == 150
    assert report.hit_at_1 >= HIT_AT_1_FLOOR
    assert report.hit_at_3 >= HIT_AT_3_FLOOR


def test_beijing_outcomes_rarely_answer_wrongly(report):
    assert report.answered_wrong <= MAX_WRONG_ANSWERS
    not_answered = report.unanswerable_refused + report.unanswerable_clarified
    assert not_answered >= MIN_UNANSWERABLE_NOT_ANSWERED
