"""The benchmark's reference table: millions of seeded customers shaped like the example catalog's.

`lockgate bench` needs rows that make validation, masking and the PII gate do their real work: Russian
and English names, phones as people type them, SNILS, INN and card numbers with valid check digits, PII
hidden in operators' notes. Every row is drawn from the Faker-made `pools` and from numpy with vectorised
arithmetic; check digits are computed column-wise, not per value. The same rows and seed give the same
bytes, so the CSV is generated once and cached.

What the pools imply, and why it matters for the figures: full names repeat (5,000 people in the pool),
and notes that mention someone come from a pool of `pools.PII_NOTE_POOL` rendered notes. The
``redact_pii`` rule's cost grows with the number of *distinct* candidate notes (each goes through the
validators and NER once), so a file where every note is unique would cost more than this one.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from lockgate_bench.errors import BenchDataError
from lockgate_bench.people import RU_MOBILE_CODES, RU_REGIONS, US_AREAS
from lockgate_bench.pools import EN_PEOPLE_POOL, RU_PEOPLE_POOL, Pools, make_pools

if TYPE_CHECKING:
    from pathlib import Path

    import numpy.typing as npt

    Ints = npt.NDArray[np.signedinteger[Any]]
    Flags = npt.NDArray[np.bool_]

GENERATOR_VERSION = 1  # bump when the rows a seed produces change: cached files are regenerated
DEFAULT_SEED = 7
FIRST_CUSTOMER_ID = 100_001
CHUNK_ROWS = 500_000  # rows generated and written at a time: memory stays flat at any row count
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
_CHANNELS = (("web", 45), ("mobile_app", 30), ("store", 15), ("partner", 6), ("call_center", 4))
_SEGMENT_VALUE_SCALE = (6.5, 9.0, 11.5)  # log-normal means by segment, as in the example generator
_SEGMENT_ORDERS = (3.0, 8.0, 20.0)  # mean orders by segment

COLUMNS: tuple[str, ...] = (
    "customer_id", "full_name", "email", "phone", "snils", "inn", "card_number", "birth_date", "city",
    "signup_date", "last_order_date", "segment", "lifetime_value", "orders_count", "acquisition_channel",
    "is_active", "comment",
)  # fmt: skip


def _days(day: date) -> int:
    return (day - _EPOCH).days


def _pick(rng: np.random.Generator, russian: Flags, ru: pl.Series, en: pl.Series) -> pl.Series:
    """One value per row, from the Russian pool for Russian rows and the English pool otherwise."""
    ru_idx = rng.integers(0, ru.len(), russian.size)
    en_idx = rng.integers(0, en.len(), russian.size)
    both = pl.concat([ru, en])
    return both.gather(np.where(russian, ru_idx, ru.len() + en_idx))


def _zfill(values: npt.NDArray[Any], width: int) -> pl.Expr:
    return pl.lit(pl.Series(values, dtype=pl.Int64)).cast(pl.String).str.zfill(width)


def _digits(number: Ints, width: int) -> list[Ints]:
    """Decimal digits of each number, most significant first (leading zeros included)."""
    return [(number // 10 ** (width - 1 - i)) % 10 for i in range(width)]


def _weighted_sum(digits: list[Ints], weights: list[int] | tuple[int, ...]) -> Ints:
    total = np.zeros_like(digits[0])
    for d, w in zip(digits, weights, strict=True):
        total += d * w
    return total


def snils_numbers(rng: np.random.Generator, n: int) -> pl.Series:
    """'XXX-XXX-XXX YY' with the SNILS control number computed column-wise."""
    number = rng.integers(_SNILS_MIN, 1_000_000_000, n, dtype=np.int64)
    total = _weighted_sum(_digits(number, 9), [9 - i for i in range(9)])
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
    regions = np.array([int(r) for r in RU_REGIONS], dtype=np.int64)
    base = (
        regions[rng.integers(0, regions.size, n)] * 10**8
        + rng.integers(1, 100, n, dtype=np.int64) * 10**6
        + rng.integers(0, 1_000_000, n, dtype=np.int64)
    )
    digits = _digits(base, 10)
    first = _weighted_sum(digits, _INN_W1) % 11 % 10
    second = _weighted_sum([*digits, first], _INN_W2) % 11 % 10
    return pl.select(_zfill(base * 100 + first * 10 + second, 12)).to_series()


def card_numbers(rng: np.random.Generator, n: int) -> pl.Series:
    """16-digit Mir/Visa/Mastercard numbers passing Luhn; half of them grouped by fours."""
    digits = rng.integers(0, 10, (n, 15), dtype=np.int64)
    prefix = rng.integers(0, len(_CARD_PREFIXES), n)
    for i, leading in enumerate(_CARD_PREFIXES):
        rows = prefix == i
        for j, ch in enumerate(leading):
            digits[rows, j] = int(ch)
    total = np.zeros(n, dtype=np.int64)
    for j in range(15):  # the rightmost body digit is doubled, then every second one leftwards
        d: Ints = digits[:, j]
        if (14 - j) % 2 == 0:
            d = d * 2
            d = np.where(d > 9, d - 9, d)
        total += d
    number: Ints = np.zeros(n, dtype=np.int64)
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


def _phones(rng: np.random.Generator, russian: Flags) -> pl.Series:
    """Phones as people type them: +7 9xx xxx-xx-xx, 8 (9xx) ..., +79xx...; US 555-01xx and UK fiction."""
    n = russian.size
    codes = pl.Series(RU_MOBILE_CODES, dtype=pl.String)
    code = pl.lit(codes.gather(rng.integers(0, codes.len(), n)))
    a, b, c = (
        _zfill(rng.integers(0, 1000, n), 3),
        _zfill(rng.integers(0, 100, n), 2),
        _zfill(rng.integers(0, 100, n), 2),
    )
    style = pl.lit(pl.Series(np.where(russian, rng.integers(0, 4, n), 4 + (rng.random(n) >= 0.6))))
    area = pl.lit(pl.Series(US_AREAS, dtype=pl.String).gather(rng.integers(0, len(US_AREAS), n)))
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


def _as_date(days: npt.NDArray[Any]) -> pl.Series:
    return pl.Series(days, dtype=pl.Int32).cast(pl.Date)


def _dates(rng: np.random.Generator, n: int) -> tuple[pl.Series, pl.Series, pl.Series]:
    """Birth dates 1950–2005; sign-up on or after 2019 and the 18th birthday; last order after sign-up."""
    birth = _as_date(rng.integers(_days(_BIRTH_FIRST), _days(_BIRTH_LAST) + 1, n))
    adult = birth.dt.offset_by("18y").cast(pl.Int32).to_numpy()
    low = np.maximum(adult, _days(_SIGNUP_FIRST))
    signup = low + np.floor(rng.random(n) * (_days(_LAST_DAY) - low + 1)).astype(np.int64)
    last_order = signup + np.floor(rng.random(n) * (_days(_LAST_DAY) - signup + 1)).astype(np.int64)
    return birth, _as_date(signup), _as_date(last_order)


def _comments(rng: np.random.Generator, russian: Flags, pools: Pools) -> pl.Series:
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


def customers_chunk(rng: np.random.Generator, pools: Pools, first_id: int, n: int) -> pl.DataFrame:
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


def check_request(rows: int, seed: int) -> None:
    """Refuse, before any process starts, what the generator cannot make (numpy wants a seed ≥ 0)."""
    if rows < 1:
        raise BenchDataError(f"the reference table needs at least one row, not {rows}")
    if seed < 0:
        raise BenchDataError(f"the seed must be 0 or more, not {seed}")


def write_customers_csv(path: Path, rows: int, seed: int = DEFAULT_SEED) -> None:
    """Write `rows` customers to `path` as UTF-8 CSV, chunk by chunk (blank = null, as the demo's)."""
    check_request(rows, seed)
    rng = np.random.default_rng(seed)
    pools = make_pools(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for start in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - start)
            chunk = customers_chunk(rng, pools, FIRST_CUSTOMER_ID + start, n)
            chunk.write_csv(out, include_header=start == 0, float_precision=2, date_format="%Y-%m-%d")
