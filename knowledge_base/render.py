"""Turning a service guide into the answer text a citizen reads on a phone.

One short labelled line per fact, materials as a numbered list, long free text
cut with a pointer to the source page. The labels are the table ``LABELS``.
"""

from __future__ import annotations

from knowledge_base.schema import ServiceGuide

LABELS: dict[str, str] = {
    "department": "办理部门",
    "eligibility": "受理条件",
    "required_materials": "申请材料",
    "materials_note": "材料说明",
    "process": "办理流程",
    "legal_days": "法定时限",
    "promised_days": "承诺时限",
    "time_note": "时限说明",
    "fee": "收费",
    "locations": "办理地点",
    "online": "网上办理",
    "hotline": "咨询电话",
    "locality_note": "提示",
    "source": "来源",
}
ONLINE_WORDING = {True: "可以网上办理", False: "需到现场办理"}
WORKING_DAYS = "{days}个工作日"
CUT_MARK = "……（详见来源页面）"
MAX_FIELD_CHARS = 300


def _cut(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + CUT_MARK


def _line(key: str, value: str | None) -> list[str]:
    return [f"{LABELS[key]}：{_cut(value)}"] if value else []


def _numbered(key: str, items: tuple[str, ...]) -> list[str]:
    if not items:
        return []
    return [f"{LABELS[key]}：", *(f"{n}. {item}" for n, item in enumerate(items, 1))]


def _days(key: str, days: int | None) -> list[str]:
    return [] if days is None else _line(key, WORKING_DAYS.format(days=days))


def _online(guide: ServiceGuide) -> list[str]:
    online = guide.online
    parts = (
        [ONLINE_WORDING.get(online.available, "")]
        if online.available is not None
        else []
    )
    parts += [text for text in (online.note, online.url) if text]
    return _line("online", "，".join(part for part in parts if part) or None)


def _source_line(guide: ServiceGuide) -> str | None:
    """``title url`` of the first source; the URL stays last so it can be linked."""
    if not guide.sources:
        return None
    first = guide.sources[0]
    return f"{first.title} {first.url}" if first.title else first.url


def render_guide(guide: ServiceGuide) -> str:
    """The guide as plain text: the name, then one labelled line per known fact.

    Unknown facts (``None`` or empty) are left out rather than shown as blank.
    """
    source = _source_line(guide)
    lines = [
        f"【{guide.name}】",
        *_line("department", guide.department),
        *_line("eligibility", guide.eligibility),
        *_numbered("required_materials", guide.required_materials),
        *_line("materials_note", guide.materials_note),
        *_numbered("process", guide.process),
        *_days("legal_days", guide.legal_days),
        *_days("promised_days", guide.promised_days),
        *_line("time_note", guide.time_note),
        *_line("fee", guide.fee),
        *_line("locations", guide.locations),
        *_online(guide),
        *_line("hotline", guide.hotline),
        *_line("locality_note", guide.locality_note),
        *_line("source", source),
    ]
    return "\n".join(lines)


def render_fields(guide: ServiceGuide) -> dict[str, str]:
    """Each fact a citizen may ask about alone, as the lines ``render_guide`` shows.

    Keys are ``knowledge_base.fields.FIELDS``; a fact the guide does not
    know is left out, so the service falls back to the whole guide.
    """
    parts = {
        "materials": [
            *_numbered("required_materials", guide.required_materials),
            *_line("materials_note", guide.materials_note),
        ],
        "conditions": _line("eligibility", guide.eligibility),
        "time_limit": [
            *_days("legal_days", guide.legal_days),
            *_days("promised_days", guide.promised_days),
            *_line("time_note", guide.time_note),
        ],
        "fee": _line("fee", guide.fee),
        "location": [
            *_line("locations", guide.locations),
            *_line("department", guide.department),
        ],
        "online": _online(guide),
    }
    return {field: "\n".join(lines) for field, lines in parts.items() if lines}
