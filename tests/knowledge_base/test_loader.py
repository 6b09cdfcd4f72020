from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from knowledge_base.errors import InvalidDataError
from knowledge_base.loader import load_faq, load_guide_catalogue, load_guides
from tests.knowledge_base.test_schema import GUIDE


def write_guides(folder: Path, name: str, guides: list[dict]) -> Path:
    path = folder / name
    path.write_text(
        yaml.safe_dump({"topic": "t", "guides": guides}, allow_unicode=True)
    )
    return path


def write_lines(path: Path, rows: list[object]) -> Path:
    lines = [
        row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)
        for row in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


CATALOGUE_ROW = {
    "task_code": "11440000006939756B2440101007000",
    "item_name": "测试许可",
    "department": "测试厅",
    "accept_conditions": "符合条件",
    "materials": ["申请书", " ", "身份证明"],
    "location": "办理地点：某市某路1号",
    "time_field_a": "20(工作日)",
    "time_field_b": "5(工作日)",
    "fee_or_short_name_raw": "无",
    "platform": "广东政务服务网",
    "source_url": "https://www.gdzwfw.gov.cn/x",
    "consult_phone": "020-12345678",
    "themes": ["其他"],
}


def test_guides_load_from_every_yaml_file(tmp_path):
    write_guides(tmp_path, "a.yml", [GUIDE])
    write_guides(tmp_path, "b.yaml", [{**GUIDE, "id": "other"}])

    guides = load_guides(tmp_path)

    assert [g.id for g in guides] == ["test-guide", "other"]


def test_duplicate_guide_ids_across_files_are_rejected(tmp_path):
    write_guides(tmp_path, "a.yml", [GUIDE])
    write_guides(tmp_path, "b.yml", [GUIDE])

    with pytest.raises(InvalidDataError, match=r"b.yml: duplicate id 'test-guide'"):
        load_guides(tmp_path)


def test_missing_guide_folder_is_an_error(tmp_path):
    with pytest.raises(InvalidDataError, match="guide folder not found"):
        load_guides(tmp_path / "absent")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("topic: [unclosed", "not valid YAML"),
        ("guides: []", "expected exactly the keys topic and guides"),
        ("topic: t\nguides: {}", "guides must be a list"),
    ],
)
def test_malformed_guide_files_name_the_file(tmp_path, content, message):
    (tmp_path / "bad.yml").write_text(content, encoding="utf-8")

    with pytest.raises(InvalidDataError, match=f"bad.yml: {message}"):
        load_guides(tmp_path)


def test_guide_file_that_is_not_utf8_is_rejected(tmp_path):
    (tmp_path / "bad.yml").write_bytes("topic: 测试".encode("gbk"))

    with pytest.raises(InvalidDataError, match="bad.yml: not UTF-8"):
        load_guides(tmp_path)


def test_faq_loads_and_skips_blank_lines(tmp_path):
    path = write_lines(
        tmp_path / "faq.jsonl",
        [
            {"id": "f1", "question": "问一", "answer": "答一"},
            "",
            {"id": "f2", "question": "问二", "answer": "答二", "department": "部门"},
        ],
    )

    entries = load_faq(path)

    assert [e.id for e in entries] == ["f1", "f2"]
    assert entries[1].department == "部门"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [{"id": "f1", "question": "q", "answer": "a"}, "{not json"],
            r"faq.jsonl:2: not a JSON object",
        ),
        (
            [{"id": "f1", "question": "q"}],
            r"faq.jsonl:1: entry 'f1': missing field\(s\): answer",
        ),
        (
            [{"id": "f1", "question": "q", "answer": "a", "extra": 1}],
            r"faq.jsonl:1: .*unknown field",
        ),
        (
            [
                {"id": "f1", "question": "q", "answer": "a"},
                {"id": "f1", "question": "q", "answer": "b"},
            ],
            r"faq.jsonl:2: duplicate id 'f1' \(first in faq.jsonl:1\)",
        ),
    ],
)
def test_faq_errors_name_the_line(tmp_path, rows, message):
    path = write_lines(tmp_path / "faq.jsonl", rows)

    with pytest.raises(InvalidDataError, match=message):
        load_faq(path)


