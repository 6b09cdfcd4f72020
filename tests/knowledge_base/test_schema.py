from __future__ import annotations

import copy
from typing import Any

import pytest

from knowledge_base.errors import InvalidDataError
from knowledge_base.schema import check_unique, faq_from_mapping, guide_from_mapping

GUIDE: dict[str, Any] = {
    "id": "test-guide",
    "name": "测试事项",
    "audience": "personal",
    "department": "测试部门",
    "eligibility": "测试条件",
    "required_materials": ["材料一"],
    "sources": [{"url": "https://example.gov.cn/a", "title": "页面"}],
    "last_checked": "2026-12-03",
    "sample": True,
}


def guide(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(GUIDE)
    raw.update(changes)
    return {key: value for key, value in raw.items() if value is not ...}


def test_guide_with_required_fields_only_parses_with_defaults():
    parsed = guide_from_mapping(guide(), origin="t.yml")

    assert parsed.id == "test-guide"
    assert parsed.required_materials == ("材料一",)
    assert parsed.legal_days is None and parsed.online.available is None


def test_guide_dates_from_yaml_become_iso_text():
    import datetime as dt

    parsed = guide_from_mapping(
        guide(last_checked=dt.date(2026, 12, 3)), origin="t.yml"
    )

    assert parsed.last_checked == "2026-12-03"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ...}, "missing field(s): name"),
        ({"colour": "red"}, "unknown field(s): colour"),
        ({"id": "Bad_Id"}, "id must be lowercase"),
        ({"audience": "everyone"}, "field 'audience'"),
        ({"name": "  "}, "field 'name'"),
        ({"name": ["a"]}, "field 'name'"),
        ({"legal_days": -1}, "field 'legal_days'"),
        ({"legal_days": True}, "field 'legal_days'"),
        ({"sample": "yes"}, "field 'sample'"),
        ({"last_checked": "03/12/2026"}, "field 'last_checked'"),
        ({"required_materials": "身份证"}, "field 'required_materials'"),
        ({"required_materials": []}, "materials_note"),
        ({"sources": []}, "field 'sources'"),
        ({"sources": [{"url": "ftp://x"}]}, "http(s)"),
        ({"sources": [{"url": "https://x", "page": 1}]}, "field 'sources'"),
        ({"online": {"available": "maybe"}}, "field 'online'"),
        ({"online": {"site": "x"}}, "field 'online'"),
    ],
)
def test_guide_schema_errors_name_file_entry_and_field(changes, message):
    with pytest.raises(InvalidDataError) as caught:
        guide_from_mapping(guide(**changes), origin="topic.yml")

    assert "topic.yml" in str(caught.value)
    assert message in str(caught.value)


def test_guide_that_is_not_a_mapping_is_rejected():
    with pytest.raises(
        InvalidDataError, match="topic.yml: each guide must be a mapping"
    ):
        guide_from_mapping(["not", "a", "guide"], origin="topic.yml")


def test_empty_materials_are_allowed_with_a_note():
    parsed = guide_from_mapping(
        guide(required_materials=[], materials_note="以窗口告知为准"), origin="t.yml"
    )

    assert parsed.required_materials == ()


def test_online_block_parses():
    parsed = guide_from_mapping(
        guide(online={"available": False, "url": None, "note": "到窗口"}),
        origin="t.yml",
    )

    assert parsed.online.available is False
    assert parsed.online.note == "到窗口"


def test_faq_requires_id_question_and_answer():
    with pytest.raises(InvalidDataError, match=r"faq.jsonl:3: entry 'f1': missing"):
        faq_from_mapping({"id": "f1", "question": "问"}, origin="faq.jsonl:3")


def test_faq_accepts_numbers_as_text_and_optional_fields():
    entry = faq_from_mapping({"id": 7, "question": "问", "answer": "答"}, origin="x")

    assert entry.id == "7" and entry.department is None


def test_faq_must_be_an_object():
    with pytest.raises(InvalidDataError, match="expected a JSON object"):
        faq_from_mapping(["id"], origin="faq.jsonl:1")


def test_duplicate_ids_name_both_places():
    with pytest.raises(
        InvalidDataError, match=r"b.yml: duplicate id 'x' \(first in a.yml\)"
    ):
        check_unique([("x", "a.yml"), ("y", "a.yml"), ("x", "b.yml")])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "申请人应当年满十八周岁， 由本人到窗口办理",
            "申请人应当年满十八周岁，由本人到窗口办理",
        ),
        ("携带 居民户口簿", "携带居民户口簿"),
        ("网址 https://a.gov.cn 查询", "网址 https://a.gov.cn 查询"),
    ],
)
def test_folded_yaml_spaces_beside_chinese_are_removed(raw, expected):
    from knowledge_base.schema import _text

    assert _text(raw) == expected
