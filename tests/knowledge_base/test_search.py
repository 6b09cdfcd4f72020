from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from knowledge_base.documents import TextPolicy, faq_document, guide_document
from knowledge_base.errors import DocumentNotFoundError, IndexMismatchError
from knowledge_base.index import KbIndex
from knowledge_base.schema import FaqEntry, ServiceGuide, Source
from knowledge_base.scoring import ScoreConfig, Thresholds, fuse
from knowledge_base.search import Searcher
from knowledge_base.synonyms import SynonymTable
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


def guide(i: int, name: str) -> ServiceGuide:
    return ServiceGuide(
        id=f"g{i}",
        name=name,
        department="公安机关",
        eligibility="本人申请",
        required_materials=("居民身份证",),
        sources=(Source(f"https://example.gov.cn/{i}"),),
    )


def test_an_old_name_finds_the_entry_and_a_fact_question_gets_that_fact(tokenizer):
    names = ["无犯罪记录证明开具", "居住证办理", "护照补办"]
    docs = [guide_document(guide(i, n), TextPolicy()) for i, n in enumerate(names)]
    index = KbIndex.build(
        docs,
        HashingEncoder(),
        tokenizer,
        source_hash="test",
        text_policy=TextPolicy(),
        score_config=CONFIG,
        thresholds=THRESHOLDS,
        synonyms=SynonymTable([("良民证", "无犯罪记录证明")]),
    )
    searcher = Searcher(index, HashingEncoder())

    result = searcher.search("良民证要带什么材料")

    assert result.field == "materials"
    assert [(r.alias, r.term) for r in result.expansion.rewrites] == [
        ("良民证", "无犯罪记录证明")
    ]
    top = result.hits[0]
    assert top.doc_id == "guide-g0"
    assert top.field == "materials" and top.field_answer == "申请材料：\n1. 居民身份证"
    without = Searcher(index, HashingEncoder(), synonyms=SynonymTable())
    assert without.search("良民证要带什么材料").hits[0].score < top.score


def test_a_small_pool_still_ranks_the_best_entry_first(tokenizer):
    entries = [
        faq(i, q) for i, q in enumerate(["社保", "医保", "公积金", "居住证"] * 10)
    ]
    docs = [faq_document(e, TextPolicy()) for e in entries]
    index = KbIndex.build(
        docs,
        HashingEncoder(),
        tokenizer,
        source_hash="test",
        text_policy=TextPolicy(),
        score_config=CONFIG,
        thresholds=THRESHOLDS,
    )
    full = Searcher(index, HashingEncoder()).search("居住证", top_k=1)
    pooled = Searcher(index, HashingEncoder(), pool_size=3).search("居住证", top_k=1)
    assert pooled.hits[0].doc_id == full.hits[0].doc_id
    assert pooled.hits[0].score == full.hits[0].score
