"""Stage-2 validators: valid generated identifiers pass; a changed digit fails where the scheme can tell."""

from __future__ import annotations

import random

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pii_data import card, inn, passport, snils
from stdnum import luhn

from contracts.pii import validators as v

seeds = st.integers(0, 2**32 - 1)


def _change_one_digit(number: str, position: int, new_digit: int) -> str:
    digits = [i for i, ch in enumerate(number) if ch.isdigit()]
    index = digits[position % len(digits)]
    assume(number[index] != str(new_digit))
    return number[:index] + str(new_digit) + number[index + 1 :]


def _snils_residue(number: str) -> int:
    digits = v.digits(number)
    return sum(int(d) * (9 - i) for i, d in enumerate(digits[:9])) % 101


def _inn_residues(number: str) -> tuple[int, ...]:
    digits = v.digits(number)
    if len(digits) == 10:
        weights = [(2, 4, 10, 3, 5, 9, 4, 6, 8)]
    else:
        weights = [(7, 2, 4, 10, 3, 5, 9, 4, 6, 8), (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)]
    return tuple(sum(w * int(d) for w, d in zip(ws, digits, strict=False)) % 11 for ws in weights)


def test_known_numbers() -> None:
    assert v.is_snils("112-233-445 95")
    assert v.is_snils("11223344595")
    assert not v.is_snils("112-233-445 96")
    assert v.is_inn("7707083893")  # Sberbank
    assert not v.is_inn("7707083894")
    assert v.is_card("4111 1111 1111 1111")
    assert not v.is_card("4111 1111 1111 1112")
    assert not v.is_card("8111111111111110")  # Luhn-valid, but no card network starts with 8
    assert v.is_iban("DE89 3704 0044 0532 0130 00")
    assert not v.is_iban("DE88 3704 0044 0532 0130 00")
    assert v.is_ip("192.168.1.10")
    assert v.is_ip("2001:db8::1")
    assert not v.is_ip("::")
    assert not v.is_ip("256.1.1.1")
    assert v.is_email("anna@example.com")
    assert not v.is_email("anna..b@example.com")


def test_passport_plausibility() -> None:
    assert v.is_passport_ru("4512 345678")
    assert v.is_passport_ru("45 97 345678")
    assert not v.is_passport_ru("4589 345678")  # blanks with series year 89 were never printed
    assert not v.is_passport_ru("0012 345678")  # region 00 does not exist
    assert not v.is_passport_ru("4512 000000")


def test_snils_check_digit_rule_edges() -> None:
    """s < 100 as is; 100 and 101 → 00; above 101 mod 101, where a resulting 100 is 00 again."""
    assert v.snils_check_digits("000000001") == "01"  # s = 1
    assert v.snils_check_digits("920000002") == "99"  # s = 9·9 + 2·8 + 2 = 99
    assert v.snils_check_digits("920000003") == "00"  # s = 100
    assert v.snils_check_digits("920000004") == "00"  # s = 101
    assert v.snils_check_digits("920000005") == "01"  # s = 102 → 1
    assert v.snils_check_digits("996000006") == "00"  # s = 201 → 100 → 00
    assert v.snils_check_digits("999999999") == "01"  # s = 405 → 1


@settings(max_examples=150, deadline=None)
@given(seed=seeds, formatted=st.booleans())
def test_generated_snils_are_valid(seed: int, formatted: bool) -> None:
    assert v.is_snils(snils(random.Random(seed), formatted))


@settings(max_examples=300, deadline=None)
@given(seed=seeds, position=st.integers(0, 10), digit=st.integers(0, 9))
def test_snils_single_digit_change_fails_except_the_00_collision(
    seed: int, position: int, digit: int
) -> None:
    """Every changed digit is caught, except when the sum moves between residues 0 and 100.

    The rule maps both 100 and 101 (≡ 0) to "00", so a change that moves the weighted sum from a
    multiple of 101 to 100 more (or back) keeps the check digits: a weakness of SNILS, not of the code.
    """
    original = snils(random.Random(seed), formatted=False)
    changed = _change_one_digit(original, position, digit)
    if v.is_snils(changed):
        assert {_snils_residue(original), _snils_residue(changed)} == {0, 100}


@settings(max_examples=150, deadline=None)
@given(seed=seeds, length=st.sampled_from([10, 12]))
def test_generated_inn_are_valid(seed: int, length: int) -> None:
    assert v.is_inn(inn(random.Random(seed), length))


@settings(max_examples=300, deadline=None)
@given(seed=seeds, length=st.sampled_from([10, 12]), position=st.integers(0, 11), digit=st.integers(0, 9))
def test_inn_single_digit_change_fails_except_the_mod_10_collision(
    seed: int, length: int, position: int, digit: int
) -> None:
    """Caught unless each check sum moves between residues 0 and 10 mod 11 (both give check digit 0)."""
    original = inn(random.Random(seed), length)
    changed = _change_one_digit(original, position, digit)
    if v.is_inn(changed):
        pairs = zip(_inn_residues(original), _inn_residues(changed), strict=True)
        assert all(a == b or {a, b} == {0, 10} for a, b in pairs)


@settings(max_examples=150, deadline=None)
@given(seed=seeds, grouped=st.booleans())
def test_generated_cards_are_valid(seed: int, grouped: bool) -> None:
    assert v.is_card(card(random.Random(seed), grouped))


@settings(max_examples=300, deadline=None)
@given(seed=seeds, position=st.integers(0, 15), digit=st.integers(0, 9))
def test_card_any_single_digit_change_fails(seed: int, position: int, digit: int) -> None:
    """Luhn catches every single-digit error, so no exception is needed here."""
    changed = _change_one_digit(card(random.Random(seed)), position, digit)
    assert not v.is_card(changed)


@settings(max_examples=200, deadline=None)
@given(body=st.text(alphabet="0123456789", min_size=12, max_size=18))
def test_luhn_check_digit_makes_any_body_valid(body: str) -> None:
    number = body + luhn.calc_check_digit(body)
    assert luhn.is_valid(number)
    assert not luhn.is_valid(body + str((int(luhn.calc_check_digit(body)) + 1) % 10))


@settings(max_examples=100, deadline=None)
@given(seed=seeds)
def test_generated_passports_are_plausible(seed: int) -> None:
    assert v.is_passport_ru(passport(random.Random(seed)))


@given(text=st.text(max_size=30))
def test_validators_never_raise(text: str) -> None:
    for check in (v.is_card, v.is_inn, v.is_snils, v.is_passport_ru, v.is_iban, v.is_ip, v.is_email):
        assert check(text) in (True, False)
