"""Fictional citizens and licences for development and tests; idempotent.

Everything here is invented. 身份证号 use the area code 990101, which no
place has (province codes stop at 82, and 9 starts foreigners' permanent
residence numbers, whose next two digits are a province), so a valid check
digit can never point at a real person. No mobile range is reserved for
fiction in China; the numbers follow an obviously made-up pattern. 营业执照
numbers are 统一社会信用代码 in the same invented area, with valid check
characters (GB 32100-2015).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import Citizen, Licence
from bot.id_numbers import check_character

logger = logging.getLogger(__name__)

FICTIONAL_AREA = "990101"
BUSINESS_LICENCE = "营业执照"
FOOD_LICENCE = "食品经营许可证"

# GB 32100-2015: 31 characters (no I O S V Z), weights 3^(i-1) mod 31.
_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@dataclass(frozen=True)
class SampleLicence:
    kind: str
    number: str
    holder: str


@dataclass(frozen=True)
class SampleCitizen:
    name: str
    birth: str  # YYYYMMDD
    sequence: str  # three digits; the last is odd for men, even for women
    phone: str
    address: str
    licences: tuple[SampleLicence, ...] = ()

    @property
    def id_number(self) -> str:
        first17 = FICTIONAL_AREA + self.birth + self.sequence
        return first17 + check_character(first17)


def credit_check_character(first17: str) -> str:
    """The 18th character of a 统一社会信用代码 (GB 32100-2015)."""
    total = sum(
        _CREDIT_CHARS.index(char) * weight
        for char, weight in zip(first17, _CREDIT_WEIGHTS, strict=True)
    )
    return _CREDIT_CHARS[(31 - total % 31) % 31]


def credit_code(serial: int) -> str:
    """A 统一社会信用代码 for an invented 个体工商户 (registration 9, type 2)."""
    first17 = f"92{FICTIONAL_AREA}{serial:09d}"
    return first17 + credit_check_character(first17)


SAMPLE_CITIZENS: tuple[SampleCitizen, ...] = (
    SampleCitizen(
        name="张晓明",
        birth="19850312",
        sequence="011",
        phone="13000000001",
        address="示范市示范区人民路18号3单元201室",
        licences=(
            SampleLicence(BUSINESS_LICENCE, credit_code(1), "示范市示范区晓明小吃店"),
        ),
    ),
    SampleCitizen(
        name="李春梅",
        birth="19900725",
        sequence="022",
        phone="13000000002",
        address="示范市新城区建设街6号",
        licences=(
            SampleLicence(BUSINESS_LICENCE, credit_code(2), "示范市新城区春梅面馆"),
            SampleLicence(FOOD_LICENCE, "JY29901010000021", "示范市新城区春梅面馆"),
        ),
    ),
    SampleCitizen(
        name="王建国",
        birth="19781102",
        sequence="031",
        phone="13000000003",
        address="示范市老城区和平里12号",
    ),
    SampleCitizen(
        name="赵丽娟",
        birth="19950130",
        sequence="042",
        phone="13000000004",
        address="示范市高新区科技路100号2号楼",
    ),
    SampleCitizen(
        name="陈志强",
        birth="19820909",
        sequence="051",
        phone="13000000005",
        address="示范市示范区滨河路7号",
        licences=(
            SampleLicence(BUSINESS_LICENCE, credit_code(3), "示范市示范区志强便利店"),
        ),
    ),
    SampleCitizen(
        name="孙美玲",
        birth="20001201",
        sequence="062",
        phone="13000000006",
        address="示范市新城区学府路22号",
    ),
)


def seed(session: Session) -> int:
    """Add the sample citizens and licences that are missing.

    Returns:
        How many rows were added (0 when everything was already there).
    """
    added = 0
    for sample in SAMPLE_CITIZENS:
        if session.get(Citizen, sample.id_number) is None:
            session.add(
                Citizen(
                    id_number=sample.id_number,
                    name=sample.name,
                    phone=sample.phone,
                    address=sample.address,
                )
            )
            added += 1
        for licence in sample.licences:
            added += _add_licence(session, sample.id_number, licence)
    session.commit()
    logger.info("backend.seed.done", extra={"added": added})
    return added


def _add_licence(session: Session, id_number: str, licence: SampleLicence) -> int:
    found = session.execute(
        select(Licence.id).where(
            Licence.kind == licence.kind, Licence.number == licence.number
        )
    ).first()
    if found is not None:
        return 0
    session.add(
        Licence(
            citizen_id_number=id_number,
            kind=licence.kind,
            number=licence.number,
            holder=licence.holder,
        )
    )
    return 1
