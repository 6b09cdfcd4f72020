from __future__ import annotations

import json

import pytest

from knowledge_base import cli, pipeline
from knowledge_base.errors import ModelMissingError
from tests.knowledge_base.conftest import HashingEncoder

FAQ_ROWS = [
    {"id": "faq-1", "question": "居住证怎么办理", "answer": "到社区登记后申领。"},
    {
        "id": "faq-2",
        "question": "护照过期了怎么换",
        "answer": "向出入境管理机构申请换发。",
    },
]
QUERIES = [
    {"query": "护照过期了怎么换", "gold": "faq-2", "kind": "colloquial"},
    {"query": "今天天气怎么样", "gold": None, "kind": "off_topic"},
]


def write_lines(path, rows):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return path


@pytest.fixture
def env(layout, monkeypatch, tmp_path):
    monkeypatch.setenv("ZW_BUILD_DIR", str(layout.index_dir.parent))
    monkeypatch.setenv("ZW_KB_DATA_DIR", str(layout.data_dir))
    model = HashingEncoder()
    monkeypatch.setattr(pipeline, "load_encoder", lambda path: model)
    monkeypatch.setattr(cli, "load_encoder", lambda path: model)
    return layout


def test_build_then_search_prints_outcome_and_hits(env, tmp_path, capsys):
    faq = write_lines(tmp_path / "faq.jsonl", FAQ_ROWS)

    assert cli.main(["build", "--faq", str(faq)]) == 0
    assert "index built" in capsys.readouterr().out
    assert cli.main(["build", "--faq", str(faq)]) == 0
    assert "index up to date" in capsys.readouterr().out

    assert cli.main(["search", "护照过期了怎么换", "--top-k", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("outcome: ") and "faq-2" in out


def test_eval_prints_metrics_as_text_or_json(env, tmp_path, capsys):
    corpus = write_lines(tmp_path / "faq.jsonl", FAQ_ROWS)
    queries = write_lines(tmp_path / "q.jsonl", QUERIES)
    args = ["eval", "--corpus", str(corpus), "--queries", str(queries)]

    assert cli.main([*args, "--failures", "5"]) == 0
    assert "hit@1                  1.000" in capsys.readouterr().out

    assert (
        cli.main([*args, "--json", "--dense-weight", "1", "--keyword-weight", "0"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["answerable"] == 1 and report["unanswerable"] == 1


def test_calibrate_saves_thresholds_for_the_model(env, tmp_path, capsys):
    corpus = write_lines(tmp_path / "faq.jsonl", FAQ_ROWS)
    queries = write_lines(tmp_path / "q.jsonl", QUERIES)

    assert (
        cli.main(["calibrate", "--corpus", str(corpus), "--queries", str(queries)]) == 0
    )

    saved = json.loads(env.calibration_file.read_text())
    assert set(saved["models"]) == {HashingEncoder().model_id}
    assert "thresholds:" in capsys.readouterr().out


def test_eval_on_a_guide_catalogue_maps_task_codes(env, tmp_path, capsys):
    from tests.knowledge_base.test_loader import CATALOGUE_ROW

    corpus = write_lines(tmp_path / "cat.jsonl", [CATALOGUE_ROW])
    query = {
        "query": "测试许可要什么材料",
        "gold": CATALOGUE_ROW["task_code"],
        "kind": "field",
    }
    queries = write_lines(tmp_path / "q.jsonl", [query])

    args = [
        "eval",
        "--format",
        "guides",
        "--corpus",
        str(corpus),
        "--queries",
        str(queries),
    ]
    assert cli.main(args) == 0

    assert "hit@1                  1.000" in capsys.readouterr().out


def test_package_errors_exit_2_with_code_and_message(env, monkeypatch, capsys):
    def missing(path):
        raise ModelMissingError("no embedding model; run `make setup`")

    monkeypatch.setattr(pipeline, "load_encoder", missing)

    assert cli.main(["build", "--force"]) == 2
    assert "error [kb_model_missing]: no embedding model" in capsys.readouterr().err
