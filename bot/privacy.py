"""Finding and masking personal data in free text, and keyed user hashes.

One detector serves every copy the assistant keeps: log lines, the tracker
store, the event broker and exported conversations. It recognises mainland
mobile numbers and landlines, 身份证号, 统一社会信用代码, bank card numbers,
e-mail addresses and street addresses, and leaves alone the public numbers the
assistant itself quotes (12345, 400/800 numbers, 国办发〔2020〕42号, 申请编号,
事项编码). Names are not recognisable by shape; the tracker store masks the
template values that carry them instead (bot.tracker_store).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.id_numbers import is_valid_id_number, normalize_id_number

MOBILE = "[手机号]"
LANDLINE = "[电话]"
ID_NUMBER = "[身份证号]"
CREDIT_CODE = "[信用代码]"
BANK_CARD = "[银行卡号]"
EMAIL = "[邮箱]"
ADDRESS = "[地址]"

# A match must not sit inside a longer token (a hex request id, an item code,
# 申请编号 ZW2026…). \d also matches full-width digits (１３８…), which phone
# keyboards produce, so literal digits below list both forms.
_ALNUM = "0-9A-Za-z０-９Ａ-Ｚａ-ｚ"
_BEFORE = rf"(?<![{_ALNUM}])"
_AFTER = rf"(?![{_ALNUM}])"

_EMAIL = re.compile(
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
# Every 18-character run shaped like a 身份证号 (optionally split 6-8-4 by a
# space or dash), whatever its check digit: a mistyped number is still personal.
_ID_NUMBER = re.compile(_BEFORE + r"\d{6}[ -]?\d{8}[ -]?\d{3}[\dXx]" + _AFTER)
# 统一社会信用代码: 18 characters from digits and upper-case letters minus I O Z S V.
_CREDIT_CODE = re.compile(
    _BEFORE + r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}" + _AFTER
)
# Card numbers start with an ISO/IEC 7812 major industry digit 2-6 or 9
# (UnionPay 62, Visa 4, Mastercard 2/5, national 9); 1 would be a timestamp.
_CARD_CANDIDATE = re.compile(_BEFORE + r"[2-69２-６９]\d{3}(?:[ -]?\d){12,15}" + _AFTER)
_MOBILE = re.compile(
    _BEFORE + r"(?:\+?86[- ]?)?[1１][3-9３-９]\d[- ]?\d{4}[- ]?\d{4}" + _AFTER
)
# 区号 010, 02x or 0[3-9]xx, then a 7-8 digit local number; 400/800 service
# numbers start with 4 or 8 and never match.
_AREA = r"[0０](?:[1１][0０]|[2２]\d|[3-9３-９]\d{2})"
_LANDLINE = re.compile(
    _BEFORE
    + rf"(?:[(（]{_AREA}[)）]|{_AREA})[- ]?[1-9１-９]\d{{6,7}}"
    + r"(?:(?:转|-|ext\.?)\d{1,5})?"
    + _AFTER
)
# A landline right after 咨询电话 / 投诉电话 / 监督电话 / 服务热线 is a public
# office's number, quoted by the guides the assistant answers from
# (knowledge_base/render.py labels it 咨询电话). A citizen's own number comes
# after 我的电话 / 联系方式 and is masked.
_PUBLIC_LINE_CUE = re.compile(
    r"(?:(?:咨询|查询|投诉|监督|举报|服务)(?:电话|热线)?|热线(?:电话)?)(?:号码)?[：:\s]*"
    # …and any numbers listed before this one (020-1111（本科）；广州：020-2222).
    # Possessive quantifiers: no backtracking over a long run of digits.
    r"(?:[\u4e00-\u9fff]{1,8}[：:]\s*|[\d\-－转]++|[（(][^（）()]{0,12}[）)]"
    r"|[；;、，,/或和\s]++)*+$"
)

_UNIT = r"(?:[-－]?\d+(?:号楼|栋|幢|座|单元|层|楼|室|房|户|号))"
_STRONG_UNIT = r"\d+(?:号楼|栋|幢|座|单元|室|房)"
# …路/街/巷/道/里/弄/胡同 + 号, then building, unit and room.
_STREET = re.compile(
    r"(?P<name>[\u4e00-\u9fff]{0,12})(?:路|街|巷|道|里|弄|胡同)(?:[东西南北中]段)?"
    rf"\d+(?:[-之]\d+)?号{_UNIT}*"
)
# A residential compound with a building, unit or room number after it.
# The number runs are matched possessively (linear time on "1号1号1号…") and
# must hold a building, unit or room (_has_room): "42号" alone is a document.
_COMPOUND = re.compile(
    r"(?P<name>[\u4e00-\u9fff]{0,12})(?:小区|花园|家园|公寓|新村|社区|大厦|苑|村)"
    rf"{_UNIT}++"
)
# Building / unit / room numbers on their own (3栋2单元501室, 5号楼808房).
_UNITS = re.compile(rf"(?<![\d\-－]){_UNIT}++")
_ROOM = re.compile(_STRONG_UNIT)
# Where a place name ends: the province, city, district, town or 街道 before it
# stays readable, and so do the words before an address (住在, 地址是).
_KEEP_BEFORE = re.compile(r".*(?:街道|[省市区县旗镇乡在住是的于到为从往址])")


@dataclass(frozen=True)
class Finding:
    """One piece of personal data in a text.

    Attributes:
        kind: ``mobile``, ``landline``, ``id_number``, ``credit_code``,
            ``bank_card``, ``email`` or ``address``.
        start: offset of the first character in the text searched.
        end: offset after the last character.
        checked: for an ID number, whether its GB 11643 check digit and birth
            date are right; for a card, always True (Luhn passed); else None.
    """

    kind: str
    start: int
    end: int
    checked: bool | None = None


def luhn_ok(digits: str) -> bool:
    """Whether a digit string passes the Luhn (mod 10) check."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _digits(text: str) -> str:
    return "".join(str(int(char)) for char in text if char.isdigit())


