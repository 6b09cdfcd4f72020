"""Properties of the answer readers: numbers written any way, yes/no, dates, codes.

Valid values are generated and written the ways citizens write them; the
reader must give the value back. 身份证号 and 统一社会信用代码 come from our
own check-digit oracles (written here from the standards, not imported), and
one changed or swapped character must always be refused. Any text at all
gives a value or ``None``, never an exception.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from actions import parsing

PROPERTY = settings(max_examples=200, deadline=None)
TODAY = date(2026, 12, 3)

CN_DIGITS = "零一二三四五六七八九"
FINANCIAL = dict(zip("一二三四五六七八九", "壹贰叁肆伍陆柒捌玖", strict=True))


def _below_ten_thousand(number: int, leading_one_ten: bool) -> str:
    """1-9999 in formal Chinese: 一千零五, 三百二十, (一)十五."""
    parts, pending_zero = [], False
    for unit_value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = number // unit_value % 10
        if digit == 0:
            pending_zero = bool(parts)
            continue
        if pending_zero:
            parts.append("零")
            pending_zero = False
        if not (unit == "十" and digit == 1 and not parts and not leading_one_ten):
            parts.append(CN_DIGITS[digit])
        parts.append(unit)
    return "".join(parts)


def chinese(number: int, leading_one_ten: bool = False) -> str:
    """1-99 999 999 in formal Chinese (一万零五百, 十二万三千)."""
    high, low = divmod(number, 10_000)
    if not high:
        return _below_ten_thousand(low, leading_one_ten)
    text = _below_ten_thousand(high, leading_one_ten) + "万"
    if low:
        text += ("零" if low < 1000 else "") + _below_ten_thousand(low, True)
    return text


@st.composite
def written_numbers(draw, low: int = 1, high: int = 99_999_999):
    """(number, how a citizen might write it in Chinese)."""
    number = draw(st.integers(low, high))
    text = chinese(number, draw(st.booleans()))
    if draw(st.booleans()):
        text = text.replace("二千", "两千").replace("二百", "两百")
    if draw(st.booleans()):
        text = "".join(FINANCIAL.get(ch, ch) for ch in text)
    return number, text


@PROPERTY
@given(written_numbers())
def test_chinese_numerals_read_back_as_their_value(pair):
    number, text = pair

    assert parsing.chinese_number(text) == number


AREA_UNITS = ["平方米", "平米", "平方", "平", "㎡", "m²", "m2", "M2", ""]


@st.composite
def written_areas(draw):
    """(square metres, text, said approximately) as citizens answer 面积."""
    style = draw(st.sampled_from(["arabic", "comma", "chinese", "mixed", "decimal"]))
    if style == "mixed":
        digit, scale = draw(st.integers(1, 9)), draw(st.sampled_from("十百千万"))
        value = digit * {"十": 10, "百": 100, "千": 1000, "万": 10000}[scale]
        number = f"{digit}{scale}"
    elif style == "decimal":
        value = draw(st.integers(10, 999_999)) / 10
        number = f"{value:.1f}"
    else:
        value = draw(st.integers(1, int(parsing.MAX_AREA)))
        number = {"arabic": str(value), "comma": f"{value:,}"}.get(style) or chinese(
            value
        )
    approximate = draw(st.sampled_from(["", "大概", "约", "差不多"]))
    after = draw(st.sampled_from(["", "左右", "上下"])) if approximate else ""
    unit = draw(st.sampled_from(AREA_UNITS))
    text = f"{approximate}{number}{unit}{after}"
    return float(value), text, bool(approximate)


@PROPERTY
@given(written_areas())
def test_areas_read_back_in_any_writing(area):
    value, text, approximate = area
    assume(parsing.MIN_AREA <= value <= parsing.MAX_AREA)

    answer = parsing.parse_area(text)

    assert answer == parsing.AreaAnswer(value, approximate)


@PROPERTY
@given(
    value=st.integers(int(parsing.MAX_AREA) + 1, 10**9),
    unit=st.sampled_from(AREA_UNITS),
)
def test_areas_above_the_limit_or_negative_are_refused(value, unit):
    assert parsing.parse_area(f"{value}{unit}") is None
    assert parsing.parse_area(f"-{value % 1000 + 1}{unit}") is None


@pytest.mark.parametrize("text", ["120m2", "1m2", "80M2"])
def test_the_unit_m2_is_not_read_as_a_number(text):
    value = float(text.lower().removesuffix("m2"))

    assert parsing.parse_area(text) == parsing.AreaAnswer(value, False)


YES = [
    "有",
    "是",
    "是的",
    "对",
    "对的",
    "嗯",
    "要",
    "需要",
    "可以",
    "好",
    "行",
    "卖",
    "同意",
]
NO = ["没有", "没", "不是", "不", "不要", "不需要", "无", "否", "不卖", "不同意"]
POLITE = st.sampled_from(["", "的", "啊", "。", "！", " ", "哈"])


@PROPERTY
@given(word=st.sampled_from(YES), before=st.sampled_from(["", " ", "我"]), after=POLITE)
def test_yes_words_read_as_yes(word, before, after):
    assert parsing.parse_yes_no(f"{before}{word}{after}") is True


@PROPERTY
@given(word=st.sampled_from(NO), after=POLITE)
def test_no_words_read_as_no(word, after):
    assert parsing.parse_yes_no(f"{word}{after}") is False


@PROPERTY
@given(text=st.text(max_size=40), mark=st.sampled_from(["吗", "？", "?", "什么"]))
def test_a_question_back_is_never_a_yes_or_no(text, mark):
    assert parsing.parse_yes_no(f"{text}{mark}") is None


def _chinese_date_part(number: int) -> str:
    return chinese(number)


@st.composite
def written_dates(draw):
    """(date, text) in the calendar forms the date reader accepts."""
    day = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
    style = draw(st.sampled_from(["cn", "iso", "slash", "dot", "chinese"]))
    if style == "chinese":
        year = "".join(draw(st.sampled_from(["〇", "零"])) if d == "0" else
                       CN_DIGITS[int(d)] for d in str(day.year))  # fmt: skip
        month, dom = _chinese_date_part(day.month), _chinese_date_part(day.day)
        return day, f"{year}年{month}月{dom}{draw(st.sampled_from(['日', '号']))}"
    if style == "iso":
        return day, day.isoformat()
    separator = {"cn": None, "slash": "/", "dot": "."}[style]
    if separator:
        return day, f"{day.year}{separator}{day.month}{separator}{day.day}"
    return day, f"{day.year}年{day.month}月{day.day}日"


@PROPERTY
@given(written_dates(), st.sampled_from(["", "是", "大约在"]))
def test_calendar_dates_read_back_in_any_writing(pair, prefix):
    day, text = pair

    assert parsing.parse_date(prefix + text) == day


@PROPERTY
@given(month=st.integers(1, 12), day=st.integers(1, 31))
def test_a_month_and_day_are_this_year_or_refused_when_impossible(month, day):
    try:
        expected = date(TODAY.year, month, day)
    except ValueError:
        expected = None

    assert parsing.parse_date(f"{month}月{day}号", today=TODAY) == expected


# --- 身份证号: ISO 7064 MOD 11-2 (GB 11643-1999), our own oracle ----------------


def id_check_character(first17: str) -> str:
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


@st.composite
def id_numbers(draw) -> str:
    area = draw(st.text("0123456789", min_size=6, max_size=6))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)))
    sequence = draw(st.text("0123456789", min_size=3, max_size=3))
    first17 = f"{area}{born:%Y%m%d}{sequence}"
    return first17 + id_check_character(first17)


@PROPERTY
@given(id_numbers(), st.sampled_from(["plain", "spaced", "dashed", "lower"]))
def test_valid_id_numbers_are_accepted_in_any_spacing(number, style):
    text = {
        "plain": number,
        "spaced": f"{number[:6]} {number[6:14]} {number[14:]}",
        "dashed": f"{number[:6]}-{number[6:14]}-{number[14:]}",
        "lower": f" {number.lower()} ",
    }[style]

    assert parsing.check_id_number(text) == parsing.IdNumberCheck(number, None)


@PROPERTY
@given(id_numbers(), st.data())
def test_one_changed_id_character_is_always_refused(number, data):
    position = data.draw(st.integers(0, 17))
    alphabet = "0123456789X" if position == 17 else "0123456789"
    replacement = data.draw(
        st.sampled_from(alphabet).filter(lambda c: c != number[position])
    )
    corrupted = number[:position] + replacement + number[position + 1 :]

    assert not parsing.check_id_number(corrupted).ok


@PROPERTY
@given(id_numbers(), st.integers(0, 15))
def test_swapped_adjacent_id_digits_are_always_refused(number, position):
    assume(number[position] != number[position + 1])
    swapped = (
        number[:position] + number[position + 1] + number[position]
        + number[position + 2 :]
    )  # fmt: skip

    assert not parsing.check_id_number(swapped).ok


def test_full_width_id_digits_are_refused_or_read_never_raise():
    number = "110105199001011234"
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in number)

    parsing.check_id_number(full_width)


# --- 统一社会信用代码: GB 32100-2015, weights 3^i mod 31, our own oracle -------

CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def credit_check_character(first17: str) -> str:
    total = sum(CREDIT_CHARS.index(ch) * pow(3, i, 31) for i, ch in enumerate(first17))
    return CREDIT_CHARS[(31 - total % 31) % 31]


@st.composite
def credit_codes(draw) -> str:
    first17 = draw(st.text(CREDIT_CHARS, min_size=17, max_size=17))
    return first17 + credit_check_character(first17)


@PROPERTY
@given(credit_codes(), st.booleans())
def test_valid_credit_codes_are_accepted(code, lower):
    text = f" {code[:9]} {code[9:]} ".lower() if lower else code

    assert parsing.check_credit_code(text) == parsing.CodeCheck(code, None)


@PROPERTY
@given(credit_codes(), st.data())
def test_one_changed_credit_code_character_is_always_refused(code, data):
    position = data.draw(st.integers(0, 17))
    replacement = data.draw(
        st.sampled_from(CREDIT_CHARS + "IOSVZ").filter(lambda c: c != code[position])
    )
    corrupted = code[:position] + replacement + code[position + 1 :]

    check = parsing.check_credit_code(corrupted)

    expected = "check_digit" if replacement in CREDIT_CHARS else "characters"
    assert check.problem == expected


# --- mobile numbers, 申请编号 --------------------------------------------------


@PROPERTY
@given(
    number=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    style=st.sampled_from(["plain", "spaced", "dashed", "+86", "86"]),
)
def test_mobile_numbers_read_back_in_any_writing(number, style):
    text = {
        "plain": number,
        "spaced": f"{number[:3]} {number[3:7]} {number[7:]}",
        "dashed": f"{number[:3]}-{number[3:7]}-{number[7:]}",
        "+86": f"+86 {number}",
        "86": f"86{number}",
    }[style]

    assert parsing.parse_phone(text) == number


@PROPERTY
@given(digits=st.text("0123456789", min_size=14, max_size=14), cuts=st.data())
def test_application_numbers_are_found_with_spaces_inside(digits, cuts):
    number, step = f"ZW{digits}", cuts.draw(st.integers(2, 8))
    spaced = " ".join(number[i : i + step] for i in range(0, len(number), step))

    assert parsing.find_application_no(f"我的编号是{spaced}，查一下") == number


# --- anything at all ------------------------------------------------------------

READERS = [
    parsing.chinese_number,
    parsing.parse_area,
    parsing.find_area,
    parsing.mentions_area_unit,
    parsing.looks_like_question,
    parsing.parse_yes_no,
    parsing.parse_date,
    lambda text: parsing.parse_district(text, {}),
    parsing.check_credit_code,
    parsing.parse_phone,
    parsing.find_application_no,
    parsing.mentions_application_no,
    parsing.parse_ordinal,
    parsing.mask_phone,
    parsing.mask_id_number,
]
# Characters the readers look for, so random text often comes near a match.
NEAR_MISS = st.text(
    st.sampled_from("0123456789,.-年月日号平米㎡万千百十一二两三零〇多不没有是吗ZWX ")
    | st.characters(blacklist_categories=("Cs",)),
    max_size=80,
)


@PROPERTY
@given(text=st.one_of(st.text(max_size=200), NEAR_MISS))
def test_every_reader_returns_for_any_text(text):
    for reader in READERS:
        reader(text)
