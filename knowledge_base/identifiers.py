"""Exact identifiers that single out an entry: item codes, 文号, hotlines.

When a citizen quotes one (“国办发〔2020〕42号”, “12329”), the entries that
carry the same identifier get a boost on top of the similarity score. Forms
are normalised so that 国办发[2020]42号 and 国办发〔2020〕42号 match.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

# 事项编码: long runs of digits and capitals, e.g. the 31-character Guangdong
# 实施编码. 18-character 统一社会信用代码 are personal/business data, not
# item identifiers, so the run must be at least 20 characters.
_ITEM_CODE = re.compile(
    r"(?<![0-9A-Za-z])(?=[0-9A-Z]*\d)[0-9A-Z]{20,40}(?![0-9A-Za-z])"
)
# 发文字号: issuer abbreviation, year in brackets, number, 号. The text
# before the bracket runs on into the sentence, so the key keeps only the
# last ``_ISSUER_CHARS`` characters of it (国办发, 京政发, 社部发).
_ISSUER_CHARS = 3
_DOC_NUMBER = re.compile(
    r"([\u4e00-\u9fff]{1,10})\s*[〔\[［【(（]\s*((?:19|20)\d{2})\s*[〕\]］】)）]\s*(\d{1,4})\s*号"
)
# Government service hotlines (12345, 12333, 12329 …) and landlines.
_HOTLINE = re.compile(r"(?<![\d.])(12\d{3})(?![\d.元万年月日天个人号米])")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[-－ ]?(\d{7,8})(?!\d)")


def extract_identifiers(text: str) -> set[str]:
    """Every identifier in ``text``, in normalised form."""
    found = set(_ITEM_CODE.findall(text.upper()))
    found.update(
        f"{issuer[-_ISSUER_CHARS:]}〔{year}〕{number}号"
        for issuer, year, number in _DOC_NUMBER.findall(text)
    )
    found.update(_HOTLINE.findall(text))
    found.update(area + number for area, number in _LANDLINE.findall(text))
    return found


class IdentifierTable:
    """Which documents carry which identifier, for rare identifiers only.

    An identifier held by more than ``max_docs`` documents (a city-wide
    hotline in every answer) does not single anything out and is dropped.
    """

    def __init__(self, doc_identifiers: Sequence[Iterable[str]], max_docs: int = 5):
        postings: dict[str, list[int]] = defaultdict(list)
        for row, identifiers in enumerate(doc_identifiers):
            for identifier in set(identifiers):
                postings[identifier].append(row)
        self._postings = {
            identifier: rows
            for identifier, rows in postings.items()
            if len(rows) <= max_docs
        }

    def __len__(self) -> int:
        return len(self._postings)

    def matching_rows(self, query: str) -> list[int]:
        """Rows of documents sharing a rare identifier with ``query``."""
        rows: set[int] = set()
        for identifier in extract_identifiers(query):
            rows.update(self._postings.get(identifier, ()))
        return sorted(rows)
