"""Write the example catalog's data files: fake customers, support tickets and shops.

The demo needs data that looks like the real thing — Russian and English names, phones in the
formats people actually type, SNILS, INN, passport and card numbers with valid check digits, PII
hidden inside free text — so masking and PII scanning have something to find. Everything is fake
and seeded: the same seed (and the Faker version pinned in uv.lock) gives byte-identical files, so
the committed files can be checked against a fresh run.

The people (names, e-mails, phones, cities, operators' notes) are drawn with `lockgate_bench.people`,
which the benchmark shares so its table looks like these customers; `uv sync` installs it with the dev
group.

    python examples/generate_catalog.py [--out examples/catalog] [--seed 7]
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from lockgate_bench.people import (
    EN_CITIES,
    EN_NOTES,
    EN_PII_NOTES,
    RU_NOTES,
    RU_PII_NOTES,
    RU_REGIONS,
    Faces,
)

DEFAULT_OUT = Path(__file__).resolve().parent / "catalog"
DEFAULT_SEED = 7
CUSTOMERS = 2000
TICKETS = 1000
STORES = 50
FIRST_CUSTOMER_ID = 100_001
MALFORMED_EMAILS = 20  # ~1%: enough for the demo's warn-level e-mail rule to fail visibly

SEGMENTS = (("retail", 70), ("smb", 22), ("enterprise", 8))
CUSTOMER_COLUMNS = (
    "customer_id", "full_name", "email", "phone", "snils", "inn", "passport_number", "card_number",
    "birth_date", "city", "signup_date", "segment", "lifetime_value", "is_active", "comment",
)  # fmt: skip
STORE_COLUMNS = ("store_id", "name", "city", "opened_on", "area_m2", "manager_email")

RU_SUBJECTS = (
    "Не проходит оплата картой",
    "Вопрос по доставке заказа",
    "Возврат товара",
    "Не приходит код подтверждения",
    "Изменение адреса доставки",
    "Ошибка в чеке",
    "Не начислены бонусные баллы",
    "Товар пришёл повреждённым",
)
EN_SUBJECTS = (
    "Card payment declined",
    "Where is my order?",
    "Return request",
    "Verification code not received",
    "Change of delivery address",
    "Wrong amount on receipt",
    "Loyalty points missing",
    "Item arrived damaged",
)
RU_BODIES = (
    "Здравствуйте! Оформил заказ три дня назад, статус не меняется. Подскажите, когда ждать доставку?",
    "Добрый день. При оплате картой появляется ошибка, деньги списались дважды. Прошу разобраться.",
    "Хочу вернуть товар, он не подошёл по размеру. Какие документы нужны?",
    "Код подтверждения не приходит уже второй день, вход в личный кабинет невозможен.",
    "В чеке указана неверная сумма, скидка не применилась.",
    "Бонусы за прошлую покупку так и не начислены.",
)
EN_BODIES = (
    "Hello, I placed an order three days ago and the status has not changed. When will it arrive?",
    "Hi, my card payment failed but the money was taken twice. Please look into it.",
    "I would like to return an item, it does not fit. What do I need to send?",
    "The verification code never arrives, so I cannot log in to my account.",
    "The receipt shows the wrong amount; the discount was not applied.",
    "Loyalty points for my last purchase are still missing.",
)
RU_PII_BODIES = (
    "Прошу ответить на почту {email}, этот ящик больше не проверяю.",
    "Перезвоните, пожалуйста, на {phone} после 18:00.",
    "Заказ будет получать {other_name}, предупредите курьера.",
    "Меня зовут {name}, мой номер {phone}. Жду звонка.",
)
EN_PII_BODIES = (
    "Please reply to {email}, I no longer check the old mailbox.",
    "Please call me back on {phone} after 6 pm.",
    "{other_name} will collect the order, please let the courier know.",
    "My name is {name} and my number is {phone}. Waiting for your call.",
)

STORE_KINDS = ("Магазин", "Супермаркет", "Минимаркет", "Гастроном", "Универсам", "Продукты")
STORE_WORDS = (
    "Берёзка", "Ромашка", "Солнечный", "Северный", "Уют", "Добрый", "Колосок", "Рябинка", "Светлый", "Каштан",
    "Волна", "Янтарь", "Радуга", "Заречный", "Семейный",
)  # fmt: skip


@dataclass(frozen=True)
class Person:
    """What the generator knows about one fake customer; ticket text reuses it."""

    customer_id: int
    russian: bool
    full_name: str
    email: str
    phone: str
    signup: date


class Generator(Faces):
    """All randomness flows from one seed: the `random.Random` and seeded Fakers of `Faces`.

    Names, e-mails and phones are drawn by `Faces` (shared with the benchmark); identifiers with check
    digits, dates and the three tables are this script's own.
    """

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.ru_cities = self.ru_city_names()

    # --- identifiers with valid check digits ---------------------------------------------------

    def snils(self) -> str:
        """SNILS 'XXX-XXX-XXX YY'; numbers up to 001-001-998 predate the checksum, so stay above."""
        number = self.rng.randint(1_001_999, 999_999_999)
        digits = f"{number:09d}"
        return f"{digits[0:3]}-{digits[3:6]}-{digits[6:9]} {snils_checksum(digits):02d}"

    def inn(self) -> str:
        """12-digit personal INN: region, tax office, serial, two check digits."""
        base = (
            self.rng.choice(RU_REGIONS)
            + f"{self.rng.randint(1, 99):02d}"
            + f"{self.rng.randint(0, 999_999):06d}"
        )
        first = inn_check_digit(base, (7, 2, 4, 10, 3, 5, 9, 4, 6, 8))
        second = inn_check_digit(base + str(first), (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8))
        return f"{base}{first}{second}"

    def passport(self, birth: date) -> str:
        """Series = region code + two digits of the issue year, then six digits.

        Passports are issued at 14 and reissued at 20 and 45; the current format dates from 1997.
        """
        issued = max(1997, min(birth.year + self.rng.choice((14, 20, 20, 45)), 2024))
        return f"{self.rng.choice(RU_REGIONS)}{issued % 100:02d} {self.rng.randint(100_000, 999_999)}"

    def card(self) -> str:
        """16-digit Mir, Visa or Mastercard number passing Luhn; half of them grouped by fours."""
        prefix = self.rng.choice(("2200", "2202", "2204", "4", "4", "51", "53", "55"))
        body = prefix + "".join(str(self.rng.randint(0, 9)) for _ in range(15 - len(prefix)))
        number = body + str(luhn_check_digit(body))
        if self.rng.random() < 0.5:
            return " ".join(number[i : i + 4] for i in range(0, 16, 4))
        return number

    def date_between(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randint(0, (end - start).days))

    # --- tables ----------------------------------------------------------------------------------

    def customers(self) -> tuple[list[dict[str, str]], list[Person]]:
        rows: list[dict[str, str]] = []
        people: list[Person] = []
        malformed = set(self.rng.sample(range(CUSTOMERS), MALFORMED_EMAILS))
        for index in range(CUSTOMERS):
            customer_id = FIRST_CUSTOMER_ID + index
            russian = self.rng.random() < 0.7
            full_name, first, last = self.name(russian)
            email = self.email(first, last)
            if index in malformed:
                email = self._break_email(email)
            phone = self.phone(russian)
            birth = self.date_between(date(1950, 1, 1), date(2005, 12, 31))
            signup = self.date_between(max(date(2019, 1, 1), _add_years(birth, 18)), date(2025, 6, 30))
            segment = self.rng.choices([s for s, _ in SEGMENTS], weights=[w for _, w in SEGMENTS])[0]
            scale = {"retail": 6.5, "smb": 9.0, "enterprise": 11.5}[segment]
            value = 0.0 if self.rng.random() < 0.05 else self.rng.lognormvariate(scale, 1.0)
            rows.append(
                {
                    "customer_id": str(customer_id),
                    "full_name": full_name,
                    "email": email,
                    "phone": phone,
                    "snils": self.snils() if russian else "",
                    "inn": self.inn() if russian else "",
                    "passport_number": self.passport(birth) if russian and self.rng.random() < 0.95 else "",
                    "card_number": self.card(),
                    "birth_date": birth.isoformat(),
                    "city": self.rng.choice(self.ru_cities if russian else EN_CITIES),
                    "signup_date": signup.isoformat(),
                    "segment": segment,
                    "lifetime_value": f"{value:.2f}",
                    "is_active": "true" if self.rng.random() < 0.85 else "false",
                    "comment": self._comment(russian, email, phone),
                }
            )
            people.append(Person(customer_id, russian, full_name, email, phone, signup))
        return rows, people

    def _break_email(self, email: str) -> str:
        user, domain = email.split("@")
        return self.rng.choice(
            (
                f"{user}{domain}",  # no @
                f"{user}@{domain.split('.')[0]}",  # no top-level domain
                f"{user}@@{domain}",
                f"{user}@{domain.replace('.', ',')}",
                f"{user.replace('.', ' ')}@{domain}",
            )
        )

    def _comment(self, russian: bool, email: str, phone: str) -> str:
        roll = self.rng.random()
        if roll < 0.25:
            return ""
        if roll < 0.35:
            template = self.rng.choice(RU_PII_NOTES if russian else EN_PII_NOTES)
            return template.format(email=email, phone=phone, other_name=self.name(russian)[0])
        return self.rng.choice(RU_NOTES if russian else EN_NOTES)

    def tickets(self, people: list[Person]) -> list[dict[str, object]]:
        start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 6, 30, 23, 59, 59, tzinfo=UTC)
        drafts = []
        for _ in range(TICKETS):
            person = self.rng.choice(people)
            earliest = max(start, datetime.combine(person.signup, datetime.min.time(), tzinfo=UTC))
            span = int((end - earliest).total_seconds())
            drafts.append((earliest + timedelta(seconds=self.rng.randint(0, span)), person))
        drafts.sort(key=lambda item: (item[0], item[1].customer_id))
        rows: list[dict[str, object]] = []
        for number, (created, person) in enumerate(drafts, start=1):
            # Old tickets are almost all closed; the last month's are still being worked on.
            closed_share = 0.95 if (end - created).days > 30 else 0.4
            status = "closed" if self.rng.random() < closed_share else self.rng.choice(("open", "pending"))
            csat = self.rng.randint(1, 5) if status == "closed" and self.rng.random() < 0.7 else None
            rows.append(
                {
                    "ticket_id": f"T-{number:06d}",
                    "customer_id": person.customer_id,
                    "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "channel": self.rng.choices(("email", "chat", "phone"), weights=(45, 35, 20))[0],
                    "priority": self.rng.choices(
                        ("low", "normal", "high", "urgent"), weights=(25, 50, 20, 5)
                    )[0],
                    "subject": self._subject(person),
                    "body": self._body(person),
                    "status": status,
                    "csat": csat,
                }
            )
        return rows

    def _subject(self, person: Person) -> str:
        subject = self.rng.choice(RU_SUBJECTS if person.russian else EN_SUBJECTS)
        if self.rng.random() < 0.03:
            subject += f" — {person.full_name}"
        return subject

    def _body(self, person: Person) -> str:
        if self.rng.random() < 0.15:
            template = self.rng.choice(RU_PII_BODIES if person.russian else EN_PII_BODIES)
            return template.format(
                email=person.email,
                phone=person.phone,
                name=person.full_name,
                other_name=self.name(person.russian)[0],
            )
        return self.rng.choice(RU_BODIES if person.russian else EN_BODIES)

    def stores(self) -> list[dict[str, str]]:
        rows = []
        for store_id in range(1, STORES + 1):
            kind, word = self.rng.choice(STORE_KINDS), self.rng.choice(STORE_WORDS)
            # A few names use straight quotes, which the CSV writer must escape: the reader is tested on them.
            name = (
                f'{kind} "{word}"' if store_id % 12 == 0 else f"{kind} «{word}» № {self.rng.randint(1, 40)}"
            )
            _, first, last = self.name(russian=True)
            rows.append(
                {
                    "store_id": str(store_id),
                    "name": name,
                    "city": self.rng.choice(self.ru_cities),
                    "opened_on": self.date_between(date(2005, 1, 1), date(2024, 12, 31)).isoformat(),
                    "area_m2": f"{self.rng.uniform(40, 2500):.1f}",
                    "manager_email": self.email(first, last),
                }
            )
        return rows


def snils_checksum(nine_digits: str) -> int:
    """SNILS control number: Σ dᵢ·(9−i); over 101 take mod 101; 100 and 101 become 00."""
    total = sum(int(d) * (9 - i) for i, d in enumerate(nine_digits))
    if total > 101:
        total %= 101
    return 0 if total in (100, 101) else total


def inn_check_digit(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 % 10


def luhn_check_digit(body: str) -> int:
    total = 0
    for i, d in enumerate(reversed(body)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return (10 - total % 10) % 10


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _write_csv(
    path: Path, columns: tuple[str, ...], rows: list[dict[str, str]], encoding: str, delimiter: str
) -> None:
    # errors="strict": a character the declared encoding cannot hold must fail here, not in the demo.
    with path.open("w", encoding=encoding, errors="strict", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns, delimiter=delimiter, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def generate(out: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write the three data files under `out/data` and return their paths."""
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    gen = Generator(seed)
    customers, people = gen.customers()
    tickets = gen.tickets(people)
    stores = gen.stores()

    paths = [data / "customers.csv", data / "support_tickets.ndjson", data / "stores.csv"]
    _write_csv(paths[0], CUSTOMER_COLUMNS, customers, encoding="utf-8", delimiter=",")
    with paths[1].open("w", encoding="utf-8", newline="") as out_file:
        for ticket in tickets:
            out_file.write(json.dumps(ticket, ensure_ascii=False, separators=(",", ":")) + "\n")
    _write_csv(paths[2], STORE_COLUMNS, stores, encoding="cp1251", delimiter=";")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="catalog folder (data/ is written inside)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="same seed, same bytes")
    args = parser.parse_args(argv)
    for path in generate(args.out, args.seed):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
