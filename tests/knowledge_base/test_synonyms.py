"""The synonym table: parsing, rewriting, and the shipped file."""

from __future__ import annotations

import pytest

from knowledge_base.errors import InvalidDataError
from knowledge_base.pipeline import Layout
from knowledge_base.synonyms import (
    SynonymTable,
    load_synonyms,
    parse_synonyms,
)
from tests.knowledge_base.conftest import DATA_DIR

TABLE = SynonymTable(
    [
        ("良民证", "无犯罪记录证明"),
        ("港澳通行证", "往来港澳通行证"),
        ("港澳通行证签注", "往来港澳通行证签注"),
        ("房本", "不动产权证书"),
    ]
)


def test_an_alias_is_rewritten_to_its_term():
    expansion = TABLE.expand("出国要开良民证，手机上能办吗")
    assert expansion.text == "出国要开无犯罪记录证明，手机上能办吗"
    assert expansion.added_terms == ("无犯罪记录证明",)
    assert [(r.alias, r.term) for r in expansion.rewrites] == [
        ("良民证", "无犯罪记录证明")
    ]


def test_the_longest_alias_wins_and_overlaps_are_not_rewritten_twice():
    expansion = TABLE.expand("港澳通行证签注和房本")
    assert expansion.text == "往来港澳通行证签注和不动产权证书"
    assert [r.alias for r in expansion.rewrites] == ["港澳通行证签注", "房本"]


def test_every_occurrence_is_rewritten_and_a_term_is_added_once():
    expansion = TABLE.expand("房本丢了，房本补办")
    assert expansion.text == "不动产权证书丢了，不动产权证书补办"
    assert expansion.added_terms == ("不动产权证书",)


def test_a_query_without_aliases_is_unchanged():
    expansion = TABLE.expand("居住证怎么办")
    assert expansion.text == "居住证怎么办" and not expansion.rewrites


def test_aliases_the_corpus_itself_uses_are_dropped():
    kept = TABLE.unspoken_in(["房本丢了怎么补", "居住证办理"])
    assert "房本" not in kept.terms and "良民证" in kept.terms


@pytest.mark.parametrize(
    "raw, message",
    [
        ([], "entries"),
        ({"entries": [{"term": "居住证"}]}, "aliases"),
        ({"entries": [{"term": "", "aliases": ["暂住证"]}]}, "term"),
        ({"entries": [{"term": "居住证", "aliases": ["证"]}]}, "too short"),
        ({"entries": [{"term": "居住证", "aliases": ["电子居住证"]}]}, "contains"),
        ({"entries": [{"term": "居住证", "aliases": [12]}]}, "text"),
        (
            {
                "entries": [
                    {"term": "居住证", "aliases": ["暂住证"]},
                    {"term": "临时身份证", "aliases": ["暂住证"]},
                ]
            },
            "both",
        ),
    ],
)
def test_a_broken_table_fails_loudly(raw, message):
    with pytest.raises(InvalidDataError, match=message):
        parse_synonyms(raw, "synonyms.yml")


def test_invalid_yaml_names_the_file(tmp_path):
    path = tmp_path / "synonyms.yml"
    path.write_text("entries: [", encoding="utf-8")
    with pytest.raises(InvalidDataError, match="synonyms.yml"):
        load_synonyms(path)


def test_an_absent_file_is_an_empty_table(tmp_path):
    assert len(load_synonyms(tmp_path / "none.yml")) == 0


def test_the_shipped_table_loads_and_knows_the_classic_old_names():
    table = Layout(DATA_DIR, DATA_DIR, DATA_DIR, DATA_DIR).synonyms()
    assert len(table) > 200
    for alias, term in [("良民证", "无犯罪记录证明"), ("暂住证", "居住证")]:
        assert table.terms[alias] == term
