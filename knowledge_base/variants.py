"""Variants of one service that a query did not ask about.

Catalogues list one service several times: the application itself, its
progress query (…进度查询), its extension (…（延期）), its cancellation,
its replacement. They share nearly all their words, so both legs score
them alike, and "大通证要带啥材料" can land on the progress query. A title
that names a variant whose cue words the query does not use is demoted by
``ScoreConfig.variant_penalty`` (docs/knowledge-base.md, "Variants").
Only guides are checked: FAQ titles are questions, where 查询 is a verb.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """A kind of variant: words that mark it in a title, and in a query."""

    name: str
    in_title: tuple[str, ...]
    cues: tuple[str, ...]


VARIANTS: tuple[Variant, ...] = (
    # A query service: its progress (…办证进度查询) or some record (…信息查询).
    Variant(
        "lookup",
        ("查询", "办证进度", "办理进度"),
        ("查", "看", "搜", "找", "进度", "到哪", "办到", "状态", "结果"),
    ),
    Variant(
        "extension",
        ("延期", "延续"),
        ("延期", "延续", "续期", "续", "到期", "过期", "延长"),
    ),
    Variant("cancellation", ("注销",), ("注销", "取消", "不开", "不干", "关", "撤")),
    Variant("change", ("变更",), ("变更", "更改", "改", "换", "更正", "修改")),
    Variant(
        "replacement",
        ("补发", "补办", "补领", "遗失"),
        ("补", "丢", "遗失", "掉", "损", "坏", "没了"),
    ),
    Variant("renewal", ("换发", "换领", "换证"), ("换", "过期", "到期", "旧")),
)


def unasked(title: str, query: str, variants: Sequence[Variant] = VARIANTS) -> bool:
    """Whether ``title`` names a variant that ``query`` shows no sign of asking."""
    for variant in variants:
        if any(word in title for word in variant.in_title) and not any(
            cue in query for cue in variant.cues
        ):
            return True
    return False
