"""BM25 against a brute-force oracle written straight from the formula."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from knowledge_base.bm25 import Bm25

VOCABULARY = [f"w{i}" for i in range(30)]


def oracle(docs: list[list[str]], query: list[str], k1: float, b: float) -> list[float]:
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    scores = []
    for doc in docs:
        score = 0.0
        for term in set(query):
            df = sum(1 for d in docs if term in d)
            if df == 0:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            tf = doc.count(term)
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(doc) / avgdl))
        scores.append(score)
    return scores


def random_corpus(rng: random.Random) -> list[list[str]]:
    return [
        rng.choices(VOCABULARY[: rng.randint(3, 30)], k=rng.randint(1, 25))
        for _ in range(rng.randint(1, 40))
    ]


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize(("k1", "b"), [(1.5, 0.75), (1.2, 0.0), (2.0, 1.0)])
def test_scores_match_the_brute_force_formula(seed, k1, b):
    rng = random.Random(seed)
    docs = random_corpus(rng)
    query = rng.choices(VOCABULARY, k=rng.randint(1, 6)) + ["unseen"]

    got = Bm25(docs, k1=k1, b=b).scores(query)

    np.testing.assert_allclose(got, oracle(docs, query, k1, b), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_scaled_scores_are_raw_over_query_weight_clipped_to_unit(seed):
    rng = random.Random(seed)
    docs = random_corpus(rng)
    query = rng.choices(VOCABULARY, k=4)
    bm25 = Bm25(docs)

    scaled = bm25.scaled_scores(query)

    expected = np.clip(
        np.array(oracle(docs, query, 1.5, 0.75)) / bm25.query_weight(query), 0, 1
    )
    np.testing.assert_allclose(scaled, expected)
    assert ((scaled >= 0) & (scaled <= 1)).all()


def test_unseen_terms_weigh_as_the_rarest_term():
    bm25 = Bm25([["a", "b"], ["a"]])

    assert bm25.query_weight(["a", "zzz"]) == pytest.approx(
        bm25.idf[0] + bm25.unseen_idf
    )
    assert bm25.unseen_idf > bm25.idf.max()


def test_query_with_no_known_terms_scores_zero():
    bm25 = Bm25([["a"], ["b"]])

    assert bm25.scores(["zzz"]).tolist() == [0.0, 0.0]
    assert bm25.scaled_scores([]).tolist() == [0.0, 0.0]


def test_empty_corpus_scores_nothing():
    bm25 = Bm25([])

    assert bm25.scores(["a"]).shape == (0,)


def test_a_saved_scorer_loads_with_the_same_scores(tmp_path):
    documents = [["社保", "卡", "补办"], ["医保", "报销"], ["社保", "转移", "社保"]]
    built = Bm25(documents)
    built.save(tmp_path / "bm25.npz")

    loaded = Bm25.load(tmp_path / "bm25.npz")

    for query in (["社保"], ["医保", "补办"], ["没见过"]):
        np.testing.assert_allclose(
            loaded.scaled_scores(query), built.scaled_scores(query)
        )
    assert loaded.vocabulary == built.vocabulary and loaded.doc_count == 3
