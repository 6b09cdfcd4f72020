from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from knowledge_base.documents import TextPolicy, faq_document
from knowledge_base.errors import DocumentNotFoundError, IndexMismatchError
from knowledge_base.index import KbIndex
from knowledge_base.schema import FaqEntry
from knowledge_base.scoring import ScoreConfig, Thresholds, fuse
from knowledge_base.search import Searcher
from tests.knowledge_base.conftest import HashingEncoder, TableEncoder

CONFIG = ScoreConfig(dense_floor=-1.0, dense_ceiling=1.0)
THRESHOLDS = Thresholds()


def build(documents, encoder, tokenizer, config=CONFIG, thresholds=THRESHOLDS):
    index = KbIndex.build(
        documents,
        encoder,
        tokenizer,
        source_hash="test",
        text_policy=TextPolicy(),
        score_config=config,
        thresholds=thresholds,
    )
    return Searcher(index, encoder)


def faq(i: int, question: str, answer: str = "答复") -> FaqEntry:
    return FaqEntry(id=f"faq-{i:04d}", question=question, answer=answer)


@pytest.mark.parametrize("seed", range(8))
def test_ranking_matches_a_brute_force_numpy_oracle(tokenizer, seed):
    rng = np.random.default_rng(seed)
    words = ["社保", "医保", "公积金", "居住证", "驾驶证", "护照", "营业执照", "户口"]
    entries = [
        faq(i, "".join(rng.choice(words, size=rng.integers(1, 4))) + f"第{i}问")
        for i in range(40)
    ]
    docs = [faq_document(e, TextPolicy()) for e in entries]
    vectors = rng.normal(size=(81, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = "社保和公积金怎么转"
    table = (
        {doc.text: vectors[i] for i, doc in enumerate(docs)}
        | {doc.body_text: vectors[40 + i] for i, doc in enumerate(docs)}
        | {query: vectors[80]}
    )
    config = dataclasses.replace(CONFIG, body_weight=0.4)
    searcher = build(docs, TableEncoder(table), tokenizer, config)

    result = searcher.search(query, top_k=5)

    cosines = vectors[:40] @ vectors[80]
    body_cosines = vectors[40:80] @ vectors[80]
    keyword = searcher.index.bm25.scaled_scores(tokenizer.tokens(query))
    expected = fuse(cosines, keyword, [], config, body_cosines)
    oracle_rows = sorted(range(40), key=lambda r: (-expected[r], r))[:5]
    assert [hit.doc_id for hit in result.hits] == [docs[r].doc_id for r in oracle_rows]
    np.testing.assert_allclose(
        [hit.score for hit in result.hits], expected[oracle_rows], atol=1e-4
    )


def test_quoting_an_identifier_lifts_its_document_to_the_top(tokenizer):
    entries = [
        faq(1, "京政发文件规定了什么", "见京政发〔2019〕7号"),
        faq(2, "国办发文件规定了什么", "见国办发〔2020〕42号"),
        faq(3, "有哪些便民措施", "见国办发〔2021〕8号"),
    ]
    docs = [faq_document(e, TextPolicy(faq_embed_chars=100)) for e in entries]
    plain = build(
        docs,
        HashingEncoder(),
        tokenizer,
        dataclasses.replace(CONFIG, identifier_boost=0.0),
    )
    boosted = build(docs, HashingEncoder(), tokenizer)
    query = "国办发〔2021〕8号文件规定了什么"

    before = {hit.doc_id: hit for hit in plain.search(query, top_k=3).hits}

    after = boosted.search(query).hits[0]

    assert min(before, key=lambda doc_id: -before[doc_id].score) != "faq-0003"
    assert after.doc_id == "faq-0003"
    expected = min(1.0, before["faq-0003"].score + CONFIG.identifier_boost)
    assert after.score == pytest.approx(expected, abs=1e-3)


def test_outcome_uses_the_index_thresholds(tokenizer):
    docs = [faq_document(faq(1, "居住证怎么办"), TextPolicy())]

    strict = build(docs, HashingEncoder(), tokenizer, thresholds=Thresholds(0.99, 0.99))
    lax = build(docs, HashingEncoder(), tokenizer, thresholds=Thresholds(0.0, 0.0))

    assert strict.search("护照过期了").outcome == "no_answer"
    assert lax.search("护照过期了").outcome == "answer"


def test_search_many_returns_one_result_per_query(tokenizer):
    docs = [
        faq_document(faq(i, q), TextPolicy()) for i, q in enumerate(["社保", "医保"])
    ]
    searcher = build(docs, HashingEncoder(), tokenizer)

    assert searcher.search_many([]) == []
    results = searcher.search_many(["社保卡", "医保卡", "护照"], top_k=1)
    assert [len(r.hits) for r in results] == [1, 1, 1]


def test_empty_index_answers_nothing(tokenizer):
    searcher = build([], HashingEncoder(), tokenizer)

    result = searcher.search("居住证")

    assert result.outcome == "no_answer" and result.hits == ()
    assert result.top_score == 0.0


def test_document_lookup_returns_the_hit_with_score_one(tokenizer):
    docs = [faq_document(faq(1, "居住证怎么办", "到派出所办理"), TextPolicy())]
    searcher = build(docs, HashingEncoder(), tokenizer)

    hit = searcher.document("faq-0001")

    assert (hit.title, hit.answer, hit.score) == ("居住证怎么办", "到派出所办理", 1.0)
    with pytest.raises(DocumentNotFoundError):
        searcher.document("faq-9999")


def test_a_model_other_than_the_index_model_is_refused(tokenizer):
    docs = [faq_document(faq(1, "居住证"), TextPolicy())]
    index = build(docs, HashingEncoder(), tokenizer).index

    with pytest.raises(IndexMismatchError, match="rebuild"):
        Searcher(index, HashingEncoder(model_id="other/model"))
