"""The knowledge base's records and their validation (docs/knowledge-base.md).

Guides and FAQ entries arrive as plain mappings from YAML or JSON Lines; the
functions here turn them into frozen records or raise ``InvalidDataError``
naming the file and the entry's id.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from knowledge_base.errors import InvalidDataError

DocumentKind = Literal["guide", "faq"]

GUIDE_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
AUDIENCES = ("personal", "business")


@dataclass(frozen=True)
class Source:
    """A public page the facts come from."""

    url: str
    title: str = ""


@dataclass(frozen=True)
class OnlineService:
    """Whether and where the item can be done online (网上办理)."""

    available: bool | None = None
    url: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ServiceGuide:
    """One 办事指南: what a citizen needs to know to get one service item done."""

    id: str
    name: str
    department: str
    eligibility: str
    required_materials: tuple[str, ...]
    sources: tuple[Source, ...]
    audience: str | None = None
    basic_code: str | None = None
    materials_note: str | None = None
    process: tuple[str, ...] = ()
    legal_days: int | None = None
    promised_days: int | None = None
    time_note: str | None = None
    fee: str | None = None
    locations: str | None = None
    online: OnlineService = field(default_factory=OnlineService)
    legal_basis: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    locality_note: str | None = None
    hotline: str | None = None
    last_checked: str | None = None
    sample: bool = False


@dataclass(frozen=True)
class FaqEntry:
    """One 政策问答 entry: a question and the official answer."""

    id: str
    question: str
    answer: str
    department: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Document:
    """The unit the index holds: one guide or one FAQ entry, ready to search.

    Attributes:
        doc_id: unique across the index (``guide-<id>`` or the FAQ id).
        kind: ``guide`` or ``faq``.
        title: the guide's name or the FAQ question.
        text: what the dense leg embeds for the title vector (see
            ``knowledge_base.documents``).
        body_text: what it embeds for the body vector: the title with a
            longer start of the answer.
        keyword_text: what the BM25 leg tokenises.
        answer: what the citizen is shown.
        identifiers: exact strings (item codes, 文号, hotlines) that, when a
            query quotes one, boost this document.
        fields: a guide's facts one by one (``knowledge_base.fields``), for
            questions about one of them; empty for FAQ entries.
    """

    doc_id: str
    kind: DocumentKind
    title: str
    text: str
    keyword_text: str
    answer: str
    department: str | None = None
    source_url: str | None = None
    identifiers: tuple[str, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)
    body_text: str = ""


def _fail(origin: str, entry_id: object, message: str) -> InvalidDataError:
    return InvalidDataError(f"{origin}: entry {entry_id!r}: {message}")


# Folded YAML (``>-``) joins lines with a space, which Chinese text never has
# between two CJK characters or full-width punctuation marks.
_CJK = "\u3000-\u303f\u3400-\u9fff\uff00-\uffef"
_SPACE_BESIDE_CJK = re.compile(rf"(?<=[{_CJK}])[ \t\n]+(?=[{_CJK}])")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError("expected text")
    text = _SPACE_BESIDE_CJK.sub("", str(value).strip())
    return text or None


def _required_text(value: Any) -> str:
    text = _text(value)
    if text is None:
        raise TypeError("must be non-empty text")
    return text


def _text_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise TypeError("expected a list of text")
    return tuple(_required_text(item) for item in value)


def _days(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError("expected a whole number of days or null")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("expected true or false")
    return value


def _date(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    text = _required_text(value)
    dt.date.fromisoformat(text)
    return text


def _audience(value: Any) -> str:
    if value not in AUDIENCES:
        raise TypeError(f"expected one of {', '.join(AUDIENCES)}")
    return value


def _sources(value: Any) -> tuple[Source, ...]:
    if not isinstance(value, list) or not value:
        raise TypeError("expected at least one source")
    sources = []
    for item in value:
        if not isinstance(item, Mapping) or set(item) - {"url", "title"}:
            raise TypeError("each source is {url, title}")
        url = _required_text(item.get("url"))
        if not url.startswith(("https://", "http://")):
            raise TypeError(f"source url must start with http(s)://, got {url!r}")
        sources.append(Source(url=url, title=_text(item.get("title")) or ""))
    return tuple(sources)


def _online(value: Any) -> OnlineService:
    if value is None:
        return OnlineService()
    if not isinstance(value, Mapping) or set(value) - {"available", "url", "note"}:
        raise TypeError("expected {available, url, note}")
    available = value.get("available")
    if available is not None and not isinstance(available, bool):
        raise TypeError("online.available must be true, false or null")
    return OnlineService(
        available=available, url=_text(value.get("url")), note=_text(value.get("note"))
    )


# field name → (parser, required). The order is the schema's order.
_GUIDE_FIELDS: dict[str, tuple[Callable[[Any], Any], bool]] = {
    "id": (_required_text, True),
    "name": (_required_text, True),
    "basic_code": (_text, False),
    "audience": (_audience, True),
    "department": (_required_text, True),
    "eligibility": (_required_text, True),
    "required_materials": (_text_list, True),
    "materials_note": (_text, False),
    "process": (_text_list, False),
    "legal_days": (_days, False),
    "promised_days": (_days, False),
    "time_note": (_text, False),
    "fee": (_text, False),
    "locations": (_text, False),
    "online": (_online, False),
    "legal_basis": (_text_list, False),
    "questions": (_text_list, False),
    "locality_note": (_text, False),
    "hotline": (_text, False),
    "sources": (_sources, True),
    "last_checked": (_date, True),
    "sample": (_flag, True),
}


def _parse_fields(
    raw: Mapping[str, Any],
    spec: Mapping[str, tuple[Callable[[Any], Any], bool]],
    origin: str,
    entry_id: object,
) -> dict[str, Any]:
    unknown = sorted(set(raw) - set(spec))
    if unknown:
        raise _fail(origin, entry_id, f"unknown field(s): {', '.join(unknown)}")
    missing = [
        name for name, (_, required) in spec.items() if required and name not in raw
    ]
    if missing:
        raise _fail(origin, entry_id, f"missing field(s): {', '.join(missing)}")
    values = {}
    for name, (parse, _) in spec.items():
        if name not in raw:
            continue
        try:
            values[name] = parse(raw[name])
        except (TypeError, ValueError) as exc:
            raise _fail(origin, entry_id, f"field {name!r}: {exc}") from exc
    return values


def guide_from_mapping(raw: Any, origin: str) -> ServiceGuide:
    """Check one guide from a YAML file and return it as a record.

    Args:
        raw: the mapping read from the file.
        origin: the file name, used in error messages.

    Raises:
        InvalidDataError: a missing, unknown or malformed field.
    """
    if not isinstance(raw, Mapping):
        raise InvalidDataError(f"{origin}: each guide must be a mapping")
    entry_id = raw.get("id", "<no id>")
    values = _parse_fields(raw, _GUIDE_FIELDS, origin, entry_id)
    if not GUIDE_ID.match(values["id"]):
        raise _fail(origin, entry_id, "id must be lowercase words joined by '-'")
    if not values["required_materials"] and not values.get("materials_note"):
        raise _fail(origin, entry_id, "empty required_materials needs materials_note")
    return ServiceGuide(**values)


_FAQ_FIELDS: dict[str, tuple[Callable[[Any], Any], bool]] = {
    "id": (_required_text, True),
    "question": (_required_text, True),
    "answer": (_required_text, True),
    "department": (_text, False),
    "source": (_text, False),
}


def faq_from_mapping(raw: Any, origin: str) -> FaqEntry:
    """Check one FAQ object (a JSON Lines row) and return it as a record.

    Raises:
        InvalidDataError: a missing, unknown or malformed field.
    """
    if not isinstance(raw, Mapping):
        raise InvalidDataError(f"{origin}: expected a JSON object")
    values = _parse_fields(raw, _FAQ_FIELDS, origin, raw.get("id", "<no id>"))
    return FaqEntry(**values)


def check_unique(ids: Iterable[tuple[str, str]]) -> None:
    """Raise when an id occurs twice; ``ids`` yields ``(id, origin)`` pairs.

    Raises:
        InvalidDataError: naming the id and both places it occurs.
    """
    seen: dict[str, str] = {}
    for entry_id, origin in ids:
        if entry_id in seen:
            raise InvalidDataError(
                f"{origin}: duplicate id {entry_id!r} (first in {seen[entry_id]})"
            )
        seen[entry_id] = origin
