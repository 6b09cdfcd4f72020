from __future__ import annotations

import dataclasses

from knowledge_base.render import CUT_MARK, LABELS, MAX_FIELD_CHARS, render_guide
from knowledge_base.schema import OnlineService, ServiceGuide, Source

GUIDE = ServiceGuide(
    id="g",
    name="居民身份证首次申领",
    department="户籍所在地公安派出所",
    eligibility="年满十六周岁的公民",
    required_materials=("居民户口簿", "近期照片"),
    sources=(Source("https://example.gov.cn/id"),),
    legal_days=60,
    fee="工本费20元",
    online=OnlineService(available=False, note="需本人到场采集指纹"),
)


def test_rendered_guide_starts_with_the_name_and_numbers_materials():
    lines = render_guide(GUIDE).splitlines()

    assert lines[0] == "【居民身份证首次申领】"
    assert f"{LABELS['required_materials']}：" in lines
    assert "1. 居民户口簿" in lines and "2. 近期照片" in lines
    assert f"{LABELS['legal_days']}：60个工作日" in lines
    assert f"{LABELS['online']}：需到现场办理，需本人到场采集指纹" in lines
    assert lines[-1] == f"{LABELS['source']}：https://example.gov.cn/id"


def test_source_line_names_the_page_before_its_address():
    guide = dataclasses.replace(
        GUIDE, sources=(Source("https://example.gov.cn/id", "某县身份证办事指南"),)
    )

    last = render_guide(guide).splitlines()[-1]

    assert last == f"{LABELS['source']}：某县身份证办事指南 https://example.gov.cn/id"


def test_unknown_facts_are_left_out_not_shown_blank():
    text = render_guide(GUIDE)

    assert LABELS["promised_days"] not in text
    assert LABELS["locations"] not in text
    assert "None" not in text


def test_long_text_is_cut_with_a_pointer_to_the_source():
    guide = dataclasses.replace(GUIDE, eligibility="甲" * (MAX_FIELD_CHARS + 50))

    line = next(
        x
        for x in render_guide(guide).splitlines()
        if x.startswith(LABELS["eligibility"])
    )

    assert line.endswith(CUT_MARK)
    assert line.count("甲") == MAX_FIELD_CHARS


def test_online_unknown_with_a_platform_name_shows_the_name_only():
    guide = dataclasses.replace(GUIDE, online=OnlineService(note="广东政务服务网"))

    assert f"{LABELS['online']}：广东政务服务网" in render_guide(guide).splitlines()
