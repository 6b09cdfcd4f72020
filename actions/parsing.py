"""Reading citizens' Chinese answers: areas, yes/no, choices, dates, districts,
身份证号, 统一社会信用代码, mobile numbers and 申请编号.

Pure functions with no Rasa imports, so every table of answers is a unit test.
Unclear input returns ``None`` (or a named problem) and the form re-asks; it is
never guessed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.id_numbers import check_character

MAX_AREA = 100_000.0  # ㎡; more is a typing slip, not a restaurant
MIN_AREA = 1.0  # ㎡; less is a slip too (0.5平)

_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "壹": 1, "幺": 1, "二": 2, "贰": 2, "两": 2,
    "三": 3, "叁": 3, "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6,
    "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9,
}  # fmt: skip
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_NUMBER = "[零〇一壹幺二贰两三叁四肆五伍六陆七柒八捌九玖十拾百佰千仟万]+"
# Readers match [0-9] on text from fold_width: \d would also take other
# scripts' digits, which int() reads but bot.id_numbers refuses.
_ARABIC = r"[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?"
_NUMBER = re.compile(
    rf"({_ARABIC}|{_CN_NUMBER}(?:点[零〇一二三四五六七八九]+)?)\s*(多|来|余)?"
)
_APPROX_WORDS = (
    "大概",
    "大约",
    "约",
    "左右",
    "上下",
    "差不多",
    "估计",
    "多",
    "来",
    "余",
)
_AREA_UNIT = re.compile(r"平方米|平米|平方|平|㎡|m2|m²|米|方", re.IGNORECASE)
# m2, M2, m^2, m²: one unit, whose 2 is no second number (1m2 is 1 ㎡, not 2).
_SQUARE_METRE = re.compile(r"m\^?[2²]", re.IGNORECASE)

_UNKNOWN = re.compile(r"不知道|不清楚|不确定|不好说|说不准|没想好|还没定")
_A_NOT_A = re.compile(r"(.)[不没]\1")
_QUESTION = re.compile(
    r"[吗嘛？?]|什么|干嘛|为什么|为啥|怎么|怎样|哪|多久|多长时间|多少|几|啥|咋|如何"
)
# 呢 asks ("那营业执照呢"), except closing a "not yet" ("还没办呢", "没有呢").
_NE = re.compile(r"呢")
_NOT_YET_NE = re.compile(r"[没不未][^，,。！!]{0,4}呢[。！!~～…]*$")
# "我说错了，面积应该是两百平": a correction of an earlier answer, not a yes/no.
_CORRECTION = re.compile(r"说错|不对|应该是|改成|改为|更正")
# "3百平": Arabic digits with a Chinese scale.
_MIXED_SCALE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([十百千万])")
_SCALES = {"十": 10, "百": 100, "千": 1000, "万": 10000}
# What no area answer holds: a vague count (几百平), a sign, an exponent (1e5).
_NOT_AN_AREA = re.compile(
    r"几[十百千万]|[-−负]\s*\d|负[零〇一二两三四五六七八九十百千万]|\d[eE][-+]?\d"
)
# 算了 is not a "no": it means "stop" and is left to the cancel intent.
_NO = re.compile(r"没|不|无|否|别|甭|免了")
# Words with a negation character that mean yes.
_YES_DESPITE_NO = re.compile(r"没问题|没错|不错|没毛病|无误")
_YES = re.compile(
    r"有|是|对|嗯|要|卖|会|好|行|可以|需要|同意|当然|肯定|确认|确定|提交|办了|办好|拿到"
    r"|领了|装|挂|设|ok|yes",
    re.IGNORECASE,
)

_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
_APPLICATION_NO = re.compile(r"(?<![A-Za-z0-9])ZW[0-9]{14}(?!\d)", re.IGNORECASE)
_TICKET_NO = re.compile(r"(?<![A-Za-z0-9])GD[0-9]{14}(?!\d)", re.IGNORECASE)
_TICKET_NO_ATTEMPT = re.compile(r"(?<![A-Za-z])GD\s*\d", re.IGNORECASE)
_APPLICATION_NO_ATTEMPT = re.compile(r"(?<![A-Za-z])ZW\s*\d", re.IGNORECASE)


@dataclass(frozen=True)
class AreaAnswer:
    """An area in square metres; ``approximate`` when the citizen said 多/大概."""

    square_metres: float
    approximate: bool


@dataclass(frozen=True)
class IdNumberCheck:
    """The outcome of checking a 身份证号.

    ``problem`` is ``None`` for a valid number, else one of ``length``
    (not 18 characters), ``characters``, ``birth_date`` or ``check_digit``;
    each has its own reprompt in domain.yml.
    """

    value: str
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


# Full-width ASCII (U+FF01-FF5E), as a Chinese IME types it by default, and the
# ideographic space. A table, not NFKC: NFKC would also turn ㎡ into "m2".
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_HALF_WIDTH[0x3000] = 0x20


def fold_width(text: str) -> str:
    """``１３８ ００１３ ８０００`` → ``138 0013 8000``: full-width ASCII and every
    script's decimal digits as ASCII, so readers can match ``[0-9]``.

    Other characters (Chinese, ㎡, ², ①) are kept as they are.
    """
    text = text.translate(_HALF_WIDTH)
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch
        for ch in text
    )


def chinese_number(text: str) -> int | None:
    """``一百二十`` → 120, ``一百二`` → 120, ``两千零五`` → 2005, ``一万`` → 10000.

    Returns ``None`` when ``text`` is not a Chinese numeral.
    """
    if not text or any(
        ch not in _DIGITS and ch not in _UNITS and ch != "万" for ch in text
    ):
        return None
    if "万" in text:
        high, _, low = text.partition("万")
        high_value = chinese_number(high) if high else 1
        low_value = chinese_number(low) if low else 0
        if high_value is None or low_value is None:
            return None
        if len(low) == 1 and low_value:
            low_value *= 1000  # colloquial: 一万二 means 12000
        return high_value * 10_000 + low_value
    return _below_ten_thousand(text)


def _below_ten_thousand(text: str) -> int | None:
    total, digit, last_unit, zero_seen = 0, None, None, False
    for ch in text:
        if ch in _DIGITS:
            if digit:
                return None  # "一二" is not a number
            zero_seen = zero_seen or _DIGITS[ch] == 0
            digit = _DIGITS[ch]
            continue
        unit = _UNITS[ch]
        if last_unit is not None and unit >= last_unit:
            return None
        total += (1 if digit is None else digit) * unit
        digit, last_unit = None, unit
    if digit:
        # Colloquial tail: 一百二 means 120, 两千五 means 2500; not after 零.
        scale = last_unit // 10 if last_unit and last_unit > 10 else 1
        total += digit * (1 if zero_seen else scale)
    return total


def parse_area(text: str) -> AreaAnswer | None:
    """Read an area such as ``120``, ``120㎡``, ``80m2``, ``一百二十平``, ``三百多平``.

    A range (``100到150平``) gives its upper end, marked approximate, so a
    threshold is never missed by reading the low end.

    Returns:
        ``None`` when no positive number below :data:`MAX_AREA` is found.
    """
    text = fold_width(text).strip().replace("。", "")
    text = _SQUARE_METRE.sub("㎡", text)
    if _NOT_AN_AREA.search(text):
        return None
    text = _MIXED_SCALE.sub(
        lambda m: _format_number(float(m.group(1)) * _SCALES[m.group(2)]), text
    )
    numbers = [(m, _to_number(m.group(1))) for m in _NUMBER.finditer(text)]
    numbers = [(m, value) for m, value in numbers if value is not None]
    if not numbers:
        return None

    match, value = max(numbers, key=lambda pair: pair[1])
    if not MIN_AREA <= value <= MAX_AREA:
        return None

    approximate = len(numbers) > 1 or any(word in text for word in _APPROX_WORDS)
    return AreaAnswer(square_metres=float(value), approximate=approximate)


def _format_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _to_number(raw: str) -> float | None:
    if raw[0].isdigit():
        return float(raw.replace(",", ""))
    whole, _, decimals = raw.partition("点")
    value = chinese_number(whole)
    if value is None:
        return None
    fraction = "".join(str(_DIGITS[ch]) for ch in decimals)
    return float(f"{value}.{fraction}") if fraction else float(value)


_AREA_WITH_UNIT = re.compile(
    rf"(?:{_ARABIC}|{_CN_NUMBER}(?:点[零〇一二三四五六七八九]+)?"
    r"|[0-9]+(?:\.[0-9]+)?[十百千万])"
    r"\s*(?:多|来|余)?\s*个?\s*(?:平方米|平米|平方|平|㎡|m2|m²)",
    re.IGNORECASE,
)


def find_area(text: str) -> AreaAnswer | None:
    """An area stated with its unit inside a longer message (``开一家200平的店``).

    Stricter than :func:`parse_area`: the number must carry an area unit, so
    ``两层的米线店`` is no area.
    """
    match = _AREA_WITH_UNIT.search(fold_width(text or ""))
    return parse_area(match.group(0)) if match else None


def mentions_area_unit(text: str) -> bool:
    """Whether the text names a unit of area (平, 平米, ㎡ …)."""
    return bool(_AREA_UNIT.search(text))


def looks_like_question(text: str) -> bool:
    """Whether ``text`` asks something back (吗, 什么, 怎么, 哪, ？ …)."""
    text = text or ""
    if _QUESTION.search(text):
        return True
    return bool(_NE.search(text)) and not _NOT_YET_NE.search(text)


def parse_yes_no(text: str) -> bool | None:
    """``有`` / ``是的`` / ``卖`` → True; ``没有`` / ``不是`` / ``不卖`` → False.

    Returns ``None`` for "I don't know", for questions back (``有没有``,
    ``这是干嘛的``) and for text with neither a yes nor a no word.
    """
    text = text.strip().lower()
    checks = (_UNKNOWN, _A_NOT_A, _CORRECTION)
    if not text or looks_like_question(text) or any(p.search(text) for p in checks):
        return None
    if _YES_DESPITE_NO.search(text):
        return True
    if _NO.search(text):
        return False
    if _YES.search(text):
        return True
    return None


def parse_choice(text: str, options: dict[str, tuple[str, ...]]) -> str | None:
    """The option whose alias appears in ``text``; ``None`` if none or several do.

    Args:
        options: option value → words that mean it, e.g.
            ``{"company": ("公司", "企业")}``.
    """
    text = text.strip()
    found = {
        value for value, aliases in options.items() if any(a in text for a in aliases)
    }
    if len(found) == 1:
        return found.pop()
    # "个体户，不是公司": keep the option that is not negated.
    negated = {v for v in found if re.search(rf"不是({'|'.join(options[v])})", text)}
    remaining = found - negated
    return remaining.pop() if len(remaining) == 1 else None


def check_id_number(text: str) -> IdNumberCheck:
    """Normalise and check an 18-character resident 身份证号 (GB 11643-1999)."""
    value = re.sub(r"[\s-]", "", fold_width(text)).upper()
    if len(value) != 18:
        return IdNumberCheck(value, "length")
    if not _ID_SHAPE.match(value):
        return IdNumberCheck(value, "characters")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return IdNumberCheck(value, "birth_date")
    if born.year < 1900 or born > date.today():
        return IdNumberCheck(value, "birth_date")
    if check_character(value[:17]) != value[17]:
        return IdNumberCheck(value, "check_digit")
    return IdNumberCheck(value, None)


def find_application_no(text: str) -> str | None:
    """The first 申请编号 (``ZW`` and 14 digits) in ``text``, upper-cased.

    Spaces inside the number are ignored (``ZW 2026 1203 0626 45``).
    """
    match = _APPLICATION_NO.search(re.sub(r"\s+", "", fold_width(text or "")))
    return match.group(0).upper() if match else None


def mentions_correction(text: str) -> bool:
    """Whether ``text`` corrects something said before (说错了, 应该是 …)."""
    return bool(_CORRECTION.search(text or ""))


def find_ticket_no(text: str) -> str | None:
    """The first 工单号 (``GD`` and 14 digits) in ``text``, upper-cased."""
    match = _TICKET_NO.search(re.sub(r"\s+", "", fold_width(text or "")))
    return match.group(0).upper() if match else None


def mentions_ticket(text: str) -> bool:
    """Whether ``text`` is about a 工单 (by the word or a ``GD`` number)."""
    return "工单" in (text or "") or mentions_ticket_no(text)


def mentions_ticket_no(text: str) -> bool:
    """Whether ``text`` tries to give a 工单号 (``GD`` then digits), valid or not."""
    return bool(_TICKET_NO_ATTEMPT.search(fold_width(text or "")))


def mentions_application_no(text: str) -> bool:
    """Whether ``text`` tries to give a 申请编号 (``ZW`` then digits), valid or not."""
    return bool(_APPLICATION_NO_ATTEMPT.search(fold_width(text or "")))


def parse_ordinal(text: str) -> int | None:
    """``第二个`` / ``选2`` / ``2`` → 1 (a 0-based index); ``None`` if no number."""
    match = re.search(r"([1-9]|[一二两三四五六七八九])", fold_width(text or ""))
    if match is None:
        return None
    raw = match.group(1)
    return (int(raw) if raw.isdigit() else _DIGITS[raw]) - 1


def mask_id_number(value: str) -> str:
    """``110105199001011234`` → ``110***********1234``."""
    return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) > 7 else "***"


def mask_phone(value: str) -> str:
    """``13800138000`` → ``138****8000``."""
    digits = re.sub(r"\D", "", value)
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "****"


def mask_name(value: str) -> str:
    """``张晓明`` → ``张*明``, ``李雷`` → ``李*``: enough for the citizen to
    recognise, too little for someone who only typed another's number."""
    name = value.strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


