"""The 18-character 公民身份号码 and its check digit (GB 11643-1999).

The check character is ISO 7064 MOD 11-2 over the first 17 digits: it catches
every single-digit error and every swap of two adjacent digits.
"""

from __future__ import annotations

import re
from datetime import date

# Weights 2^(17-i) mod 11 for positions 1..17, and the check character for
# each remainder 0..10 (GB 11643-1999, 7.2).
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# [0-9], not \d: \d also matches full-width and other scripts' digits,
# which check_character refuses.
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_EARLIEST_BIRTH = date(1900, 1, 1)


def check_character(first17: str) -> str:
    """The check character (``0``-``9`` or ``X``) for 17 leading digits.

    Raises:
        ValueError: ``first17`` is not exactly 17 ASCII digits.
    """
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("expected exactly 17 digits")
    total = sum(
        int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True)
    )
    return _CHECK_CHARS[total % 11]


def normalize_id_number(raw: str) -> str:
    """Strip surrounding blanks and upper-case a trailing ``x``."""
    return raw.strip().upper()


def birth_date(id_number: str) -> date | None:
    """The birth date in positions 7-14, or None when it is not a calendar date."""
    digits = id_number[6:14]
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def is_valid_id_number(id_number: str, today: date | None = None) -> bool:
    """True for a normalized number with a real birth date and a valid check digit.

    The six-digit area code is not checked against GB/T 2260: that needs the
    administrative-division table, which this reference backend does not ship.

    Args:
        id_number: an already normalized number (see :func:`normalize_id_number`).
        today: the latest acceptable birth date; the current date by default.
    """
    if not _SHAPE.fullmatch(id_number):
        return False
    born = birth_date(id_number)
    if born is None or not _EARLIEST_BIRTH <= born <= (today or date.today()):
        return False
    return check_character(id_number[:17]) == id_number[17]
