"""Generators of valid identifiers and of a table with known PII, shared by the PII tests.

Identifiers are built here rather than taken from Faker where Faker's are not realistic: its ru_RU
passport series use any two "year" digits (real blanks start in 1997), its ru_RU phones use area
codes that do not exist, and its ru_RU cards start with 8.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

import phonenumbers
import polars as pl
from faker import Faker
from stdnum import luhn
from stdnum.ru import inn as inn_mod

from contracts.pii.validators import snils_check_digits

RU_MOBILE_CODES = ("903", "905", "909", "915", "916", "925", "926", "977", "985", "999")


def snils(rng: random.Random, formatted: bool = True) -> str:
    while True:
        nine = f"{rng.randint(1_002_000, 999_999_999):09d}"
        number = nine + snils_check_digits(nine)
        if formatted:
            return f"{number[:3]}-{number[3:6]}-{number[6:9]} {number[9:]}"
        return number


def inn(rng: random.Random, length: int = 12) -> str:
    """A valid INN: 10 digits (company, one check digit) or 12 (person, two)."""
    body = f"{rng.randint(1, 99):02d}" + "".join(str(rng.randint(0, 9)) for _ in range(length - 3))
    if length == 10:
        return body + inn_mod.calc_company_check_digit(body)
    body = body[:10]
    return body + inn_mod.calc_personal_check_digits(body)


def card(rng: random.Random, grouped: bool = False) -> str:
    prefix = rng.choice(("4", "51", "55", "2200", "2204", "6011"))
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(15 - len(prefix)))
    number = body + luhn.calc_check_digit(body)
    if grouped:
        return " ".join(number[i : i + 4] for i in range(0, 16, 4))
    return number


def passport(rng: random.Random) -> str:
    year = rng.choice(["97", "98", "99", *[f"{y:02d}" for y in range(0, 24)]])
    return f"{rng.randint(1, 99):02d}{year} {rng.randint(0, 999_999):06d}"


def phone_ru(rng: random.Random) -> str:
    code = rng.choice(RU_MOBILE_CODES)
    a, b, c = rng.randint(0, 999), rng.randint(0, 99), rng.randint(0, 99)
    style = rng.randrange(4)
    if style == 0:
        return f"+7 {code} {a:03d}-{b:02d}-{c:02d}"
    if style == 1:
        return f"8 ({code}) {a:03d}-{b:02d}-{c:02d}"
    if style == 2:
        return f"+7{code}{a:03d}{b:02d}{c:02d}"
    return f"8{code}{a:03d}{b:02d}{c:02d}"


def phone_intl(rng: random.Random) -> str:
    """Valid foreign numbers (checked with phonenumbers), written in international format."""
    while True:
        region = rng.choice(("GB", "DE", "FR", "US"))
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        national = str(example.national_number)
        national = national[:-3] + f"{rng.randint(0, 999):03d}"
        number = phonenumbers.parse(f"+{example.country_code}{national}")
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def iban(fake: Faker, rng: random.Random) -> str:
    value = fake.iban()
    if rng.random() < 0.5:
        return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return value


RU_NOTES_WITH_NAME = (
    "Звонила {name}, просила перезвонить.",
    "Доверенное лицо — {name}.",
    "Заказ будет получать {name}, предупредите курьера.",
)
EN_NOTES_WITH_NAME = (
    "{name} called, asked for a callback.",
    "Authorised representative: {name}.",
    "Please ask for {name} at the front desk.",
)
RU_NOTES_PLAIN = (
    "Оформлен возврат, вопрос закрыт.",
    "Клиент просил не звонить по выходным.",
    "Предпочитает самовывоз из магазина.",
)
EN_NOTES_PLAIN = (
    "Refund issued, case closed.",
    "Prefers in-store pickup.",
    "Interested in volume discounts.",
)


@dataclass
class TruthTable:
    frame: pl.DataFrame
    pii: dict[str, set[str]] = field(default_factory=dict)  # column → kinds it must be flagged with
    clean: list[str] = field(default_factory=list)  # columns that must not be flagged at all


def truth_table(rows: int = 2_000, seed: int = 7) -> TruthTable:
    """A frame with one column per PII kind, mixed and free-text columns, and clean look-alikes."""
    rng = random.Random(seed)
    ru, en = Faker("ru_RU"), Faker("en_US")
    ru.seed_instance(seed)
    en.seed_instance(seed)
    de = Faker("de_DE")
    de.seed_instance(seed)

    def person(i: int) -> str:
        return ru.name() if i % 2 else f"{en.first_name()} {en.last_name()}"

    def note(i: int) -> str:
        if i % 3 == 0:
            return rng.choice(RU_NOTES_WITH_NAME).format(name=ru.name())
        if i % 3 == 1:
            return rng.choice(EN_NOTES_WITH_NAME).format(name=f"{en.first_name()} {en.last_name()}")
        return rng.choice(RU_NOTES_PLAIN + EN_NOTES_PLAIN)

    start = date(2020, 1, 1)
    data = {
        # PII, one kind per column
        "email": [(ru if i % 2 else en).email() for i in range(rows)],
        "phone": [phone_ru(rng) if i % 3 else phone_intl(rng) for i in range(rows)],
        "card_number": [card(rng, grouped=bool(i % 2)) for i in range(rows)],
        "inn": [inn(rng, 12 if i % 3 else 10) for i in range(rows)],
        "snils": [snils(rng, formatted=bool(i % 2)) for i in range(rows)],
        "passport_number": [passport(rng) for _ in range(rows)],
        "iban": [iban(de if i % 2 else en, rng) for i in range(rows)],
        "ip": [en.ipv4() if i % 2 else en.ipv6() for i in range(rows)],
        "full_name_ru": [ru.name() for _ in range(rows)],
        "full_name_en": [f"{en.first_name()} {en.last_name()}" for _ in range(rows)],
        # several kinds in one column
        "contact": [(ru.email() if i % 2 else phone_ru(rng)) for i in range(rows)],
        "note": [note(i) for i in range(rows)],
        # clean look-alikes
        "customer_id": [str(100_001 + i) for i in range(rows)],
        "amount": [f"{rng.uniform(0, 100_000):.2f}" for _ in range(rows)],
        "created_on": [(start + timedelta(days=rng.randint(0, 1500))).isoformat() for _ in range(rows)],
        "created_at": [
            f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T0{rng.randint(0, 9)}:24:17Z" for _ in range(rows)
        ],
        "city": [(ru if i % 2 else en).city() for i in range(rows)],
        "sku": [f"SKU-{rng.randint(10_000, 99_999)}" for _ in range(rows)],
        "uuid": [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(rows)],
        "sha256": [hashlib.sha256(f"v{i}".encode()).hexdigest() for i in range(rows)],
        "masked_card": ["************" + f"{rng.randint(0, 9999):04d}" for _ in range(rows)],
        "masked_phone": ["**************" + f"{rng.randint(0, 99):02d}" for _ in range(rows)],
        "redacted": ["[REDACTED]"] * rows,
        "segment": [rng.choice(("retail", "smb", "enterprise")) for _ in range(rows)],
        "order_number": [str(rng.randint(1_000_000_000, 9_999_999_999)) for _ in range(rows)],
        "transaction_id": [str(rng.randint(10**15, 10**16 - 1)) for _ in range(rows)],
        "description": [en.sentence(nb_words=10) for _ in range(rows)],
        "opisanie": [ru.sentence(nb_words=10) for _ in range(rows)],
        "version": [f"{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}" for _ in range(rows)],
    }
    pii = {
        "email": {"email"},
        "phone": {"phone"},
        "card_number": {"card"},
        "inn": {"inn"},
        "snils": {"snils"},
        "passport_number": {"passport_ru"},
        "iban": {"iban"},
        "ip": {"ip"},
        "full_name_ru": {"person_name"},
        "full_name_en": {"person_name"},
        "contact": {"email", "phone"},
        "note": {"person_name", "free_text"},
    }
    clean = [c for c in data if c not in pii]
    return TruthTable(pl.DataFrame(data), pii, clean)
