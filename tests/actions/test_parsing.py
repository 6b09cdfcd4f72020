"""Tables of Chinese answers and what the dialogue reads from them."""

from __future__ import annotations

from datetime import date

import pytest

from actions import parsing
from bot.id_numbers import check_character

# A brute-force oracle for GB 11643-1999: the check character makes
# sum(a_i * 2^(17-i)) ≡ 1 (mod 11), with X standing for 10.


def oracle_check_digit(first_17: str) -> str:
    for candidate in "0123456789X":
        value = 10 if candidate == "X" else int(candidate)
        digits = [int(ch) for ch in first_17] + [value]
        if sum(d * pow(2, 17 - i, 11) for i, d in enumerate(digits)) % 11 == 1:
            return candidate
    raise AssertionError("no check digit")


@pytest.mark.parametrize(
    ("text", "square_metres", "approximate"),
    [
        ("120", 120.0, False),
        ("120㎡", 120.0, False),
        ("120平米", 120.0, False),
        ("80 平方米", 80.0, False),
        ("一百二十平", 120.0, False),
        ("一百二", 120.0, False),
        ("两百平米", 200.0, False),
        ("三百多平", 300.0, True),
        ("一百来平", 100.0, True),
        ("大概150平", 150.0, True),
        ("五十平左右", 50.0, True),
        ("100到150平", 150.0, True),
        ("1,200平方米", 1200.0, False),
        ("两千零五平", 2005.0, False),
        ("一万二", 12000.0, False),
        ("三十五点五平", 35.5, False),
        ("35.5平米", 35.5, False),
        ("十五平", 15.0, False),
        ("3百平", 300.0, False),
        ("1.5千平米", 1500.0, False),
        ("2万平", 20000.0, False),
    ],
)
def test_parse_area_reads_numbers_written_any_way(text, square_metres, approximate):
    assert parsing.parse_area(text) == parsing.AreaAnswer(square_metres, approximate)


@pytest.mark.parametrize(
    "text",
    [
        "很大",
        "不知道",
        "",
        "0",
        "0平",
        "五六十平",
        "999999平",
        "几百平",
        "-50平",
        "负50平",
        "负五十平",
        "1e5",
        "0.5平",
    ],
)
def test_parse_area_refuses_what_is_not_an_area(text):
    assert parsing.parse_area(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("有", True),
        ("有的", True),
        ("是的", True),
        ("对", True),
        ("卖", True),
        ("要", True),
        ("嗯嗯", True),
        ("已经办了", True),
        ("营业执照拿到了", True),
        ("同意", True),
        ("确认提交", True),
        ("先不提交", False),
        ("没有", False),
        ("没", False),
        ("不是", False),
        ("不卖", False),
        ("不要", False),
        ("还没办", False),
        # Found by a tester: a closing 呢 after a "not yet" is no question.
        ("还没办呢", False),
        ("没有呢", False),
        ("还没呢！", False),
        ("营业执照呢", None),
        ("那烟草证呢？", None),
        ("有呢", None),
        ("不同意", False),
        ("无", False),
        ("有没有", None),
        ("要不要挂", None),
        ("不知道", None),
        ("这是干嘛的", None),
        ("是吗？", None),
        ("为什么要卖烟", None),
        ("还没想好", None),
        ("随便", None),
        ("", None),
        ("食品经营许可证要多久", None),
        ("烟草证要多久能办下来", None),
        ("那我还要办啥", None),
        ("我说错了，面积应该是两百平", None),
        ("不对，面积是200平", None),
    ],
)
def test_parse_yes_no(text, expected):
    assert parsing.parse_yes_no(text) is expected


OPTIONS = {"individual": ("个体工商户", "个体户", "个体"), "company": ("公司", "企业")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("个体户", "individual"),
        ("就个体工商户吧", "individual"),
        ("注册成公司", "company"),
        ("个体户，不是公司", "individual"),
        ("个体户或者公司都行", None),
        ("还没想", None),
    ],
)
def test_parse_choice_needs_exactly_one_option(text, expected):
    assert parsing.parse_choice(text, OPTIONS) == expected


@pytest.mark.parametrize(
    "first_17",
    [
        "99010119850312011",
        "99010119781102031",
        "11010519491231002",
        "44030419990101123",
    ],
)
def test_id_check_digit_matches_the_oracle(first_17):
    assert check_character(first_17) == oracle_check_digit(first_17)


def fictional(first_17: str) -> str:
    return first_17 + oracle_check_digit(first_17)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (fictional("99010119850312011"), None),
        (fictional("99010119491231001").lower(), None),
        (" 990101 19850312 011" + oracle_check_digit("99010119850312011"), None),
        ("99010119850312011", "length"),
        ("9901011985031201177", "length"),
        ("99010119850312A117", "characters"),
        (fictional("99010119851332011"), "birth_date"),
        (fictional("99010121500101011"), "birth_date"),
        ("990101198503120110", "check_digit"),
    ],
)
def test_check_id_number_names_the_problem(text, problem):
    assert parsing.check_id_number(text).problem == problem


