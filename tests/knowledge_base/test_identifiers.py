from __future__ import annotations

import pytest

from knowledge_base.identifiers import IdentifierTable, extract_identifiers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("依据国办发〔2020〕42号文件", {"国办发〔2020〕42号"}),
        ("依据国办发[2020]42号文件", {"国办发〔2020〕42号"}),
        ("京政发（2019） 7 号", {"京政发〔2019〕7号"}),
        ("可拨打12345热线或12333咨询", {"12345", "12333"}),
        ("咨询电话：020-83134173", {"02083134173"}),
        (
            "事项编码11440000006939756b2440101007000",
            {"11440000006939756B2440101007000"},
        ),
        ("补贴12000元，2012年起", set()),
        ("信用代码91110000802100433B", set()),
    ],
)
def test_identifiers_are_found_in_normal_form(text, expected):
    assert extract_identifiers(text) == expected


def test_table_matches_rare_identifiers_and_ignores_common_ones():
    docs = [["12329", "国办发〔2020〕42号"], ["12345"], ["12345"], ["12345"]]

    table = IdentifierTable(docs, max_docs=2)

    assert table.matching_rows("国办发[2020]42号说的是什么") == [0]
    assert table.matching_rows("打12329") == [0]
    assert table.matching_rows("打12345") == []
    assert len(table) == 2
