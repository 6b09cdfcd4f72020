from __future__ import annotations

import json
import random

import numpy as np
import pytest

from knowledge_base.calibration import (
    UTILITY,
    _Table,
    _utilities,
    choose_thresholds,
    expected_utility,
    load_calibration,
    measure_floor,
    save_calibration,
)
from knowledge_base.documents import TextPolicy, faq_document
from knowledge_base.errors import CalibrationError
from knowledge_base.evaluate import EvalQuery, QueryOutcome
from knowledge_base.index import KbIndex
from knowledge_base.schema import FaqEntry
from knowledge_base.scoring import ScoreConfig, Thresholds, decide
from knowledge_base.search import Searcher, SearchHit, SearchResult


def outcome(scores: list[float], gold: str | None, rank: int | None) -> QueryOutcome:
    hits = tuple(
        SearchHit(f"d{i}", "faq", "t", "a", None, None, score)
        for i, score in enumerate(scores)
    )
    return QueryOutcome(EvalQuery("q", gold), SearchResult("answer", hits), rank)


def oracle_utility(o: QueryOutcome, thresholds: Thresholds) -> float:
    decision = decide([h.score for h in o.result.hits], thresholds)
    if o.query.gold is None:
        key = {"answer": "answer_unanswerable", "clarify": "clarify_unanswerable"}
        return UTILITY[key.get(decision, "refused_unanswerable")]
    if decision == "answer":
        return UTILITY["right_answer" if o.gold_rank == 1 else "wrong_answer"]
    if decision == "clarify":
        useful = o.gold_rank is not None and o.gold_rank <= 3
        return UTILITY["useful_clarify" if useful else "useless_clarify"]
    return UTILITY["refused_answerable"]


def random_outcomes(seed: int, n: int = 60) -> list[QueryOutcome]:
    rng = random.Random(seed)
    outcomes = []
    for _ in range(n):
        top = round(rng.random(), 2)
        scores = [top, round(top * rng.random(), 2)]
        gold = None if rng.random() < 0.3 else "g"
        rank = None if gold is None else rng.choice([1, 1, 2, 3, 5, None])
        outcomes.append(outcome(scores, gold, rank))
    return outcomes


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_utilities_agree_with_decide(seed):
    outcomes = random_outcomes(seed)
    rng = random.Random(seed)
    for _ in range(20):
        answer = round(rng.random(), 2)
        thresholds = Thresholds(
            answer, round(answer * rng.random(), 2), rng.choice([0, 0.05])
        )

        got = _utilities(_Table.of(outcomes), thresholds)

        np.testing.assert_allclose(
            got, [oracle_utility(o, thresholds) for o in outcomes]
        )


def test_thresholds_separate_answerable_from_unanswerable_scores():
    outcomes = [outcome([0.9, 0.3], "g", 1) for _ in range(10)]
    outcomes += [outcome([0.5, 0.45], None, None) for _ in range(10)]

    thresholds, utility = choose_thresholds(outcomes)

    assert 0.5 < thresholds.answer <= 0.9
    assert thresholds.clarify > 0.5
    assert utility == pytest.approx(1.0)
    assert expected_utility(outcomes, thresholds) == pytest.approx(1.0)


def test_refusals_weigh_as_their_traffic_share_not_their_count():
    from knowledge_base.calibration import UNANSWERABLE_SHARE

    outcomes = [outcome([0.9, 0.0], "g", 1)] * 9 + [outcome([0.9, 0.0], None, None)]

    value = expected_utility(outcomes, Thresholds(0.5, 0.5))

    # answered right (+1) for answerable, answered (-1) for unanswerable
    assert value == pytest.approx((1 - UNANSWERABLE_SHARE) - UNANSWERABLE_SHARE)


def test_calibrating_nothing_is_an_error():
    with pytest.raises(CalibrationError):
        choose_thresholds([])


def test_calibration_file_keeps_other_models(tmp_path):
    path = tmp_path / "calibration.json"
    save_calibration(
        path, "m1", ScoreConfig(), Thresholds(0.7, 0.5, 0.01), {"queries": 3}
    )
    save_calibration(path, "m2", ScoreConfig(dense_floor=0.1), Thresholds(), {})

    config, thresholds = load_calibration(path, "m1")

    assert thresholds == Thresholds(0.7, 0.5, 0.01) and config == ScoreConfig()
    assert load_calibration(path, "m2")[0].dense_floor == 0.1
    assert load_calibration(path, "m3") is None
    assert load_calibration(tmp_path / "absent.json", "m1") is None
    assert json.loads(path.read_text())["models"]["m1"]["measured"] == {"queries": 3}


@pytest.mark.parametrize(
    "content", ["{not json", '{"models": []}', '{"models": {"m1": {}}}']
)
def test_a_malformed_calibration_file_is_an_error(tmp_path, content):
    path = tmp_path / "calibration.json"
    path.write_text(content)

    with pytest.raises(CalibrationError, match="not a calibration file"):
        load_calibration(path, "m1")


def test_floor_is_the_median_cosine_of_queries_with_documents(encoder, tokenizer):
    questions = [
        "居住证怎么办理",
        "护照过期了怎么换",
        "社保卡丢了怎么补",
        "公积金怎么提取",
    ]
    policy = TextPolicy(faq_embed_chars=0)
    docs = [
        faq_document(FaqEntry(f"f{i}", q, "答"), policy)
        for i, q in enumerate(questions)
    ]
    index = KbIndex.build(
        docs,
        encoder,
        tokenizer,
        source_hash="x",
        text_policy=policy,
        score_config=ScoreConfig(),
        thresholds=Thresholds(),
    )
    queries = [EvalQuery(q, f"f{i}") for i, q in enumerate(questions)]

    floor = measure_floor(Searcher(index, encoder), queries)

    vectors = encoder.encode_queries(questions)
    cosines = vectors @ vectors.T
    assert floor == pytest.approx(np.median(np.median(cosines, axis=1)), abs=1e-4)
    with pytest.raises(CalibrationError):
        measure_floor(Searcher(index, encoder), [])