def test_check_id_number_normalises_a_lower_case_x():
    number = fictional("99010119491231001")
    assert number.endswith("X")
    assert parsing.check_id_number(number.lower()).value == number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("查一下ZW20261203000001的进度", "ZW20261203000001"),
        ("zw20261203000001", "ZW20261203000001"),
        ("ZW2026120300000", None),
        ("ZW202612030000011", None),
        ("我的申请进度", None),
        ("ZW 2026 1203 0000 01", "ZW20261203000001"),
    ],
)
def test_find_application_no(text, expected):
    assert parsing.find_application_no(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("查询申请进度ZW123", True), ("zw 2026", True), ("我的申请进度", False)],
)
def test_mentions_application_no(text, expected):
    assert parsing.mentions_application_no(text) is expected


@pytest.mark.parametrize(
    ("text", "index"), [("第一个", 0), ("选2", 1), ("第三条", 2), ("就是这个", None)]
)
def test_parse_ordinal(text, index):
    assert parsing.parse_ordinal(text) == index


def test_masks_keep_only_the_ends():
    assert parsing.mask_id_number("990101198503120117") == "990***********0117"
    assert parsing.mask_phone("13000000001") == "130****0001"


# --- validators for the question kinds date, district, credit_code, phone ------

TODAY = date(2026, 12, 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026年3月1日", date(2026, 3, 1)),
        ("2026-03-01", date(2026, 3, 1)),
        ("2026/3/1", date(2026, 3, 1)),
        ("2026.3.1号", date(2026, 3, 1)),
        ("二〇二六年三月一日", date(2026, 3, 1)),
        ("3月1号", date(2026, 3, 1)),
        ("十二月二十五日开业", date(2026, 12, 25)),
        ("打算2027年1月10日开业", date(2027, 1, 10)),
    ],
)
def test_parse_date_reads_calendar_dates(text, expected):
    assert parsing.parse_date(text, today=TODAY) == expected


@pytest.mark.parametrize(
    "text",
    ["下周一", "明天", "下个月1号", "周五", "2026年2月30日", "13月1日", "还没定", ""],
)
def test_parse_date_refuses_relative_and_impossible_dates(text):
    assert parsing.parse_date(text, today=TODAY) is None


def test_a_date_without_a_year_takes_the_year_in_china_time():
    assert parsing.parse_date("3月1号").year == parsing.today_in_china().year


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("示范区", "示范区"),
        ("在示范区", "示范区"),
        ("店在东城区", "东城区"),
        ("不知道", None),
    ],
)
def test_parse_district_without_a_list_reads_a_district_name(text, expected):
    assert parsing.parse_district(text, {}) == expected


def test_parse_district_with_a_list_keeps_to_the_list():
    options = {"east": ("东区", "东城"), "west": ("西区", "西城")}
    assert parsing.parse_district("在东城那边", options) == "east"
    assert parsing.parse_district("南区", options) is None


_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def oracle_credit_check(first_17: str) -> str:
    """GB 32100-2015 by brute force: the 18th character makes
    sum(value_i * 3^i mod 31) + value_18 ≡ 0 (mod 31)."""
    total = sum(
        _CREDIT_CHARS.index(ch) * pow(3, i, 31) for i, ch in enumerate(first_17)
    )
    for candidate in _CREDIT_CHARS:
        if (total + _CREDIT_CHARS.index(candidate)) % 31 == 0:
            return candidate
    raise AssertionError("no check character")


# Fictional codes: area 990101 belongs to no place.
@pytest.mark.parametrize(
    "first_17", ["91990101MA0000001", "92990101000000001", "12990101HJKLMNPQR"]
)
def test_credit_code_check_character_matches_the_oracle(first_17):
    assert parsing.credit_code_check_character(first_17) == oracle_credit_check(
        first_17
    )


def test_check_credit_code_accepts_a_valid_code_written_loosely():
    code = "91990101MA0000001" + oracle_credit_check("91990101MA0000001")
    check = parsing.check_credit_code(" " + code.lower()[:9] + " " + code[9:])
    assert check.ok and check.value == code


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("91990101MA000000", "length"),
        ("91990101MA000000I1", "characters"),
        ("91990101MA00000O1X", "characters"),
    ],
)
def test_check_credit_code_names_the_problem(text, problem):
    assert parsing.check_credit_code(text).problem == problem


