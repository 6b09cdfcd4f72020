from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db import Citizen, Licence
from backend.seed import (
    BUSINESS_LICENCE,
    FICTIONAL_AREA,
    SAMPLE_CITIZENS,
    credit_check_character,
    credit_code,
    seed,
)
from bot.id_numbers import is_valid_id_number
from bot.privacy import redact


def _counts(engine) -> tuple[int, int]:
    with Session(engine, future=True) as session:
        citizens = session.execute(select(func.count()).select_from(Citizen))
        licences = session.execute(select(func.count()).select_from(Licence))
        return citizens.scalar_one(), licences.scalar_one()


def test_seeding_twice_adds_nothing_the_second_time(engine):
    with Session(engine, future=True) as session:
        first = seed(session)
    with Session(engine, future=True) as session:
        second = seed(session)

    licences = sum(len(sample.licences) for sample in SAMPLE_CITIZENS)
    assert first == len(SAMPLE_CITIZENS) + licences
    assert second == 0
    assert _counts(engine) == (len(SAMPLE_CITIZENS), licences)


def test_seed_has_five_or_more_citizens_some_with_a_business_licence():
    holders = [
        sample
        for sample in SAMPLE_CITIZENS
        if any(licence.kind == BUSINESS_LICENCE for licence in sample.licences)
    ]
    assert len(SAMPLE_CITIZENS) >= 5
    assert 0 < len(holders) < len(SAMPLE_CITIZENS)


def test_sample_id_numbers_are_valid_and_in_the_fictional_area():
    for sample in SAMPLE_CITIZENS:
        number = sample.id_number
        assert is_valid_id_number(number), sample.name
        assert number.startswith(FICTIONAL_AREA)
        assert number[6:14] == sample.birth


def test_sample_personal_data_is_masked_by_redact():
    for sample in SAMPLE_CITIZENS:
        text = f"{sample.id_number} {sample.phone}"
        for licence in sample.licences:
            if licence.kind == BUSINESS_LICENCE:
                text += f" {licence.number}"
        masked = redact(text)
        assert sample.id_number not in masked
        assert sample.phone not in masked
        assert "示范市" in sample.address


def test_credit_check_character_matches_the_published_example():
    # 91350100M000100Y43 is the example code used in GB 32100-2015 guidance.
    assert credit_check_character("91350100M000100Y4") == "3"


def test_sample_credit_codes_are_in_the_fictional_area_with_a_valid_check():
    code = credit_code(7)
    assert code[:8] == "92" + FICTIONAL_AREA
    assert code[17] == credit_check_character(code[:17])
