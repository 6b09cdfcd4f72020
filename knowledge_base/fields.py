"""Questions about one fact of a guide: materials, time, place, fee, online, conditions.

"开饭店要带什么材料" wants the materials of the matched guide, not the whole
guide. ``detect_field`` reads which fact a query asks for from the cue words
in ``CUES``; the index stores each guide's facts rendered one per field
(``knowledge_base.render.render_fields``), so the service can return just
that part with the guide cited.
"""

from __future__ import annotations

import re
from typing import Literal

Field = Literal["materials", "time_limit", "fee", "location", "online", "conditions"]

# Checked in this order; the first field with a cue in the query wins. A
# question names one fact far more often than two, and when it names two
# ("网上能办吗，要带什么") the earlier entries are the more specific cues.
CUES: tuple[tuple[Field, str], ...] = (
    (
        "materials",
        r"材料|资料|带(什么|啥|哪些)|准备(什么|啥|哪些)"
        r"|(要|需要|得)?(提交|提供|交)(什么|啥|哪些)"
        r"|(要|需要|提交|提供)(什么|啥|哪些)(证件|证明|东西|文件)",
    ),
    (
        "time_limit",
        r"多久|多长时间|几天|多少天|时限|几个工作日|多少个工作日|要等"
        r"|(什么时候|啥时候|多快)(能|可以)?(拿|办好|办完|下来|出来|到手)",
    ),
    (
        "fee",
        r"收费|费用|多少钱|要钱|交钱|花钱|收钱|免费|工本费|要不要钱"
        r"|(交|付|收)[^，。？?]{0,4}费",
    ),
    # Where to look something up is the online service, not an office.
    (
        "online",
        r"网上|线上|网办|在线|网站|手机上|手机(能|可以)|(App|APP|app|小程序|公众号)(上|里)"
        r"|不用跑|不跑腿|一网通办|粤省事|掌上"
        r"|(在哪|哪里|哪儿|去哪|怎么|如何)(能|可以|才能)?查",
    ),
    (
        "location",
        r"在哪|哪里办|去哪|到哪|哪儿|什么地方|啥地方|地址|窗口"
        r"|哪个(部门|单位|机关|地方)(办|受理|管)",
    ),
    # Last: "能…吗" asks whether the citizen may, when nothing else is asked.
    (
        "conditions",
        r"条件|资格|符合|满足什么|要满|有(什么)?限制|够不够|谁(能|可以)"
        r"|(什么|哪些)人(能|可以)|要求|能不能|可不可以"
        r"|能[^，。？?]{0,12}吗|可以[^，。？?]{0,12}吗",
    ),
)
_PATTERNS = tuple((field, re.compile(pattern)) for field, pattern in CUES)
FIELDS: tuple[Field, ...] = tuple(field for field, _ in CUES)


def detect_field(query: str) -> Field | None:
    """The one fact ``query`` asks about, or ``None`` for the whole guide."""
    for field, pattern in _PATTERNS:
        if pattern.search(query):
            return field
    return None
