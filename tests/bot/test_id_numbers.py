from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.id_numbers import (
    birth_date,
    check_character,
    is_valid_id_number,
    normalize_id_number,
)

TODAY = date(2026, 12, 3)


def oracle_is_valid(id_number: str) -> bool:
    """ISO 7064 MOD 11-2 by its definition: sum of a_i * 2^(18-i) is 1 mod 11."""
    values = [10 if char == "X" else int(char) for char in id_number]
    return sum(value * 2 ** (17 - i) for i, value in enumerate(values)) % 11 == 1


@pytest.mark.parametrize(
    "id_number",
    [
        "11010519491231002X",  # the example printed in GB 11643-1999
        "990101199007250224",
        "990101200001010006",
    ],
)
def test_known_numbers_are_valid(id_number):
    assert oracle_is_valid(id_number)
    assert is_valid_id_number(id_number, today=TODAY)


@pytest.mark.parametrize(
    ("id_number", "why"),
    [
        ("110105194912310021", "wrong check digit"),
        ("11010519491231002", "17 characters"),
        ("11010519491231002XX", "19 characters"),
        ("11010519491231002x", "not normalized"),
        ("1101051949123100XX", "X before the end"),
        ("110105194902300028", "30 February"),
        ("110105189912310020", "born before 1900"),
        ("110105202712310020", "born after today"),
        ("１１０１０５１９４９１２３１００２Ｘ", "full-width digits"),
        ("１１０１０５１９４９１２３１００２X", "full-width digits, ASCII X"),
        ("٩٩٠١٠١١٩٩٠٠٧٢٥٠٢٢٤", "Arabic-Indic digits"),
    ],
)
def test_malformed_numbers_are_invalid(id_number, why):
    assert not is_valid_id_number(id_number, today=TODAY), why


def test_normalize_strips_blanks_and_uppercases_x():
    assert normalize_id_number(" 11010519491231002x\n") == "11010519491231002X"


def test_birth_date_is_none_for_an_impossible_date():
    assert birth_date("110105194913310020") is None
    assert birth_date("110105194912310020") == date(1949, 12, 31)


@pytest.mark.parametrize("first17", ["1234", "1101051949123100A", "１" * 17])
def test_check_character_refuses_anything_but_17_ascii_digits(first17):
    with pytest.raises(ValueError, match="17 digits"):
        check_character(first17)


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_character_agrees_with_the_definition(first17):
    assert oracle_is_valid(first17 + check_character(first17))


@given(
    st.text(alphabet="0123456789", min_size=17, max_size=17),
    st.integers(min_value=0, max_value=16),
    st.integers(min_value=1, max_value=9),
)
def test_any_single_digit_error_is_caught(first17, position, shift):
    number = first17 + check_character(first17)
    wrong = str((int(number[position]) + shift) % 10)
    tampered = number[:position] + wrong + number[position + 1 :]
    assert not oracle_is_valid(tampered)
    assert check_character(tampered[:17]) != tampered[17]
