"""Fake people as the example catalog and the benchmark draw them: names, e-mails, phones, cities, notes.

``examples/generate_catalog.py`` (the demo's customers, a few thousand rows drawn one by one) and `pools`
(the benchmark's Faker-made pools) share this vocabulary and `Faces`, so the bench table looks like the
demo's customers. Both outputs are byte-reproducible from a seed: a change to what `Faces` draws, or to
the order it draws in, changes the committed example files and the benchmark's cached tables alike.
"""

from __future__ import annotations

import random

from faker import Faker

CITY_DRAWS = 400  # Faker city names drawn for the Russian cities (duplicates collapse)

# RFC 2606 domains: no fake address can ever reach a real mailbox.
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
EN_CITIES = (
    "London", "Manchester", "Edinburgh", "Dublin", "New York", "Boston", "Chicago", "Seattle", "Toronto",
    "Vancouver", "Sydney", "Melbourne", "Auckland", "Cape Town",
)  # fmt: skip
RU_REGIONS = ("77", "78", "50", "47", "66", "16", "52", "54", "23", "61", "63", "02", "24", "59", "74", "38")
RU_MOBILE_CODES = (
    "900", "903", "905", "909", "912", "915", "916", "921", "925", "926", "950", "977", "985", "999",
)  # fmt: skip
US_AREAS = ("202", "312", "415", "617")  # with 555-01xx: numbers reserved for fiction

RU_NOTES = (
    "Предпочитает доставку курьером.",
    "Просил не звонить по выходным.",
    "Участвует в программе лояльности с первого заказа.",
    "Оформлен возврат, вопрос закрыт.",
    "Интересуется оптовыми скидками.",
    "Получает счета в электронном виде.",
    "Предпочитает самовывоз из магазина.",
    "Жалоба на сроки доставки, компенсация начислена.",
)
EN_NOTES = (
    "Prefers courier delivery.",
    "Asked not to be called on weekends.",
    "Member of the loyalty programme since the first order.",
    "Refund issued, case closed.",
    "Interested in volume discounts.",
    "Receives invoices by e-mail only.",
    "Prefers in-store pickup.",
    "Complained about delivery times; compensation applied.",
)
# Operators' notes naming an e-mail, a phone or another person: what PII scanning has to find in text.
RU_PII_NOTES = (
    "Просьба отправлять счета на {email}.",
    "Звонила {other_name}, просила перезвонить по номеру {phone}.",
    "Новый контактный телефон: {phone}.",
    "Доверенное лицо — {other_name}.",
    "Дублирующий адрес почты {email}, старый не использовать.",
)
EN_PII_NOTES = (
    "Please send invoices to {email}.",
    "{other_name} called, asked for a callback on {phone}.",
    "New contact number: {phone}.",
    "Authorised representative: {other_name}.",
    "Secondary address {email}; do not use the old one.",
)

_TRANSLIT = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
        "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
        "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y",
        "ь": "", "э": "e", "ю": "yu", "я": "ya",
    }
)  # fmt: skip


def latin(name: str) -> str:
    """A name as an e-mail user part: lower case, Cyrillic transliterated, no spaces or apostrophes."""
    return name.lower().translate(_TRANSLIT).replace(" ", "").replace("'", "")


class Faces:
    """One seed's source of fake people: a `random.Random` plus one seeded Faker per locale.

    Every method draws from these three in a fixed order; that order decides the bytes of both the
    example catalog and the benchmark's table, so it must not change.
    """

    def __init__(self, seed: int) -> None:
        # Fake data, not secrets: a seeded PRNG is the point (reproducible bytes).
        self.rng = random.Random(seed)  # noqa: S311
        self.ru = Faker("ru_RU")
        self.ru.seed_instance(seed)
        self.en = Faker("en_US")
        self.en.seed_instance(seed + 1)

    def ru_city_names(self, draws: int = CITY_DRAWS) -> list[str]:
        """Distinct Russian city names from `draws` Faker draws, sorted; a name with '(…)' is left out."""
        return sorted({c for c in (self.ru.city_name() for _ in range(draws)) if "(" not in c})

    def name(self, russian: bool) -> tuple[str, str, str]:
        """(full name as written, first name, last name); Russian names in 'Фамилия Имя Отчество' order."""
        if russian:
            if self.rng.random() < 0.5:
                first, last = self.ru.first_name_male(), self.ru.last_name_male()
                middle = self.ru.middle_name_male()
            else:
                first, last = self.ru.first_name_female(), self.ru.last_name_female()
                middle = self.ru.middle_name_female()
            return f"{last} {first} {middle}", first, last
        first, last = self.en.first_name(), self.en.last_name()
        return f"{first} {last}", first, last

    def email(self, first: str, last: str) -> str:
        """first.last[NN]@example.*, the name transliterated."""
        user = f"{latin(first)}.{latin(last)}"
        if self.rng.random() < 0.4:
            user += str(self.rng.randint(1, 99))
        return f"{user}@{self.rng.choice(EMAIL_DOMAINS)}"

    def phone(self, russian: bool) -> str:
        """A phone as people type it: +7 9xx xxx-xx-xx, 8 (9xx) …, +79xx…; abroad, numbers for fiction."""
        if russian:
            code = self.rng.choice(RU_MOBILE_CODES)
            a, b, c = self.rng.randint(0, 999), self.rng.randint(0, 99), self.rng.randint(0, 99)
            style = self.rng.choice(("plus", "plus", "eight", "compact"))
            if style == "plus":
                return f"+7 {code} {a:03d}-{b:02d}-{c:02d}"
            if style == "eight":
                return f"8 ({code}) {a:03d}-{b:02d}-{c:02d}"
            return f"+7{code}{a:03d}{b:02d}{c:02d}"
        # Numbers reserved for fiction: US 555-01xx, UK 020 7946 0xxx.
        if self.rng.random() < 0.6:
            return f"+1 ({self.rng.choice(US_AREAS)}) 555-01{self.rng.randint(0, 99):02d}"
        return f"+44 20 7946 0{self.rng.randint(0, 999):03d}"