def test_unreadable_faq_file_is_an_error(tmp_path):
    with pytest.raises(InvalidDataError, match="cannot read"):
        load_faq(tmp_path / "absent.jsonl")


def test_catalogue_maps_fields_onto_the_guide_schema(tmp_path):
    path = write_lines(tmp_path / "cat.jsonl", [CATALOGUE_ROW])

    (guide,) = load_guide_catalogue(path)

    assert guide.id == CATALOGUE_ROW["task_code"]
    assert guide.required_materials == ("申请书", "身份证明")
    assert (guide.legal_days, guide.promised_days, guide.time_note) == (20, 5, None)
    assert guide.locations == "某市某路1号"
    assert guide.fee == "无"
    assert guide.online.available is True and guide.online.note == "广东政务服务网"
    assert guide.hotline == "020-12345678"
    assert guide.sources[0].url == CATALOGUE_ROW["source_url"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"time_field_a": "周一至周五 9:00-12:00", "time_field_b": "无"},
            (None, None, "周一至周五 9:00-12:00"),
        ),
        ({"time_field_a": "无", "time_field_b": "无"}, (None, None, None)),
    ],
)
def test_catalogue_office_hours_stay_text(tmp_path, changes, expected):
    path = write_lines(tmp_path / "cat.jsonl", [{**CATALOGUE_ROW, **changes}])

    (guide,) = load_guide_catalogue(path)

    assert (guide.legal_days, guide.promised_days, guide.time_note) == expected


@pytest.mark.parametrize(
    ("raw", "fee"),
    [
        ("无", "无"),
        ("工本费20元", "工本费20元"),
        ("台站新申请", None),
        ("", None),
        (None, None),
    ],
)
def test_catalogue_fee_column_keeps_fees_and_drops_short_names(tmp_path, raw, fee):
    path = write_lines(
        tmp_path / "cat.jsonl", [{**CATALOGUE_ROW, "fee_or_short_name_raw": raw}]
    )

    (guide,) = load_guide_catalogue(path)

    assert guide.fee == fee


def test_catalogue_without_platform_or_url_has_no_online_or_source(tmp_path):
    row = {**CATALOGUE_ROW, "platform": "无", "source_url": None}
    (guide,) = load_guide_catalogue(write_lines(tmp_path / "cat.jsonl", [row]))

    assert guide.online.available is None and guide.sources == ()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("[1, 2]", r"cat.jsonl:1: expected a JSON object"),
        (
            {k: v for k, v in CATALOGUE_ROW.items() if k != "location"},
            r"cat.jsonl:1: missing field\(s\): location",
        ),
        ({**CATALOGUE_ROW, "item_name": "无"}, r"cat.jsonl:1: task_code and item_name"),
        (
            {**CATALOGUE_ROW, "materials": "申请书"},
            r"cat.jsonl:1: .*materials must be a list",
        ),
    ],
)
def test_catalogue_errors_name_the_line(tmp_path, row, message):
    path = write_lines(tmp_path / "cat.jsonl", [row])

    with pytest.raises(InvalidDataError, match=message):
        load_guide_catalogue(path)


def test_catalogue_duplicate_codes_are_rejected(tmp_path):
    path = write_lines(tmp_path / "cat.jsonl", [CATALOGUE_ROW, CATALOGUE_ROW])

    with pytest.raises(InvalidDataError, match="cat.jsonl:2: duplicate id"):
        load_guide_catalogue(path)


def test_shipped_sample_guides_pass_the_schema():
    from bot.settings import PROJECT_ROOT

    guides = load_guides(PROJECT_ROOT / "knowledge_base" / "data" / "guides")

    assert guides, "the repository ships sample guides"
    assert all(g.sample for g in guides)
