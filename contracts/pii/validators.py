"""Checksums and plausibility checks for single candidate values (stage 2 of detection).

Each function takes one candidate string found by a pattern and says whether it is a real identifier.
They never raise on bad input and never echo it: a value that does not validate is simply not PII of
that kind. Digit-only checks use ASCII digits on purpose: ``int()`` would accept Arabic-Indic or
full-width digits, which no Russian register issues.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime

from stdnum import iban as _iban
from stdnum import luhn as _luhn
from stdnum.exceptions import ValidationError
from stdnum.ru import inn as _inn

CARD_LENGTHS = range(13, 20)
# Issuer prefixes of the networks in use: 2 (Mir, Mastercard 2-series), 3 (Amex, JCB, Diners),
# 4 (Visa), 5 (Mastercard, Maestro), 6 (Discover, UnionPay, Maestro). A Luhn-valid run starting with
# 0, 1, 7, 8 or 9 is far more likely an account or order number than a card.
CARD_FIRST_DIGITS = frozenset("23456")
_ASCII_DIGITS = re.compile(r"[0-9]+")


def digits(text: str) -> str:
    """The ASCII digits of `text`, in order (separators dropped)."""
    return "".join(_ASCII_DIGITS.findall(text))


def is_card(text: str) -> bool:
    """A payment card number: 13–19 digits, a known issuer prefix, Luhn check digit."""
    number = digits(text)
    if len(number) not in CARD_LENGTHS or number[0] not in CARD_FIRST_DIGITS:
        return False
    return _luhn.is_valid(number)


def is_inn(text: str) -> bool:
    """A Russian taxpayer number (INN): 10 digits for companies, 12 for people, with check digits."""
    number = digits(text)
    if len(number) not in (10, 12) or number.startswith("00"):
        return False
    return bool(_inn.is_valid(number))


def snils_check_digits(first_nine: str) -> str:
    """The two SNILS check digits for the first nine digits (Pension Fund rule).

    s = sum of dᵢ·(9−i) for i = 0..8; above 101 take s mod 101; then 100 and 101 become 00.
    """
    total = sum(int(d) * (9 - i) for i, d in enumerate(first_nine))
    if total > 101:
        total %= 101
    if total in (100, 101):
        total = 0
    return f"{total:02d}"


def is_snils(text: str) -> bool:
    """A Russian insurance account number (SNILS): 11 digits, last two a checksum of the first nine."""
    number = digits(text)
    if len(number) != 11 or number[:9] == "000000000":
        return False
    return snils_check_digits(number[:9]) == number[9:]


def _passport_years(today: datetime | None = None) -> frozenset[str]:
    """Series digits 3–4 are the year the blank was printed: 1997 onwards, up to next year."""
    year = (today or datetime.now(UTC)).year
    return frozenset({"97", "98", "99"} | {f"{y % 100:02d}" for y in range(2000, year + 2)})


_PASSPORT_YEARS = _passport_years()


def is_passport_ru(text: str) -> bool:
    """A plausible Russian internal passport series+number: region 01–99, blank year 1997+, 6 digits.

    There is no checksum, so this only rejects what cannot be a passport; the caller must also have
    context (a passport-like column name or keyword), or any ten digits would pass.
    """
    number = digits(text)
    if len(number) != 10:
        return False
    return number[:2] != "00" and number[2:4] in _PASSPORT_YEARS and number[4:] != "000000"


def is_iban(text: str) -> bool:
    """An IBAN with a valid mod-97 checksum and the country's BBAN format (python-stdnum)."""
    try:
        return bool(_iban.is_valid(text))
    except (ValidationError, ValueError, KeyError):
        return False


def is_ip(text: str) -> bool:
    """An IPv4 or IPv6 address other than the unspecified one (0.0.0.0, ::)."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not address.is_unspecified


def is_email(text: str) -> bool:
    """The shape checks a regex cannot make: no empty, leading, trailing or doubled dots."""
    local, _, domain = text.rpartition("@")
    if not local or len(local) > 64 or len(domain) > 253:
        return False
    for part in (local, domain):
        if part.startswith(".") or part.endswith(".") or ".." in part:
            return False
    return all(label and not label.startswith("-") and not label.endswith("-") for label in domain.split("."))