def _is_card(match: re.Match[str]) -> bool:
    # Every issuer's card number ends in a Luhn check digit (ISO/IEC 7812),
    # so the check keeps every correctly typed card and drops nine in ten
    # other long digit runs (order numbers, serials, timestamps).
    digits = _digits(match.group())
    return 16 <= len(digits) <= 19 and luhn_ok(digits)


def _is_private_line(match: re.Match[str]) -> bool:
    before = match.string[max(0, match.start() - 120) : match.start()]
    return not _PUBLIC_LINE_CUE.search(before)


def _place_kept(match: re.Match[str]) -> int:
    """How many leading characters of an address match stay (city, district)."""
    kept = _KEEP_BEFORE.match(match.group("name"))
    return len(kept.group()) if kept else 0


def _accept(_match: re.Match[str]) -> bool:
    return True


def _has_room(match: re.Match[str]) -> bool:
    return _ROOM.search(match.group()) is not None


# (kind, placeholder, pattern, keep-this-match test), in the order applied:
# e-mail before numbers (13812345678@qq.com is one address), ID numbers
# before cards (an 18-digit run is masked either way).
_DETECTORS: tuple[tuple[str, str, re.Pattern[str], Callable[..., bool]], ...] = (
    ("email", EMAIL, _EMAIL, _accept),
    ("id_number", ID_NUMBER, _ID_NUMBER, _accept),
    ("credit_code", CREDIT_CODE, _CREDIT_CODE, _accept),
    ("bank_card", BANK_CARD, _CARD_CANDIDATE, _is_card),
    ("mobile", MOBILE, _MOBILE, _accept),
    ("landline", LANDLINE, _LANDLINE, _is_private_line),
    ("address", ADDRESS, _STREET, _accept),
    ("address", ADDRESS, _COMPOUND, _has_room),
    ("address", ADDRESS, _UNITS, _has_room),
)


