"""The benchmark's reference data: a large, seeded customers table and the catalog that describes it.

`lockgate bench` needs millions of rows that look like the example catalog's customers (Russian and
English names, phones as people type them, SNILS, INN and card numbers with valid check digits, PII
hidden in operators' notes), so that validation, masking and the PII gate do their real work. Calling
Faker once per row would take longer than the pipeline being measured, so Faker is called only to
fill small pools (a few thousand people, notes and cities, from `examples/generate_catalog.py`), and
every row is drawn from the pools and from numpy with vectorised arithmetic; check digits are
computed column-wise, not per value.

The same rows and seed give the same bytes, so the CSV is generated once and cached.

What the pools imply, and why it matters for the figures: full names repeat (5,000 people in the
pool), and notes that mention someone come from a pool of `PII_NOTE_POOL` rendered notes. The
``redact_pii`` rule's cost grows with the number of *distinct* candidate notes (each goes through the
validators and NER once), so a file where every note is unique would cost more than this one.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from types import ModuleType

GENERATOR_VERSION = 1  # bump when the rows a seed produces change: cached files are regenerated
DEFAULT_SEED = 7
SOURCE_NAME = "bench_customers"
FIRST_CUSTOMER_ID = 100_001
CHUNK_ROWS = 500_000  # rows generated and written at a time: memory stays flat at any row count
RU_PEOPLE_POOL = 3_500
EN_PEOPLE_POOL = 1_500
PII_NOTE_POOL = 5_000  # distinct operator notes naming a person, a phone or an e-mail
RUSSIAN_SHARE = 0.7
MALFORMED_EMAIL_SHARE = 0.01  # the warn-level e-mail rule fails, as in the demo, without stopping the line
EMPTY_COMMENT_SHARE = 0.25
PII_COMMENT_SHARE = 0.10

_EPOCH = date(1970, 1, 1)
_BIRTH_FIRST, _BIRTH_LAST = date(1950, 1, 1), date(2005, 12, 31)
_SIGNUP_FIRST, _LAST_DAY = date(2019, 1, 1), date(2025, 6, 30)
_CARD_PREFIXES = ("2200", "2202", "2204", "4", "4", "51", "53", "55")  # Mir, Visa, Mastercard
_SNILS_MIN = 1_001_999  # lower numbers predate the checksum
_INN_W1 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN_W2 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_US_AREAS = ("202", "312", "415", "617")
_CHANNELS = (("web", 45), ("mobile_app", 30), ("store", 15), ("partner", 6), ("call_center", 4))
_SEGMENT_VALUE_SCALE = (6.5, 9.0, 11.5)  # log-normal means by segment, as in the example generator
_SEGMENT_ORDERS = (3.0, 8.0, 20.0)  # mean orders by segment

COLUMNS: tuple[str, ...] = (
    "customer_id", "full_name", "email", "phone", "snils", "inn", "card_number", "birth_date", "city",
    "signup_date", "last_order_date", "segment", "lifetime_value", "orders_count", "acquisition_channel",
    "is_active", "comment",
)  # fmt: skip
# Column → masking rule, as written in the contract: every rule a contract can use except drop/encrypt.
PII_COLUMNS: dict[str, str] = {
    "full_name": "hash",
    "email": "hash",
    "phone": "partial",
    "snils": "redact",
    "inn": "redact",
    "card_number": "partial",
    "birth_date": "generalize",
    "comment": "redact_pii",
}

EXAMPLE_GENERATOR = Path(__file__).resolve().parents[1] / "examples" / "generate_catalog.py"


class BenchDataError(RuntimeError):
    """The reference data cannot be generated here (no checkout, no dev dependencies)."""


@cache
def example_generator() -> ModuleType:
    """The example catalog's generator, loaded from its file (it is a script, not a package).

    Its constants, Faker set-up and checksum helpers are reused so that the bench data and the demo
    data stay alike. It needs Faker, a development dependency: the bench is a tool for the checkout.
    """
    if not EXAMPLE_GENERATOR.is_file():
        raise BenchDataError(f"{EXAMPLE_GENERATOR} not found: lockgate bench runs from a source checkout")
    spec = importlib.util.spec_from_file_location("lockgate_example_generator", EXAMPLE_GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as exc:
        del sys.modules[spec.name]
        raise BenchDataError(
            f"the bench data generator needs {exc.name}: install the dev dependencies (uv sync)"
        ) from exc
    return module


class _Pools:
    """Everything that comes from Faker, drawn once: people, cities and rendered notes."""

    def __init__(self, seed: int) -> None:
        gen_module = example_generator()
        gen = gen_module.Generator(seed)
        self.module = gen_module
        names: list[str] = []
        users: list[str] = []
        for russian, size in ((True, RU_PEOPLE_POOL), (False, EN_PEOPLE_POOL)):
            for _ in range(size):
                full, first, last = gen.name(russian)
                names.append(full)
                users.append(f"{gen_module._latin(first)}.{gen_module._latin(last)}")
        self.full_names = pl.Series(names, dtype=pl.String)
        self.users = pl.Series(users, dtype=pl.String)
        self.ru_cities = pl.Series(gen.ru_cities, dtype=pl.String)
        self.en_cities = pl.Series(gen_module.EN_CITIES, dtype=pl.String)
        self.domains = pl.Series(gen_module.EMAIL_DOMAINS, dtype=pl.String)
        self.ru_notes = pl.Series(gen_module.RU_NOTES, dtype=pl.String)
        self.en_notes = pl.Series(gen_module.EN_NOTES, dtype=pl.String)
        ru_pii, en_pii = [], []
        for russian, out in ((True, ru_pii), (False, en_pii)):
            templates = gen_module.RU_PII_NOTES if russian else gen_module.EN_PII_NOTES
            share = RU_PEOPLE_POOL / (RU_PEOPLE_POOL + EN_PEOPLE_POOL)
            for _ in range(round(PII_NOTE_POOL * (share if russian else 1 - share))):
                full, first, last = gen.name(russian)
                out.append(
                    gen.rng.choice(templates).format(
                        email=gen.email(first, last),
                        phone=gen.phone(russian),
                        other_name=gen.name(russian)[0],
                    )
                )
        self.ru_pii_notes = pl.Series(ru_pii, dtype=pl.String)
        self.en_pii_notes = pl.Series(en_pii, dtype=pl.String)


def _days(day: date) -> int:
    return (day - _EPOCH).days


def _pick(rng: np.random.Generator, russian: np.ndarray, ru: pl.Series, en: pl.Series) -> pl.Series:
    """One value per row, from the Russian pool for Russian rows and the English pool otherwise."""
    ru_idx = rng.integers(0, ru.len(), russian.size)
    en_idx = rng.integers(0, en.len(), russian.size)
    both = pl.concat([ru, en])
    return both.gather(np.where(russian, ru_idx, ru.len() + en_idx))


def _zfill(values: np.ndarray, width: int) -> pl.Expr:
    return pl.lit(pl.Series(values, dtype=pl.Int64)).cast(pl.String).str.zfill(width)


def _digits(number: np.ndarray, width: int) -> list[np.ndarray]:
    """Decimal digits of each number, most significant first (leading zeros included)."""
    return [(number // 10 ** (width - 1 - i)) % 10 for i in range(width)]


def snils_numbers(rng: np.random.Generator, n: int) -> pl.Series:
    """'XXX-XXX-XXX YY' with the SNILS control number computed column-wise."""
    number = rng.integers(_SNILS_MIN, 1_000_000_000, n, dtype=np.int64)
    total = sum(d * (9 - i) for i, d in enumerate(_digits(number, 9)))
    total = np.where(total > 101, total % 101, total)
    check = np.where((total == 100) | (total == 101), 0, total)
    nine = _zfill(number, 9)
    return pl.select(
        pl.concat_str(
            nine.str.slice(0, 3),
            pl.lit("-"),
            nine.str.slice(3, 3),
            pl.lit("-"),
            nine.str.slice(6, 3),
            pl.lit(" "),
            _zfill(check, 2),
        )
    ).to_series()


def inn_numbers(rng: np.random.Generator, n: int) -> pl.Series:
    """12-digit personal INNs: region, tax office, serial and two check digits, column-wise."""
    regions = np.array([int(r) for r in example_generator().RU_REGIONS], dtype=np.int64)
    base = (
        regions[rng.integers(0, regions.size, n)] * 10**8
        + rng.integers(1, 100, n, dtype=np.int64) * 10**6
        + rng.integers(0, 1_000_000, n, dtype=np.int64)
    )
    digits = _digits(base, 10)
    first = sum(d * w for d, w in zip(digits, _INN_W1, strict=True)) % 11 % 10
    second = sum(d * w for d, w in zip([*digits, first], _INN_W2, strict=True)) % 11 % 10
    return pl.select(_zfill(base * 100 + first * 10 + second, 12)).to_series()


def card_numbers(rng: np.random.Generator, n: int) -> pl.Series:
    """16-digit Mir/Visa/Mastercard numbers passing Luhn; half of them grouped by fours."""
    digits = rng.integers(0, 10, (n, 15), dtype=np.int64)
    prefix = rng.integers(0, len(_CARD_PREFIXES), n)
    for i, text in enumerate(_CARD_PREFIXES):
        rows = prefix == i
        for j, ch in enumerate(text):
            digits[rows, j] = int(ch)
    total = np.zeros(n, dtype=np.int64)
    for j in range(15):  # the rightmost body digit is doubled, then every second one leftwards
        d = digits[:, j]
        if (14 - j) % 2 == 0:
            d = d * 2
            d = np.where(d > 9, d - 9, d)
        total += d
    number = np.zeros(n, dtype=np.int64)
    for j in range(15):
        number = number * 10 + digits[:, j]
    number = number * 10 + (10 - total % 10) % 10
    grouped = rng.random(n) < 0.5
    text = pl.Series(number, dtype=pl.Int64).cast(pl.String)
    spaced = pl.concat_str(*[pl.col("c").str.slice(i, 4) for i in range(0, 16, 4)], separator=" ")
    return (
        text.to_frame("c")
        .select(pl.when(pl.lit(pl.Series(grouped))).then(spaced).otherwise(pl.col("c")))
        .to_series()
    )


def _phones(rng: np.random.Generator, russian: np.ndarray) -> pl.Series:
    """Phones as people type them: +7 9xx xxx-xx-xx, 8 (9xx) ..., +79xx...; US 555-01xx and UK fiction."""
    n = russian.size
    codes = pl.Series(example_generator().RU_MOBILE_CODES, dtype=pl.String)
    code = pl.lit(codes.gather(rng.integers(0, codes.len(), n)))
    a, b, c = (
        _zfill(rng.integers(0, 1000, n), 3),
        _zfill(rng.integers(0, 100, n), 2),
        _zfill(rng.integers(0, 100, n), 2),
    )
    style = pl.lit(pl.Series(np.where(russian, rng.integers(0, 4, n), 4 + (rng.random(n) >= 0.6))))
    area = pl.lit(pl.Series(_US_AREAS, dtype=pl.String).gather(rng.integers(0, len(_US_AREAS), n)))
    us_tail, uk_tail = _zfill(rng.integers(0, 100, n), 2), _zfill(rng.integers(0, 1000, n), 3)
    return pl.select(
        pl.when(style <= 1)
        .then(pl.format("+7 {} {}-{}-{}", code, a, b, c))
        .when(style == 2)
        .then(pl.format("8 ({}) {}-{}-{}", code, a, b, c))
        .when(style == 3)
        .then(pl.concat_str(pl.lit("+7"), code, a, b, c))
        .when(style == 4)
        .then(pl.format("+1 ({}) 555-01{}", area, us_tail))
        .otherwise(pl.format("+44 20 7946 0{}", uk_tail))
    ).to_series()


def _emails(rng: np.random.Generator, users: pl.Series, domains: pl.Series) -> pl.Series:
    """first.last[NN]@example.*, about 1% broken the ways operators break them (the rule is warn-level)."""
    n = users.len()
    suffix = np.where(rng.random(n) < 0.4, rng.integers(1, 100, n), 0)
    broken = np.where(rng.random(n) < MALFORMED_EMAIL_SHARE, rng.integers(1, 5, n), 0)
    frame = pl.DataFrame(
        {
            "user": users,
            "suffix": suffix,
            "domain": domains.gather(rng.integers(0, domains.len(), n)),
            "broken": broken,
        }
    )
    email = pl.concat_str(
        pl.col("user"),
        pl.when(pl.col("suffix") > 0).then(pl.col("suffix").cast(pl.String)).otherwise(pl.lit("")),
        pl.lit("@"),
        pl.col("domain"),
    )
    broken_col = pl.col("broken")
    return frame.select(
        pl.when(broken_col == 1)
        .then(email.str.replace("@", "", literal=True))  # no @
        .when(broken_col == 2)
        .then(email.str.replace("@", "@@", literal=True))
        .when(broken_col == 3)
        .then(email.str.replace(r"\.[a-z]+$", ""))  # no top-level domain
        .when(broken_col == 4)
        .then(email.str.replace(".", " ", literal=True))  # a space in the user part
        .otherwise(email)
    ).to_series()


def _dates(rng: np.random.Generator, n: int) -> tuple[pl.Series, pl.Series, pl.Series]:
    """Birth dates 1950–2005; sign-up on or after 2019 and the 18th birthday; last order after sign-up."""
    birth = pl.Series(rng.integers(_days(_BIRTH_FIRST), _days(_BIRTH_LAST) + 1, n), dtype=pl.Int32).cast(
        pl.Date
    )
    adult = birth.dt.offset_by("18y").cast(pl.Int32).to_numpy()
    low = np.maximum(adult, _days(_SIGNUP_FIRST))
    signup = low + np.floor(rng.random(n) * (_days(_LAST_DAY) - low + 1)).astype(np.int64)
    last_order = signup + np.floor(rng.random(n) * (_days(_LAST_DAY) - signup + 1)).astype(np.int64)
    as_date = lambda days: pl.Series(days, dtype=pl.Int32).cast(pl.Date)  # noqa: E731
    return birth, as_date(signup), as_date(last_order)


def _comments(rng: np.random.Generator, russian: np.ndarray, pools: _Pools) -> pl.Series:
    """A quarter empty, a tenth mentioning an e-mail, a phone or another person, the rest plain notes."""
    roll = rng.random(russian.size)
    plain = _pick(rng, russian, pools.ru_notes, pools.en_notes)
    pii = _pick(rng, russian, pools.ru_pii_notes, pools.en_pii_notes)
    return pl.select(
        pl.when(pl.lit(pl.Series(roll < EMPTY_COMMENT_SHARE)))
        .then(pl.lit(None, dtype=pl.String))
        .when(pl.lit(pl.Series(roll < EMPTY_COMMENT_SHARE + PII_COMMENT_SHARE)))
        .then(pl.lit(pii))
        .otherwise(pl.lit(plain))
    ).to_series()


def customers_chunk(rng: np.random.Generator, pools: _Pools, first_id: int, n: int) -> pl.DataFrame:
    """`n` customers with ids from `first_id`, every column built column-wise from `rng` and the pools."""
    russian = rng.random(n) < RUSSIAN_SHARE
    ru_people, en_people = RU_PEOPLE_POOL, EN_PEOPLE_POOL
    person = np.where(russian, rng.integers(0, ru_people, n), ru_people + rng.integers(0, en_people, n))
    segment = rng.choice(3, n, p=[0.70, 0.22, 0.08])
    value = rng.lognormal(np.asarray(_SEGMENT_VALUE_SCALE)[segment], 1.0)
    value = np.where(rng.random(n) < 0.05, 0.0, np.round(value, 2))
    weights = np.array([w for _, w in _CHANNELS], dtype=np.float64)
    birth, signup, last_order = _dates(rng, n)
    snils, inn = snils_numbers(rng, n), inn_numbers(rng, n)
    ru_only = pl.lit(pl.Series(russian))
    frame = pl.DataFrame(
        {
            "customer_id": np.arange(first_id, first_id + n, dtype=np.int64),
            "full_name": pools.full_names.gather(person),
            "email": _emails(rng, pools.users.gather(person), pools.domains),
            "phone": _phones(rng, russian),
            "snils": snils,
            "inn": inn,
            "card_number": card_numbers(rng, n),
            "birth_date": birth,
            "city": _pick(rng, russian, pools.ru_cities, pools.en_cities),
            "signup_date": signup,
            "last_order_date": last_order,
            "segment": pl.Series(["retail", "smb", "enterprise"]).gather(segment),
            "lifetime_value": value,
            "orders_count": rng.poisson(np.asarray(_SEGMENT_ORDERS)[segment]).astype(np.int64),
            "acquisition_channel": pl.Series([c for c, _ in _CHANNELS]).gather(
                rng.choice(len(_CHANNELS), n, p=weights / weights.sum())
            ),
            "is_active": rng.random(n) < 0.85,
            "comment": _comments(rng, russian, pools),
        }
    )
    # SNILS and INN are Russian identifiers: international customers have none.
    return frame.with_columns(
        pl.when(ru_only).then(pl.col(c)).otherwise(pl.lit(None, dtype=pl.String)).alias(c)
        for c in ("snils", "inn")
    ).select(COLUMNS)


def write_customers_csv(path: Path, rows: int, seed: int = DEFAULT_SEED) -> None:
    """Write `rows` customers to `path` as UTF-8 CSV, chunk by chunk (blank = null, as the demo's)."""
    rng = np.random.default_rng(seed)
    pools = _Pools(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for start in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - start)
            chunk = customers_chunk(rng, pools, FIRST_CUSTOMER_ID + start, n)
            chunk.write_csv(out, include_header=start == 0, float_precision=2, date_format="%Y-%m-%d")


# --- the catalog: passport and contract ---------------------------------------------------------

PASSPORT_YAML = """\
name: {name}
title: Benchmark customers
description: >-
  Generated reference table for lockgate bench: customers shaped like the example catalog's, fake and
  seeded (seed {seed}).
owner: bench-owner@example.com
steward: bench-steward@example.com
purpose: Measure the pipeline's throughput and memory against hand-written and minimal baselines.
legal_basis: legitimate_interests
update_frequency: daily
sensitivity: restricted
retention_days: 30
contract: contracts/{name}.yaml
connector:
  kind: csv
  path: data/{name}.csv
  delimiter: ","
  header: true
  encoding: utf-8
  null_values: [""]
tags: [bench, pii]
"""

# Ten rules in all: the primary key implies not-null and unique, and eight are written out.
CONTRACT_YAML = r"""
apiVersion: v3.1.0
kind: DataContract
id: {name}
name: Benchmark customers
version: 1.0.0
status: active
description:
  purpose: Reference table for lockgate bench, one row per customer.
schema:
  - name: {name}
    physicalName: {name}.csv
    properties:
      - {{name: customer_id, logicalType: integer, primaryKey: true, classification: internal}}
      - name: full_name
        logicalType: string
        classification: restricted
        pii: person_name
        masking: hash
      - name: email
        logicalType: string
        classification: restricted
        pii: email
        masking: {{rule: hash, key: default}}
      - name: phone
        logicalType: string
        classification: restricted
        pii: phone
        masking: {{rule: partial, keep_last: 2}}
      - {{name: snils, logicalType: string, classification: restricted, pii: snils, masking: redact}}
      - {{name: inn, logicalType: string, classification: restricted, pii: inn, masking: redact}}
      - name: card_number
        logicalType: string
        classification: restricted
        pii: card
        masking: {{rule: partial, keep_last: 4}}
      - name: birth_date
        logicalType: date
        classification: restricted
        pii: birth_date
        masking: {{rule: generalize, to: year}}
      - {{name: city, logicalType: string, classification: internal}}
      - {{name: signup_date, logicalType: date, classification: internal}}
      - {{name: last_order_date, logicalType: date, classification: internal}}
      - {{name: segment, logicalType: string, classification: internal}}
      - {{name: lifetime_value, logicalType: number, classification: confidential}}
      - {{name: orders_count, logicalType: integer, classification: internal}}
      - {{name: acquisition_channel, logicalType: string, classification: internal}}
      - {{name: is_active, logicalType: boolean, classification: internal}}
      - name: comment
        logicalType: string
        classification: restricted
        pii: free_text
        masking: redact_pii
    quality:
      - id: row_count
        expectation: expect_table_row_count_to_be_between
        kwargs: {{min_value: 1}}
        severity: error
      - expectation: expect_column_values_to_not_be_null
        kwargs: {{column: email}}
        severity: error
      - expectation: expect_column_values_to_not_be_null
        kwargs: {{column: signup_date}}
        severity: error
      - expectation: expect_column_values_to_be_between
        kwargs: {{column: lifetime_value, min_value: 0}}
        severity: error
      - expectation: expect_column_values_to_be_in_set
        kwargs: {{column: segment, value_set: [retail, smb, enterprise]}}
        severity: error
      - expectation: expect_column_value_lengths_to_equal
        kwargs: {{column: inn, value: 12}}
        severity: error
      - expectation: expect_column_values_to_match_regex
        kwargs: {{column: snils, regex: '^\d{{3}}-\d{{3}}-\d{{3}} \d{{2}}$'}}
        severity: error
      - id: email_format
        expectation: expect_column_values_to_match_regex
        kwargs: {{column: email, regex: '^[^@\s]+@[^@\s]+\.[A-Za-z]{{2,}}$'}}
        severity: warn
"""


def write_catalog(root: Path, csv_path: Path, seed: int = DEFAULT_SEED) -> Path:
    """A one-source catalog under `root` whose data file is `csv_path` (hard-linked, else copied).

    The connector refuses symlinks that leave the catalog, so the cached CSV is hard-linked in: no
    copy of gigabytes when the cache and the work folder share a file system.
    """
    for folder in ("sources", "contracts", "data"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "sources" / f"{SOURCE_NAME}.yaml").write_text(
        PASSPORT_YAML.format(name=SOURCE_NAME, seed=seed), encoding="utf-8"
    )
    (root / "contracts" / f"{SOURCE_NAME}.yaml").write_text(
        CONTRACT_YAML.format(name=SOURCE_NAME).lstrip(), encoding="utf-8"
    )
    data = root / "data" / f"{SOURCE_NAME}.csv"
    data.unlink(missing_ok=True)
    try:
        data.hardlink_to(csv_path)
    except OSError:  # another file system, or links not allowed
        import shutil

        shutil.copyfile(csv_path, data)
    return root


def describe() -> dict[str, Any]:
    """The table's shape in numbers, for reports and tests."""
    return {"columns": len(COLUMNS), "pii_columns": len(PII_COLUMNS)}
