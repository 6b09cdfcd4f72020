"""Reading guides and FAQ from disk into checked records.

Three inputs: a folder of guide YAML files (our schema), FAQ JSON Lines, and a
guide catalogue in JSON Lines shaped like the 2021 Guangdong crawl, so that an
operator can load a whole provincial catalogue.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from knowledge_base.errors import InvalidDataError
from knowledge_base.input_files import read_json_lines, read_yaml
from knowledge_base.schema import (
    FaqEntry,
    OnlineService,
    ServiceGuide,
    Source,
    check_unique,
    faq_from_mapping,
    guide_from_mapping,
)

logger = logging.getLogger(__name__)

CATALOGUE_FIELDS = (
    "task_code",
    "item_name",
    "department",
    "accept_conditions",
    "materials",
    "location",
    "time_field_a",
    "time_field_b",
    "fee_or_short_name_raw",
    "platform",
    "source_url",
)
# The catalogue writes "无" for an empty field.
_NONE_MARKERS = frozenset({"", "无", "暂无"})
_WORKING_DAYS = re.compile(r"^(\d+)\s*[(（]工作日[)）]$")
_FEE_WORDS = ("费", "元", "收取")
_LOCATION_PREFIX = "办理地点："


def load_guides(folder: Path) -> list[ServiceGuide]:
    """Read every ``*.yml`` / ``*.yaml`` guide file in ``folder``.

    Raises:
        InvalidDataError: the folder is missing, a file is not YAML, or a
            guide breaks the schema or repeats an id.
    """
    if not folder.is_dir():
        raise InvalidDataError(f"guide folder not found: {folder}")
    paths = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
    guides: list[tuple[ServiceGuide, str]] = []
    for path in paths:
        guides.extend((guide, path.name) for guide in _read_guide_file(path))
    check_unique((guide.id, origin) for guide, origin in guides)
    logger.debug("kb.guides.loaded", extra={"files": len(paths), "guides": len(guides)})
    return [guide for guide, _ in guides]


def _read_guide_file(path: Path) -> list[ServiceGuide]:
    raw = read_yaml(path)
    if not isinstance(raw, dict) or set(raw) != {"topic", "guides"}:
        raise InvalidDataError(
            f"{path.name}: expected exactly the keys topic and guides"
        )
    if not isinstance(raw["guides"], list):
        raise InvalidDataError(f"{path.name}: guides must be a list")
    return [guide_from_mapping(item, origin=path.name) for item in raw["guides"]]


def load_faq(path: Path) -> list[FaqEntry]:
    """Read FAQ JSON Lines: ``{"id", "question", "answer", "department"?, "source"?}``.

    Raises:
        InvalidDataError: naming the line number of a bad line or duplicate id.
    """
    entries = [
        (faq_from_mapping(raw, origin=f"{path.name}:{number}"), f"{path.name}:{number}")
        for number, raw in read_json_lines(path)
    ]
    check_unique((entry.id, origin) for entry, origin in entries)
    return [entry for entry, _ in entries]


def load_guide_catalogue(path: Path) -> list[ServiceGuide]:
    """Read a guide catalogue in the Guangdong 2021 JSON Lines shape.

    Extra keys are ignored; the keys in ``CATALOGUE_FIELDS`` are required.

    Raises:
        InvalidDataError: naming the line number of a bad line or duplicate code.
    """
    guides = []
    for number, raw in read_json_lines(path):
        origin = f"{path.name}:{number}"
        guides.append((_catalogue_guide(raw, origin), origin))
    check_unique((guide.id, origin) for guide, origin in guides)
    return [guide for guide, _ in guides]


def _catalogue_guide(raw: Any, origin: str) -> ServiceGuide:
    if not isinstance(raw, dict):
        raise InvalidDataError(f"{origin}: expected a JSON object")
    missing = [name for name in CATALOGUE_FIELDS if name not in raw]
    if missing:
        raise InvalidDataError(f"{origin}: missing field(s): {', '.join(missing)}")
    code = _clean(raw["task_code"])
    name = _clean(raw["item_name"])
    if code is None or name is None:
        raise InvalidDataError(f"{origin}: task_code and item_name must be non-empty")
    materials = raw["materials"]
    if not isinstance(materials, list):
        raise InvalidDataError(f"{origin}: entry {code!r}: materials must be a list")
    legal_days, promised_days, time_note = _catalogue_times(
        raw["time_field_a"], raw["time_field_b"]
    )
    return ServiceGuide(
        id=code,
        name=name,
        department=_clean(raw["department"]) or "",
        eligibility=_clean(raw["accept_conditions"]) or "",
        required_materials=tuple(t for m in materials if (t := _clean(m))),
        sources=_catalogue_sources(raw["source_url"], name),
        legal_days=legal_days,
        promised_days=promised_days,
        time_note=time_note,
        fee=_catalogue_fee(raw["fee_or_short_name_raw"]),
        locations=_catalogue_location(raw["location"]),
        online=_catalogue_online(raw["platform"]),
        hotline=_clean(raw.get("consult_phone")),
    )


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    return None if text in _NONE_MARKERS else text


def _catalogue_times(
    first: Any, second: Any
) -> tuple[int | None, int | None, str | None]:
    """Both ``N(工作日)``: 法定 then 承诺 days; otherwise office hours, as text."""
    first_text, second_text = _clean(first), _clean(second)
    first_days = _WORKING_DAYS.match(first_text or "")
    second_days = _WORKING_DAYS.match(second_text or "")
    if first_days and second_days:
        return int(first_days.group(1)), int(second_days.group(1)), None
    note = "；".join(text for text in (first_text, second_text) if text)
    return None, None, note or None


def _catalogue_fee(value: Any) -> str | None:
    """The column holds a fee statement or, in some records, a short name."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text in _NONE_MARKERS:
        # The source page's fee column reads "无"; show it as the source says.
        return "无" if text == "无" else None
    return text if any(word in text for word in _FEE_WORDS) else None


def _catalogue_location(value: Any) -> str | None:
    text = _clean(value)
    if text and text.startswith(_LOCATION_PREFIX):
        text = text[len(_LOCATION_PREFIX) :].strip() or None
    return text


def _catalogue_online(value: Any) -> OnlineService:
    platform = _clean(value)
    if platform is None:
        return OnlineService()
    return OnlineService(available=True, note=platform)


def _catalogue_sources(url: Any, name: str) -> tuple[Source, ...]:
    text = _clean(url)
    if text is None or not text.startswith(("https://", "http://")):
        return ()
    return (Source(url=text, title=name),)
