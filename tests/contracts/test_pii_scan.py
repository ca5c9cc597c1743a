"""Scanning frames for PII: a table with known truth, false positives, sampling, and single texts."""

from __future__ import annotations

import json
import math
import random

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pii_data import inn, passport, phone_ru, snils, truth_table

from contracts.model import PiiKind
from contracts.pii import DETECTABLE_KINDS, REGEX_KINDS, find_spans, min_detectable_fraction, scan_frame
from contracts.pii.detect import candidate_exprs, regex_spans


@pytest.fixture(scope="module")
def truth():
    return truth_table(rows=2_000, seed=7)


@pytest.fixture(scope="module")
def truth_report(truth):
    return scan_frame(truth.frame)


def test_detectable_kinds_are_pii_kinds() -> None:
    assert set(DETECTABLE_KINDS) <= {k.value for k in PiiKind}
    assert set(DETECTABLE_KINDS) == {
        "email", "phone", "card", "inn", "snils", "passport_ru", "iban", "ip", "person_name", "free_text"
    }  # fmt: skip


def test_every_pii_column_is_flagged_with_exactly_its_kinds(truth, truth_report) -> None:
    for column, kinds in truth.pii.items():
        found = truth_report.columns[column].kinds
        assert set(found) == kinds, column
    # Regex kinds are exact on this table: every row of a one-kind column is found.
    for column in ("email", "phone", "card_number", "inn", "snils", "passport_number", "iban", "ip"):
        assert sum(truth_report.columns[column].kinds.values()) == truth.frame.height, column
    # Names are NER: nearly all, not all.
    assert truth_report.columns["full_name_ru"].kinds["person_name"] >= 0.9 * truth.frame.height
    assert truth_report.columns["full_name_en"].kinds["person_name"] >= 0.85 * truth.frame.height


def test_no_clean_column_is_flagged(truth, truth_report) -> None:
    """False-positive rate over ids, amounts, dates, cities, SKUs, UUIDs, hashes, masked values: zero."""
    flagged = {c: truth_report.columns[c].kinds for c in truth.clean if truth_report.columns[c].kinds}
    assert flagged == {}
    assert len(truth.clean) >= 15


def test_mixed_column_gets_both_kinds(truth, truth_report) -> None:
    assert truth_report.columns["contact"].kinds == {"email": 1000, "phone": 1000}


def test_free_text_with_russian_and_english_names(truth, truth_report) -> None:
    kinds = truth_report.columns["note"].kinds
    with_names = truth.frame.height * 2 // 3  # two notes in three name somebody
    assert set(kinds) == {"person_name", "free_text"}
    assert abs(kinds["person_name"] - with_names) <= 0.1 * with_names
    notes = pl.DataFrame(
        {
            "note": [
                "Звонила Крюкова Галина Оскаровна, просила перезвонить.",
                "Доверенное лицо — Доронин Никон Чеславович.",
                "John Smith called, asked for a callback.",
                "Please ask for Mary Johnson at the front desk.",
                "Refund issued, case closed.",
            ]
        }
    )
    report = scan_frame(notes)
    assert report.columns["note"].kinds == {"person_name": 4, "free_text": 4}
    assert report.estimated == {}  # few enough values: NER saw them all


def test_random_ids_that_pass_checksums_by_chance_are_not_flagged(truth) -> None:
    """About one random 10-digit number in ten passes the INN check, one 16-digit in twenty a card check.

    Measured on this table without the guard: order_number 'inn' in 11% of rows, transaction_id
    'card' in 5.5%. The guard drops a kind from a structured column when fewer than half of its
    candidates validate.
    """
    report = scan_frame(truth.frame, columns=["order_number", "transaction_id"], names=False)
    assert report.flagged() == {}
    # The same guard keeps real columns: half valid INNs, half random numbers is still INN.
    rng = random.Random(3)
    half = [inn(rng, 10) if i % 2 else str(rng.randint(10**9, 10**10 - 1)) for i in range(400)]
    assert "inn" in scan_frame(pl.DataFrame({"tax": half}), names=False).columns["tax"].kinds


def test_report_json_has_the_agreed_shape_and_no_values(truth, truth_report) -> None:
    data = truth_report.to_json_dict()
    assert set(data["columns"]) == set(truth.frame.columns)
    for column in data["columns"].values():
        assert set(column) == {"kinds", "rows_scanned"}
        assert all(isinstance(n, int) and n > 0 for n in column["kinds"].values())
        assert column["rows_scanned"] == truth.frame.height
    text = json.dumps(data, ensure_ascii=False)
    for column in truth.pii:
        assert not any(value in text for value in truth.frame[column].head(50).to_list()), column


def test_sampling_scans_at_most_sample_rows_and_states_confidence() -> None:
    rng = random.Random(11)
    base = pl.DataFrame(
        {
            "id": [str(i) for i in range(1_000)],
            "phone": [phone_ru(rng) for _ in range(1_000)],
            "snils": [snils(rng) for _ in range(1_000)],
        }
    )
    big = pl.concat([base] * 200)
    assert big.height == 200_000
    report = scan_frame(big, names=False)
    assert report.sampled
    assert report.rows_total == 200_000
    assert report.rows_scanned == 20_000
    assert all(c.rows_scanned == 20_000 for c in report.columns.values())
    assert report.columns["phone"].kinds == {"phone": 20_000}
    assert report.min_detectable_fraction == pytest.approx(1 - 0.05 ** (1 / 20_000))
    assert report.min_detectable_fraction < 0.00015
    small = scan_frame(big, sample_rows=500, seed=1, names=False)
    assert small.rows_scanned == 500
    assert small.min_detectable_fraction == pytest.approx(1 - 0.05 ** (1 / 500))
    # the same seed draws the same rows
    assert scan_frame(big, sample_rows=500, seed=1, names=False) == small


