"""Demoting catalogue variants (progress query, extension, …) nobody asked for."""

from __future__ import annotations

import dataclasses

import pytest

from knowledge_base.documents import TextPolicy, guide_document
from knowledge_base.index import KbIndex
from knowledge_base.schema import ServiceGuide, Source
from knowledge_base.scoring import ScoreConfig, Thresholds
from knowledge_base.search import Searcher, baseline
from knowledge_base.variants import unasked
from tests.knowledge_base.conftest import HashingEncoder


@pytest.mark.parametrize(
    "title, query, demoted",
    [
        ("往来台湾通行证签注办证进度查询", "大通证要带啥材料", True),
        ("往来台湾通行证签注办证进度查询", "大通证签注办到哪一步了", False),
        ("乡村建设规划许可证核发(延期使用)", "盖房子要办乡村建设规划许可证", True),
        ("乡村建设规划许可证核发(延期使用)", "规划许可证快到期了怎么续", False),
        ("个体工商户注销登记", "个体户不开了怎么注销", False),
        ("居民身份证补领", "身份证丢了怎么办", False),
        ("居民身份证补领", "第一次办身份证", True),
        ("乡村建设规划许可证核发", "盖房子要办什么", False),
    ],
)
def test_a_variant_is_demoted_only_when_the_query_shows_no_sign_of_it(
    title, query, demoted
):
    assert unasked(title, query) is demoted


def guide(i: int, name: str) -> ServiceGuide:
    return ServiceGuide(
        id=f"g{i}",
        name=name,
        department="出入境管理部门",
        eligibility="",
        required_materials=(),
        sources=(Source(f"https://example.gov.cn/{i}"),),
    )


def test_the_application_outranks_its_progress_query(tokenizer):
    names = ["往来台湾通行证签注进度查询", "往来台湾通行证签注"]
    docs = [guide_document(guide(i, n), TextPolicy()) for i, n in enumerate(names)]
    config = ScoreConfig(dense_floor=0.0, variant_penalty=0.2)
    index = KbIndex.build(
        docs,
        HashingEncoder(),
        tokenizer,
        source_hash="t",
        text_policy=TextPolicy(),
        score_config=config,
        thresholds=Thresholds(),
    )
    searcher = Searcher(index, HashingEncoder())
    unpenalised = Searcher(
        index, HashingEncoder(), dataclasses.replace(config, variant_penalty=0.0)
    )
    query = "往来台湾通行证签注要带什么"

    scores = {hit.doc_id: hit.score for hit in searcher.search(query).hits}
    before = {hit.doc_id: hit.score for hit in unpenalised.search(query).hits}

    assert scores["guide-g0"] == pytest.approx(before["guide-g0"] - 0.2, abs=1e-3)
    assert scores["guide-g1"] == before["guide-g1"]
    assert searcher.search(query).hits[0].doc_id == "guide-g1"
    asked = searcher.search("往来台湾通行证签注进度查询")
    assert asked.hits[0].doc_id == "guide-g0"
    assert baseline(searcher, "dense").score_config.variant_penalty == 0.0
