from __future__ import annotations

import json

import pytest

from knowledge_base.documents import TextPolicy, faq_document
from knowledge_base.errors import InvalidDataError
from knowledge_base.evaluate import (
    EvalQuery,
    format_report,
    load_queries,
    run_queries,
    summarise,
)
from knowledge_base.index import KbIndex
from knowledge_base.schema import FaqEntry
from knowledge_base.scoring import ScoreConfig, Thresholds
from knowledge_base.search import Searcher

QUESTIONS = ["居住证怎么办理", "护照过期了怎么换", "社保卡丢了怎么补"]


@pytest.fixture
def searcher(encoder, tokenizer) -> Searcher:
    docs = [
        faq_document(FaqEntry(f"f{i}", q, "答"), TextPolicy())
        for i, q in enumerate(QUESTIONS)
    ]
    index = KbIndex.build(
        docs,
        encoder,
        tokenizer,
        source_hash="x",
        text_policy=TextPolicy(),
        score_config=ScoreConfig(dense_floor=0.0, dense_ceiling=1.0),
        thresholds=Thresholds(answer=0.8, clarify=0.3),
    )
    return Searcher(index, encoder)


def test_metrics_and_outcomes_are_counted(searcher):
    queries = [
        EvalQuery("居住证怎么办理", "f0", "colloquial"),  # exact: answered right
        EvalQuery(
            "护照过期了怎么换", "f2", "synonym"
        ),  # exact text of f1: answered wrong
        EvalQuery("今天天气怎么样呀朋友", None, "off_topic"),
    ]

    outcomes = run_queries(searcher, queries)
    report = summarise(outcomes)

    assert outcomes[0].gold_rank == 1 and outcomes[1].gold_rank != 1
    assert (report.answerable, report.unanswerable) == (2, 1)
    assert report.hit_at_1 == 0.5
    assert report.answered_right == 1 and report.answered_wrong == 1
    assert report.mrr == pytest.approx((1 + 1 / outcomes[1].gold_rank) / 2)
    assert report.hit_at_1_by_kind == {"colloquial": "1/1", "synonym": "0/1"}
    assert report.unanswerable_refused + report.unanswerable_clarified == 1
    assert "hit@1                  0.500" in format_report(report)


def test_guide_golds_become_guide_document_ids(tmp_path):
    path = tmp_path / "q.jsonl"
    rows = [
        {"query": "问", "gold": "1144X", "kind": "field"},
        {"query": "闲聊", "gold": None},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n")

    queries = load_queries(path, guide_golds=True)

    assert queries == [
        EvalQuery("问", "guide-1144X", "field"),
        EvalQuery("闲聊", None, ""),
    ]


@pytest.mark.parametrize("line", ["{oops", '{"query": "问"}', "[1]"])
def test_malformed_query_lines_are_named(tmp_path, line):
    path = tmp_path / "q.jsonl"
    path.write_text('{"query": "问", "gold": null}\n' + line + "\n")

    with pytest.raises(InvalidDataError, match="q.jsonl:2"):
        load_queries(path)