# The address is shown down to its district or county, else its city; the
# street is hidden.
_ADDRESS_DISTRICT = re.compile(r"^.{0,16}[区县旗]")
_ADDRESS_CITY = re.compile(r"^.{0,12}市")


def mask_address(value: str) -> str:
    """``示范市示范区人民路18号3单元201室`` → ``示范市示范区****``."""
    text = value.strip()
    area = _ADDRESS_DISTRICT.match(text) or _ADDRESS_CITY.match(text)
    return (area.group(0) if area else "") + "****"


CHINA_TIME = ZoneInfo("Asia/Shanghai")
# Dates relative to today are refused, not resolved: the citizen's "下周一"
# may be read days later, and a wrong date on a form is worse than a re-ask.
_RELATIVE_DATE = re.compile(
    r"今天|明天|后天|昨天|前天|今年|明年|去年|下周|上周|这周|本周|下个?月|上个?月"
    r"|这个月|本月|周[一二三四五六日天]|星期|礼拜|月底|月初|年底|过几天|最近"
)
_CN_DIGITS = "零〇一二两三四五六七八九十"
_YEAR = rf"([0-9]{{4}}|[{_CN_DIGITS}]{{4}})"
_MONTH_OR_DAY = rf"([0-9]{{1,2}}|[{_CN_DIGITS}]{{1,3}})"
_DATE_FULL = re.compile(
    rf"{_YEAR}\s*[年\-/.]\s*{_MONTH_OR_DAY}\s*[月\-/.]\s*{_MONTH_OR_DAY}\s*[日号]?"
)
_DATE_MONTH_DAY = re.compile(rf"{_MONTH_OR_DAY}\s*月\s*{_MONTH_OR_DAY}\s*[日号]")
_DISTRICT = re.compile(r"[\u4e00-\u9fff]{1,12}?(?:自治县|新区|区|县|旗|市|镇|乡|街道)")
# GB 32100-2015: 31 characters (no I, O, S, V, Z); weights 3^i mod 31.
_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