def test_min_detectable_fraction_matches_the_miss_probability() -> None:
    n = 3_000
    p = min_detectable_fraction(n)
    assert math.isclose((1 - p) ** n, 0.05, rel_tol=1e-9)
    assert min_detectable_fraction(0) == 1.0


def test_non_text_columns_are_skipped_and_integers_are_scanned() -> None:
    rng = random.Random(5)
    frame = pl.DataFrame(
        {
            "when": pl.date_range(pl.date(2020, 1, 1), pl.date(2020, 4, 9), eager=True),
            "inn_as_number": [int(inn(rng, 12)) for _ in range(100)],
            "flag": [True] * 100,
        }
    ).with_columns(pl.col("inn_as_number").cast(pl.Int64))
    report = scan_frame(frame)
    assert report.skipped == ["when", "flag"]
    assert set(report.columns["inn_as_number"].kinds) <= {"inn"}  # INNs with a leading 0 lose it as numbers


def test_passport_needs_a_column_name_or_a_keyword() -> None:
    rng = random.Random(2)
    values = [passport(rng).replace(" ", "") for _ in range(200)]
    assert scan_frame(pl.DataFrame({"passport_number": values})).flagged() == {
        "passport_number": ["passport_ru"]
    }
    assert "passport_ru" not in scan_frame(pl.DataFrame({"code": values})).columns["code"].kinds
    text = [f"Паспорт {v[:4]} {v[4:]} выдан ОВД района" for v in values]
    assert "passport_ru" in scan_frame(pl.DataFrame({"note": text})).columns["note"].kinds


def test_long_digit_runs_are_not_phones() -> None:
    """phonenumbers alone accepts bare ten digits; we also want a +, a leading 8 or digit groups."""
    assert find_spans("код 9161234567 и 4721709851", kinds=["phone"]) == []
    assert [s.kind for s in find_spans("звоните 89161234567", names=False)] == ["phone"]
    assert [s.kind for s in find_spans("звоните 916 123-45-67", names=False)] == ["phone"]
    assert [s.kind for s in find_spans("tel +44 20 7946 0958", names=False)] == ["phone"]


def test_find_spans_offsets_and_context() -> None:
    text = "ИНН 7707083893, паспорт 4512 345678, СНИЛС 112-233-445 95, карта 4111 1111 1111 1111"
    spans = find_spans(text)
    assert [(s.kind, text[s.start : s.end]) for s in spans] == [
        ("inn", "7707083893"),
        ("passport_ru", "4512 345678"),
        ("snils", "112-233-445 95"),
        ("card", "4111 1111 1111 1111"),
    ]
    text = "Write to anna@example.com or call Иванов Иван Петрович, IBAN DE89370400440532013000, ip 10.0.0.7"
    assert [s.kind for s in find_spans(text)] == ["email", "person_name", "iban", "ip"]
    assert (
        find_spans(
            "SKU-12345 order 100001 sum 1580.28 on 2024-03-21, id 550e8400-e29b-41d4-a716-446655440000"
        )
        == []
    )


def test_english_prose_without_names_has_no_person() -> None:
    """Two Faker sentences that once produced names: a title followed by a title, and natasha on Latin."""
    assert find_spans("Conference investment program see part Mrs Mr particular soldier.") == []
    assert find_spans("My course man anything build organization family answer Mrs.") == []
    assert [s.kind for s in find_spans("Please ask Mrs. Brown, or Dr Smith-Jones.")] == ["person_name"] * 2


def test_find_spans_respects_kinds_and_names_switch() -> None:
    text = "Иванов Иван Петрович, anna@example.com"
    assert [s.kind for s in find_spans(text, kinds=["email"])] == ["email"]
    assert [s.kind for s in find_spans(text, names=False)] == ["email"]


fragments = st.sampled_from(
    [
        "anna@example.com", "+7 903 970-28-80", "89161234567", "4111 1111 1111 1111", "7707083893",
        "112-233-445 95", "11223344595", "паспорт 4512 345678", "DE89 3704 0044 0532 0130 00",
        "192.168.1.10", "2001:db8::1", "SKU-12345", "2024-03-21", "1580.28", "ИНН", "-", "+", "@", ".",
        "8", "12", " ", ",", "\n", "a", "Б", "x@", "::",
    ]
)  # fmt: skip
texts = st.one_of(
    st.lists(fragments, max_size=8).map("".join),
    st.lists(fragments, max_size=8).map(" ".join),
    st.text(max_size=40),
    st.text(alphabet="0123456789 -+()@.:abcDEF", max_size=40),
)


@settings(max_examples=400, deadline=None)
@given(text=texts)
def test_stage_one_is_a_superset_of_stage_two(text: str) -> None:
    """What Python finds, the column-wise polars filter must have marked: else scans would skip it."""
    marked = pl.DataFrame({"v": [text]}).select(**candidate_exprs(pl.col("v"))).row(0, named=True)
    for span in regex_spans(text, REGEX_KINDS):
        assert marked[span.kind], span.kind