def test_check_credit_code_catches_a_changed_character():
    first = "91990101MA0000001"
    good = oracle_credit_check(first)
    wrong = next(ch for ch in _CREDIT_CHARS if ch != good)
    assert parsing.check_credit_code(first + wrong).problem == "check_digit"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13000000001", "13000000001"),
        ("130 0000 0001", "13000000001"),
        ("130-0000-0001", "13000000001"),
        ("+86 13000000001", "13000000001"),
        ("8613000000001", "13000000001"),
        ("12000000001", None),
        ("1300000000", None),
        ("010-12345678", None),
    ],
)
def test_parse_phone_reads_mainland_mobile_numbers(text, expected):
    assert parsing.parse_phone(text) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("有的", True), ("没有", False), ("不卖", False), ("要的", True),
        ("不要", False), ("对", True), ("是的", True), ("不是", False),
        ("没问题", True), ("没错", True), ("算了", None),
    ],
)  # fmt: skip
def test_parse_yes_no_reads_the_many_forms(text, value):
    assert parsing.parse_yes_no(text) is value


@pytest.mark.parametrize(
    ("text", "square_metres"),
    [
        ("三百平", 300.0),
        ("两百多平米", 200.0),
        ("120㎡", 120.0),
        ("1.5万平方米", 15000.0),
    ],
)
def test_parse_area_reads_the_issue_examples(text, square_metres):
    assert parsing.parse_area(text).square_metres == square_metres


@pytest.mark.parametrize(
    ("text", "square_metres"),
    [
        ("我想开一家200平的火锅店", 200.0),
        ("开个两百多平米的饭店", 200.0),
        ("店面3百平", 300.0),
        ("两层的米线店", None),
        ("开两家店", None),
    ],
)
def test_find_area_needs_a_unit_inside_a_sentence(text, square_metres):
    area = parsing.find_area(text)
    assert (area and area.square_metres) == square_metres


# --- full-width and other scripts' digits, the unit m2 (issue #8) ---------------


def _full_width(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("１３８ ００１３ ８０００", "138 0013 8000"),
        ("ＺＷ２０２６", "ZW2026"),
        ("٣٠٠平", "300平"),
        ("一百二十㎡，m²，①", "一百二十㎡,m²,①"),
    ],
)
def test_fold_width_makes_digits_and_letters_ascii(text, expected):
    assert parsing.fold_width(text) == expected


def test_check_id_number_reads_full_width_digits_and_stores_ascii():
    number = "11010519491231002X"

    check = parsing.check_id_number(_full_width(number))

    assert check == parsing.IdNumberCheck(number, None)


def test_check_id_number_refuses_a_full_width_number_with_a_bad_check_digit():
    check = parsing.check_id_number(_full_width("110105194912310021"))

    assert check == parsing.IdNumberCheck("110105194912310021", "check_digit")


def test_full_width_phone_credit_code_and_application_no_read_as_ascii():
    assert parsing.parse_phone("＋８６ １３８００１３８０００") == "13800138000"
    assert parsing.parse_phone("（１３８）００１３８０００") == "13800138000"
    code = "91350100M000100Y43"
    assert parsing.check_credit_code(_full_width(code)) == parsing.CodeCheck(code, None)
    assert parsing.find_application_no("编号ＺＷ２０２６１２０３０６２６４５") == (
        "ZW20261203062645"
    )
    assert parsing.parse_date("２０２６－０３－０１") == date(2026, 3, 1)


@pytest.mark.parametrize(
    ("text", "square_metres", "approximate"),
    [
        ("120m2", 120.0, False),
        ("1m2", 1.0, False),
        ("80M2", 80.0, False),
        ("80 m^2", 80.0, False),
        ("大约１２０ｍ２", 120.0, True),
        ("٣百平", 300.0, False),
    ],
)
def test_parse_area_reads_m2_as_a_unit(text, square_metres, approximate):
    assert parsing.parse_area(text) == parsing.AreaAnswer(square_metres, approximate)


def test_find_area_reads_m2_inside_a_sentence():
    assert parsing.find_area("开一家200m2的店") == parsing.AreaAnswer(200.0, False)


@pytest.mark.parametrize(
    ("name", "masked"), [("张晓明", "张*明"), ("李雷", "李*"), ("欧阳娜娜", "欧**娜")]
)
def test_mask_name_keeps_the_first_and_last_character(name, masked):
    assert parsing.mask_name(name) == masked


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("示范市示范区人民路18号3单元201室", "示范市示范区****"),
        ("广东省广州市天河区体育西路1号", "广东省广州市天河区****"),
        ("某市解放路1号", "某市****"),
        ("人民路18号", "****"),
    ],
)
def test_mask_address_shows_the_district_and_hides_the_street(address, masked):
    assert parsing.mask_address(address) == masked