@dataclass(frozen=True)
class CodeCheck:
    """A normalised code and what is wrong with it (``None`` when valid).

    ``problem`` is ``length``, ``characters`` or ``check_digit``.
    """

    value: str
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _date_part(raw: str) -> int | None:
    if raw.isdigit():
        return int(raw)
    if len(raw) == 4:  # 二〇二六: digit by digit
        digits = [_DIGITS.get(ch) for ch in raw]
        return None if None in digits else int("".join(map(str, digits)))
    return chinese_number(raw)


def today_in_china() -> date:
    """Today's date in China (UTC+8), whatever the server's time zone."""
    return datetime.now(CHINA_TIME).date()


def parse_date(text: str, today: date | None = None) -> date | None:
    """``2026年3月1日`` / ``2026-03-01`` / ``3月1号`` / ``三月一日`` → a date.

    A date without a year is taken in the current year (China time). Relative
    dates (``下周一``, ``明天``) and impossible dates return ``None``: the form
    asks for a calendar date instead of guessing.
    """
    text = fold_width(text or "").strip()
    if not text or _RELATIVE_DATE.search(text):
        return None
    full = _DATE_FULL.search(text)
    if full:
        parts = [_date_part(part) for part in full.groups()]
    else:
        month_day = _DATE_MONTH_DAY.search(text)
        if month_day is None:
            return None
        year = (today or today_in_china()).year
        parts = [year, *(_date_part(part) for part in month_day.groups())]
    if None in parts:
        return None
    try:
        return date(*parts)
    except ValueError:
        return None


