"""Masking personal data before it reaches a log, and keyed user hashes.

The patterns cover what citizens type most: mainland mobile numbers, 身份证号
and 统一社会信用代码. Issue #8 widens this (landlines, bank cards, addresses).
"""

from __future__ import annotations

import hashlib
import hmac
import re

# 18-character resident ID: 6-digit area, 8-digit birth date, 3 digits, check.
_ID_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx](?![0-9A-Za-z])"
)
# 统一社会信用代码: 18 characters from digits and upper-case letters minus I O Z S V.
# A run inside a longer token (a hex request id) is none of these numbers.
_CREDIT_CODE = re.compile(
    r"(?<![0-9A-Za-z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}"
    r"(?![0-9A-Za-z])"
)
_MOBILE = re.compile(
    r"(?<![0-9A-Za-z])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?![0-9A-Za-z])"
)


def redact(text: str) -> str:
    """Return ``text`` with ID numbers, credit codes and mobiles masked."""
    text = _ID_NUMBER.sub("[身份证号]", text)
    text = _CREDIT_CODE.sub("[信用代码]", text)
    return _MOBILE.sub("[手机号]", text)


def hash_user(user_id: str, key: str) -> str:
    """A stable, keyed, non-reversible stand-in for a user id in logs."""
    digest = hmac.new(key.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    return digest[:16]