def _mask_pass(
    text: str, placeholder: str, pattern: re.Pattern[str], keep: Callable[..., bool]
) -> str:
    def replace(match: re.Match[str]) -> str:
        if not keep(match):
            return match.group()
        kept = _place_kept(match) if "name" in match.re.groupindex else 0
        return match.group()[:kept] + placeholder

    return pattern.sub(replace, text)


# Full-width digits, letters, + and - (as a Chinese IME types them: １３０…)
# are folded to ASCII before searching, and invisible characters (zero-width
# space and joiners, direction marks, BOM) dropped, so neither hides a
# number. Chinese punctuation (，：（）) stays as typed.
_FULL_WIDTH = "０１２３４５６７８９＋－" + "".join(
    chr(code) for code in (*range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))
)
_HALF_WIDTH = {ord(char): ord(char) - 0xFEE0 for char in _FULL_WIDTH}
# Zero-width characters, joiners, direction marks and the BOM: invisible,
# and they split words and numbers (结\u200b婚); the channels drop them too.
INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def normalize(text: str) -> str:
    """``text`` as the detectors read it: ASCII width, no invisible characters."""
    return INVISIBLE.sub("", text.translate(_HALF_WIDTH))


def redact(text: str, keep_kinds: frozenset[str] = frozenset()) -> str:
    """Return ``text`` with every kind of personal data replaced by a label
    such as ``[手机号]`` or ``[地址]``; public service numbers stay.

    Args:
        keep_kinds: kinds left as they are where the text is meant to hold
            them (``{"address"}`` for the place a 12345 ticket is about).

    The text comes back :func:`normalize`-d (full-width letters and digits as
    ASCII, invisible characters gone), whether anything was masked or not.
    """
    text = normalize(text)
    for kind, placeholder, pattern, keep in _DETECTORS:
        if kind not in keep_kinds:
            text = _mask_pass(text, placeholder, pattern, keep)
    return text


def find_personal_data(text: str) -> list[Finding]:
    """The personal data in ``text``, in the order the masks are applied.

    Each pass searches the text left by the passes before it (with earlier
    finds masked), so one number is never reported twice; offsets of later
    kinds therefore refer to that partly masked text; all offsets refer to
    :func:`normalize`-d text.
    """
    text = normalize(text)
    findings: list[Finding] = []
    for kind, placeholder, pattern, keep in _DETECTORS:
        for match in pattern.finditer(text):
            if not keep(match):
                continue
            checked = None
            if kind == "id_number":
                number = normalize_id_number(re.sub(r"[ -]", "", match.group()))
                checked = is_valid_id_number(_digits(number[:17]) + number[17])
            elif kind == "bank_card":
                checked = True
            findings.append(Finding(kind, match.start(), match.end(), checked))
        text = _mask_pass(text, placeholder, pattern, keep)
    return findings


def personal_values(text: str) -> list[tuple[str, str, bool | None]]:
    """``(kind, value as written, checked)`` for each piece of personal data.

    The same finds as :func:`find_personal_data`, with the text of each (an
    agent who may see it gets it; everyone else gets :func:`redact`'s mask).
    """
    values: list[tuple[str, str, bool | None]] = []
    for finding, value in zip(
        find_personal_data(text), _found_texts(text), strict=True
    ):
        values.append((finding.kind, value, finding.checked))
    return values


def _found_texts(text: str) -> list[str]:
    text = normalize(text)
    found = []
    for _kind, placeholder, pattern, keep in _DETECTORS:
        found += [match.group() for match in pattern.finditer(text) if keep(match)]
        text = _mask_pass(text, placeholder, pattern, keep)
    return found


def redact_value(value: Any) -> Any:
    """``value`` with :func:`redact` applied to every string inside it
    (dict values, list items); other types come back unchanged."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value


def hash_user(user_id: str, key: str) -> str:
    """A stable, keyed, non-reversible stand-in for a user id in logs."""
    digest = hmac.new(key.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    return digest[:16]