def parse_district(text: str, options: dict[str, tuple[str, ...]]) -> str | None:
    """A district: one of ``options`` if the package lists them, else a name
    ending in 区/县/市/旗/镇/乡/街道 (``示范区`` → ``示范区``)."""
    if options:
        return parse_choice(text, options)
    text = re.sub(
        r"^(?:我们?|店|就)?(?:在|是|位于|住在|属于)", "", (text or "").strip()
    )
    match = _DISTRICT.search(text)
    return match.group(0) if match else None


def credit_code_check_character(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters.

    Raises:
        ValueError: a character outside the code's 31-character set.
    """
    total = sum(
        _CREDIT_CHARS.index(ch) * weight
        for ch, weight in zip(first17, _CREDIT_WEIGHTS, strict=True)
    )
    return _CREDIT_CHARS[(31 - total % 31) % 31]


def check_credit_code(text: str) -> CodeCheck:
    """Normalise and check an 18-character 统一社会信用代码 (GB 32100-2015)."""
    value = re.sub(r"[\s-]", "", fold_width(text or "")).upper()
    if len(value) != 18:
        return CodeCheck(value, "length")
    if any(ch not in _CREDIT_CHARS for ch in value):
        return CodeCheck(value, "characters")
    if credit_code_check_character(value[:17]) != value[17]:
        return CodeCheck(value, "check_digit")
    return CodeCheck(value, None)


def parse_phone(text: str) -> str | None:
    """An 11-digit mainland mobile number (``138 0013 8000``, ``+86-138…``)."""
    digits = re.sub(r"[\s\-()]", "", fold_width(text or ""))
    digits = re.sub(r"^(?:\+?86)(?=1[0-9]{10}$)", "", digits)
    return digits if _MOBILE.match(digits) else None
