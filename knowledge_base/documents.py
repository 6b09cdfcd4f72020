"""From guides and FAQ entries to the documents the index holds.

What each leg sees is set by ``TextPolicy``: the dense leg embeds the title
plus the start of the body; the keyword leg reads the title plus a longer
start. docs/knowledge-base.md records the measurements behind the defaults.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from knowledge_base.identifiers import extract_identifiers
from knowledge_base.render import render_fields, render_guide
from knowledge_base.schema import Document, FaqEntry, ServiceGuide

GUIDE_PREFIX = "guide-"


@dataclass(frozen=True)
class TextPolicy:
    """How much of a document's body each search leg reads.

    Attributes:
        faq_embed_chars: answer characters appended to a FAQ question for
            the dense leg.
        guide_embed_chars: body characters (department, questions,
            eligibility, materials) appended to a guide's name for the dense
            leg; guides that share a name differ only there.
        keyword_chars: body characters appended to the title for BM25.
        faq_body_chars, guide_body_chars: body characters appended to the
            title for the second, body vector of the dense leg.
    """

    faq_embed_chars: int = 0
    guide_embed_chars: int = 200
    keyword_chars: int = 400
    faq_body_chars: int = 150
    guide_body_chars: int = 400

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def guide_doc_id(guide_id: str) -> str:
    """The document id of a guide: ``guide-<id>``."""
    return GUIDE_PREFIX + guide_id


def _join(*parts: str | None) -> str:
    return "\n".join(part for part in parts if part)


def guide_document(guide: ServiceGuide, policy: TextPolicy) -> Document:
    """One guide as a document; the answer is the rendered guide."""
    title = guide.name
    body = _join(
        guide.department,
        "；".join(guide.questions),
        guide.eligibility,
        "；".join(guide.required_materials),
    )
    answer = render_guide(guide)
    identifiers = extract_identifiers(answer) | {guide.id.upper()}
    if guide.basic_code:
        identifiers.add(guide.basic_code.upper())
    return Document(
        doc_id=guide_doc_id(guide.id),
        kind="guide",
        title=title,
        text=_join(title, body[: policy.guide_embed_chars]),
        body_text=_join(title, body[: policy.guide_body_chars]),
        keyword_text=_join(title, body[: policy.keyword_chars]),
        answer=answer,
        department=guide.department or None,
        source_url=guide.sources[0].url if guide.sources else None,
        identifiers=tuple(sorted(identifiers)),
        fields=render_fields(guide),
    )


def faq_document(entry: FaqEntry, policy: TextPolicy) -> Document:
    """One FAQ entry as a document; the answer is the official answer."""
    return Document(
        doc_id=entry.id,
        kind="faq",
        title=entry.question,
        text=_join(entry.question, entry.answer[: policy.faq_embed_chars]),
        body_text=_join(entry.question, entry.answer[: policy.faq_body_chars]),
        keyword_text=_join(entry.question, entry.answer[: policy.keyword_chars]),
        answer=entry.answer,
        department=entry.department,
        source_url=entry.source,
        identifiers=tuple(
            sorted(extract_identifiers(f"{entry.question}\n{entry.answer}"))
        ),
    )


def build_documents(
    guides: Iterable[ServiceGuide], faq: Iterable[FaqEntry], policy: TextPolicy
) -> list[Document]:
    """Guides first, then FAQ entries, each in input order."""
    return [
        *(guide_document(guide, policy) for guide in guides),
        *(faq_document(entry, policy) for entry in faq),
    ]
