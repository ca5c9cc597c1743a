"""The example data generator: reproducible to the byte, and its fake identifiers pass real checks.

The checks are written out here, independently of the generator's own helpers, so a bug in one
cannot hide a bug in the other.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest

if TYPE_CHECKING:
    from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
GENERATOR = REPO / "examples" / "generate_catalog.py"
CATALOG = REPO / "examples" / "catalog"
DATA_FILES = ("customers.csv", "support_tickets.ndjson", "stores.csv")
EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"


def snils_ok(value: str) -> bool:
    """STACK.md rule: s = Σ dᵢ·(9−i) over the first nine digits; >101 → mod 101; 100/101 → 00."""
    digits = re.sub(r"\D", "", value)
    if len(digits) != 11:
        return False
    total = sum(int(d) * (9 - i) for i, d in enumerate(digits[:9]))
    if total > 101:
        total %= 101
    if total in (100, 101):
        total = 0
    return total == int(digits[9:])


def inn12_ok(value: str) -> bool:
    """Personal INN: two check digits, each a weighted sum mod 11 mod 10."""
    if not re.fullmatch(r"\d{12}", value):
        return False
    d = [int(c) for c in value]
    w11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
    w12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
    return (
        sum(a * b for a, b in zip(d, w11, strict=False)) % 11 % 10 == d[10]
        and sum(a * b for a, b in zip(d, w12, strict=False)) % 11 % 10 == d[11]
    )


def luhn_ok(value: str) -> bool:
    digits = [int(c) for c in value.replace(" ", "")]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


@pytest.fixture(scope="module")
def customers() -> pl.DataFrame:
    return pl.read_csv(CATALOG / "data" / "customers.csv", infer_schema=False)


@pytest.fixture(scope="module")
def tickets() -> pl.DataFrame:
    return pl.read_ndjson(CATALOG / "data" / "support_tickets.ndjson", infer_schema_length=None)


def test_checks_themselves_reject_near_misses() -> None:
    assert snils_ok("112-233-445 95") and not snils_ok("112-233-445 96")
    assert inn12_ok("500100732259") and not inn12_ok("500100732258")
    assert luhn_ok("4111 1111 1111 1111") and not luhn_ok("4111 1111 1111 1112")


def test_same_seed_gives_identical_bytes_and_matches_the_committed_files(
    tmp_path: Path, generator: ModuleType
) -> None:
    cli_out = tmp_path / "cli"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(cli_out), "--seed", "7"],
        check=True,
        capture_output=True,
        cwd=REPO,
        timeout=120,
    )
    generator.generate(tmp_path / "api", seed=7)
    for name in DATA_FILES:
        cli = (cli_out / "data" / name).read_bytes()
        assert cli == (tmp_path / "api" / "data" / name).read_bytes(), name
        assert cli == (CATALOG / "data" / name).read_bytes(), f"{name}: run `make catalog` and commit"


def test_another_seed_gives_other_data(tmp_path: Path, generator: ModuleType) -> None:
    generator.generate(tmp_path, seed=8)
    assert (tmp_path / "data" / "customers.csv").read_bytes() != (
        CATALOG / "data" / "customers.csv"
    ).read_bytes()


def test_committed_data_is_small() -> None:
    assert sum((CATALOG / "data" / name).stat().st_size for name in DATA_FILES) < 1_500_000


def test_customer_ids_are_unique_and_sequential(customers: pl.DataFrame) -> None:
    ids = customers["customer_id"].cast(pl.Int64)
    assert customers.height == 2000
    assert ids.is_unique().all()
    assert ids.to_list() == list(range(100_001, 102_001))


def test_identifiers_pass_their_check_digits(customers: pl.DataFrame) -> None:
    snils = customers["snils"].drop_nulls().to_list()
    inns = customers["inn"].drop_nulls().to_list()
    assert len(snils) > 1000 and len(inns) > 1000
    assert all(re.fullmatch(r"\d{3}-\d{3}-\d{3} \d{2}", s) for s in snils)
    assert all(snils_ok(s) for s in snils)
    assert all(inn12_ok(i) for i in inns)
    cards = customers["card_number"].to_list()
    assert all(re.fullmatch(r"\d{16}|\d{4} \d{4} \d{4} \d{4}", c) for c in cards)
    assert all(luhn_ok(c) for c in cards)
    assert any(" " in c for c in cards) and any(" " not in c for c in cards)
    passports = customers["passport_number"].drop_nulls().to_list()
    assert passports and all(re.fullmatch(r"\d{4} \d{6}", p) for p in passports)


def test_russian_and_english_people_are_mixed(customers: pl.DataFrame) -> None:
    cyrillic = customers["full_name"].str.contains(r"[А-Яа-яЁё]")
    assert 0.5 < cyrillic.mean() < 0.9
    russian = customers.filter(cyrillic)
    english = customers.filter(~cyrillic)
    assert (
        russian["phone"]
        .str.contains(r"^(\+7 \d{3} \d{3}-\d{2}-\d{2}|8 \(\d{3}\) \d{3}-\d{2}-\d{2}|\+7\d{10})$")
        .all()
    )
    assert russian["phone"].str.starts_with("8 (").any() and russian["phone"].str.starts_with("+7 ").any()
    assert english["phone"].str.starts_with("+").all() and not english["phone"].str.starts_with("+7").any()
    # Foreigners have no Russian identity documents.
    assert english["snils"].is_null().all() and english["passport_number"].is_null().all()


def test_about_one_percent_of_emails_are_malformed(customers: pl.DataFrame) -> None:
    bad = (~customers["email"].str.contains(EMAIL_RE)).sum()
    assert 10 <= bad <= 30


def test_nothing_breaks_an_error_level_rule(customers: pl.DataFrame) -> None:
    assert customers["segment"].is_in(["retail", "smb", "enterprise"]).all()
    assert (customers["lifetime_value"].cast(pl.Float64) >= 0).all()
    assert customers["is_active"].is_in(["true", "false"]).all()
    for column in ("birth_date", "signup_date"):
        customers[column].str.to_date("%Y-%m-%d")  # raises on a bad date
    assert (customers["signup_date"] > customers["birth_date"]).all()


def test_some_comments_hide_pii_in_text(customers: pl.DataFrame) -> None:
    comments = customers["comment"].drop_nulls()
    with_contact = comments.str.contains(r"@|\+7|\+1 |\+44 |8 \(").mean()
    assert 0.03 < with_contact < 0.2
    assert comments.str.contains(r"[А-Яа-я]").any() and comments.str.contains(r"^[A-Za-z]").any()


def test_tickets_reference_customers_and_follow_their_formats(
    tickets: pl.DataFrame, customers: pl.DataFrame
) -> None:
    assert tickets.height == 1000
    assert tickets["ticket_id"].is_unique().all()
    assert tickets["ticket_id"].str.contains(r"^T-\d{6}$").all()
    assert tickets["customer_id"].is_in(customers["customer_id"].cast(pl.Int64).implode()).all()
    assert tickets["created_at"].str.contains(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$").all()
    assert tickets["channel"].is_in(["email", "chat", "phone"]).all()
    assert tickets["priority"].is_in(["low", "normal", "high", "urgent"]).all()
    assert tickets["status"].is_in(["open", "pending", "closed"]).all()
    csat = tickets["csat"]
    assert csat.null_count() > 0 and csat.drop_nulls().is_between(1, 5).all()
    assert tickets["body"].str.contains("@").any() and tickets["body"].str.contains(r"[А-Яа-я]").any()


def test_stores_are_cp1251_semicolon_separated() -> None:
    raw = (CATALOG / "data" / "stores.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1251")
    assert text.startswith("store_id;name;city;opened_on;area_m2;manager_email\n")
    assert len(text.splitlines()) == 51
    assert "«" in text and '""' in text  # both guillemets and CSV-escaped straight quotes occur
