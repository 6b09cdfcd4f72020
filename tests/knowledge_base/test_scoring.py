from __future__ import annotations

import numpy as np
import pytest

from knowledge_base.scoring import ScoreConfig, Thresholds, decide, from_mapping, fuse


def oracle(cosines, keyword, boosted, config):
    scores = []
    for row, (cosine, kw) in enumerate(zip(cosines, keyword, strict=True)):
        dense = (cosine - config.dense_floor) / (
            config.dense_ceiling - config.dense_floor
        )
        dense = min(max(dense, 0.0), 1.0)
        total = config.dense_weight + config.keyword_weight
        score = (config.dense_weight * dense + config.keyword_weight * kw) / total
        if row in boosted:
            score += config.identifier_boost
        scores.append(min(max(score, 0.0), 1.0))
    return scores


@pytest.mark.parametrize("seed", range(20))
def test_fused_scores_match_the_formula_and_stay_in_unit_range(seed):
    rng = np.random.default_rng(seed)
    cosines = rng.uniform(-1, 1, 50)
    keyword = rng.uniform(0, 1, 50)
    boosted = sorted(rng.choice(50, size=3, replace=False).tolist())
    config = ScoreConfig(
        dense_weight=rng.uniform(0.1, 1),
        keyword_weight=rng.uniform(0, 1),
        identifier_boost=rng.uniform(0, 0.5),
        dense_floor=0.2,
        dense_ceiling=0.9,
    )

    scores = fuse(cosines, keyword, boosted, config)

    np.testing.assert_allclose(scores, oracle(cosines, keyword, boosted, config))
    assert ((scores >= 0) & (scores <= 1)).all()


# (top scores, expected) under answer=0.6, clarify=0.4, margin=0.05
DECISIONS = [
    ([0.9, 0.5], "answer"),
    ([0.6, 0.5], "answer"),
    ([0.6, 0.56], "clarify"),  # top two too close
    ([0.59, 0.1], "clarify"),  # between clarify and answer
    ([0.4, 0.0], "clarify"),
    ([0.39, 0.0], "no_answer"),
    ([0.3, 0.29], "no_answer"),
    ([0.9], "answer"),
    ([], "no_answer"),
]


@pytest.mark.parametrize(("scores", "expected"), DECISIONS)
def test_outcome_follows_thresholds_and_margin(scores, expected):
    assert decide(scores, Thresholds(answer=0.6, clarify=0.4, margin=0.05)) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dense_weight": -0.1},
        {"dense_weight": 0.0, "keyword_weight": 0.0},
        {"dense_floor": 0.9, "dense_ceiling": 0.9},
    ],
)
def test_bad_score_config_is_refused(kwargs):
    with pytest.raises(ValueError):
        ScoreConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs", [{"answer": 0.3, "clarify": 0.5}, {"answer": 1.2}, {"margin": -0.1}]
)
def test_bad_thresholds_are_refused(kwargs):
    with pytest.raises(ValueError):
        Thresholds(**kwargs)


def test_records_read_from_mappings_ignore_unknown_keys():
    config = from_mapping(ScoreConfig, {"dense_weight": "0.8", "note": "x"})

    assert config.dense_weight == 0.8
