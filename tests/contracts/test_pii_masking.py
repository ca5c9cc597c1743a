"""The new masking operators (encrypt, generalize, redact_pii) and the post-mask zero-leak check."""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pii_data import card, phone_ru, snils
from pydantic import ValidationError

from contracts.encryption import decrypt_column, encrypt_series
from contracts.errors import DecryptionError, MissingKeyError
from contracts.keys import key_id
from contracts.masking import mask, required_keys
from contracts.model import EncryptRule, RedactPiiRule
from contracts.pii import find_spans
from contracts.pii.leaks import leaks
from contracts.pii.redact import MARKERS, redact_series, redact_text
from flows.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from contracts.model import Contract

    MakeContract = Callable[..., Contract]

KEY = b"k" * 32
OTHER_KEY = b"another key of enough length"
CIPHERTEXT = re.compile(r"^v1:[A-Za-z0-9_-]+$")
YEAR = {"rule": "generalize", "to": "year"}
BUCKETS = {"rule": "generalize", "buckets": [100, 1000]}


def _contract(make_contract: MakeContract, masking: object, logical: str = "string") -> Contract:
    return make_contract(
        [
            {"name": "person_id", "logicalType": "integer"},
            {"name": "value", "logicalType": logical, "pii": "other", "masking": masking},
        ]
    )


# --- model -------------------------------------------------------------------------------------------


def test_new_rules_parse_with_shorthand_and_explain_mistakes(make_contract: MakeContract) -> None:
    assert _contract(make_contract, "encrypt").column("value").masking == EncryptRule(rule="encrypt")
    assert _contract(make_contract, "redact_pii").column("value").masking == RedactPiiRule(rule="redact_pii")
    with pytest.raises(ValidationError, match="needs parameters"):
        _contract(make_contract, "generalize", "date")
    with pytest.raises(ValidationError, match="exactly one of"):
        _contract(make_contract, {"rule": "generalize", "to": "year", "bucket_size": 5}, "date")
    with pytest.raises(ValidationError, match="strictly increasing"):
        _contract(make_contract, {"rule": "generalize", "buckets": [10, 5]}, "number")
    with pytest.raises(ValidationError, match="needs a date or timestamp"):
        _contract(make_contract, {"rule": "generalize", "to": "month"}, "integer")
    with pytest.raises(ValidationError, match="integer or number"):
        _contract(make_contract, {"rule": "generalize", "bucket_size": 10}, "string")
    with pytest.raises(ValidationError, match="string columns only"):
        _contract(make_contract, "redact_pii", "integer")
    with pytest.raises(ValidationError, match="cannot find address"):
        _contract(make_contract, {"rule": "redact_pii", "kinds": ["email", "address"]})


# --- encrypt -----------------------------------------------------------------------------------------

values = st.lists(st.one_of(st.none(), st.text(max_size=40)), min_size=1, max_size=20)


@settings(max_examples=60, deadline=None)
@given(values=values, key=st.binary(min_size=16, max_size=64))
def test_encrypt_round_trips_and_is_not_deterministic(values: list[str | None], key: bytes) -> None:
    series = pl.Series("value", values, dtype=pl.String)
    first, second = encrypt_series(series, key), encrypt_series(series, key)
    assert decrypt_column(first, key).to_list() == values
    for a, b, original in zip(first, second, values, strict=True):
        if original is None:
            assert a is None and b is None
        else:
            assert CIPHERTEXT.match(a) and a != b  # a fresh nonce every time


def test_decrypt_refuses_wrong_key_and_tampering_without_echoing_values() -> None:
    series = encrypt_series(pl.Series("value", ["4111111111111111", None]), KEY)
    with pytest.raises(DecryptionError, match="row 0: cannot decrypt") as wrong:
        decrypt_column(series, OTHER_KEY)
    assert "4111" not in str(wrong.value)
    tampered = series.to_list()
    tampered[0] = tampered[0][:-2] + ("A" if tampered[0][-2] != "A" else "B") + tampered[0][-1]
    with pytest.raises(DecryptionError, match="row 0"):
        decrypt_column(pl.Series("value", tampered), KEY)
    with pytest.raises(DecryptionError, match="not a Lockgate v1 ciphertext"):
        decrypt_column(pl.Series("value", ["4111111111111111"]), KEY)


def test_decrypt_resolves_a_key_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_KEY_REID", KEY.hex())
    series = encrypt_series(pl.Series("value", ["x"]), KEY)
    assert decrypt_column(series, "reid", Settings().keys).to_list() == ["x"]


def test_encrypt_in_mask_needs_its_key_and_records_it(make_contract: MakeContract) -> None:
    contract = _contract(make_contract, {"rule": "encrypt", "key": "reid"})
    assert required_keys(contract) == {"reid"}
    frame = pl.DataFrame({"person_id": [1, 2], "value": ["anna@example.com", None]})
    with pytest.raises(MissingKeyError):
        mask(frame, contract, {"default": KEY})
    result = mask(frame, contract, {"reid": KEY})
    assert result.applied == {"value": "encrypt"}
    assert result.key_ids == {"value": key_id(KEY)}
    assert decrypt_column(result.frame["value"], KEY).to_list() == ["anna@example.com", None]
    assert result.frame["person_id"].to_list() == [1, 2]


def test_encrypt_of_numbers_encrypts_their_text(make_contract: MakeContract) -> None:
    contract = _contract(make_contract, "encrypt", "integer")
    result = mask(pl.DataFrame({"person_id": [1], "value": [770708389]}), contract, {"default": KEY})
    assert decrypt_column(result.frame["value"], KEY).to_list() == ["770708389"]


# --- generalize --------------------------------------------------------------------------------------


def test_generalize_dates_and_timestamps(make_contract: MakeContract) -> None:
    frame = pl.DataFrame(
        {
            "person_id": [1, 2, 3],
            "value": [date(1990, 5, 17), date(2001, 12, 31), None],
            "ts": [datetime(2021, 7, 4, 13, 5, tzinfo=UTC), datetime(2020, 2, 29, tzinfo=UTC), None],
        }
    )
    contract = make_contract(
        [
            {"name": "person_id", "logicalType": "integer"},
            {"name": "value", "logicalType": "date", "pii": "birth_date", "masking": YEAR},
            {"name": "ts", "logicalType": "timestamp", "masking": {"rule": "generalize", "to": "month"}},
        ]
    )
    out = mask(frame, contract, {}).frame
    assert out["value"].to_list() == [date(1990, 1, 1), date(2001, 1, 1), None]
    assert out["ts"].to_list() == [date(2021, 7, 1), date(2020, 2, 1), None]


def test_generalize_refuses_unconformed_text(make_contract: MakeContract) -> None:
    contract = _contract(make_contract, {"rule": "generalize", "to": "year"}, "date")
    with pytest.raises(TypeError, match="conform the frame"):
        mask(pl.DataFrame({"person_id": [1], "value": ["1990-05-17"]}), contract, {})


def _bounds(label: str) -> tuple[float, float]:
    low, high = label[1:-1].split(", ")
    return float(low), float(high)


edges = st.lists(st.integers(-10_000, 10_000), min_size=1, max_size=6, unique=True).map(sorted)
numbers = st.lists(st.one_of(st.none(), st.integers(-20_000, 20_000)), min_size=1, max_size=30)


@settings(max_examples=80, deadline=None)
@given(buckets=edges, values=numbers)
def test_generalize_buckets_put_each_number_in_its_range(
    make_contract: MakeContract, buckets: list[int], values: list[int | None]
) -> None:
    contract = _contract(make_contract, {"rule": "generalize", "buckets": buckets}, "integer")
    frame = pl.DataFrame(
        {"person_id": range(len(values)), "value": values}, schema_overrides={"value": pl.Int64}
    )
    out = mask(frame, contract, {}).frame
    for value, label in zip(values, out["value"], strict=True):
        if value is None:
            assert label is None
            continue
        low, high = _bounds(label)
        assert low <= value < high
        assert label.startswith("(-inf" if math.isinf(low) else "[")
        assert low in [*buckets, -math.inf] and high in [*buckets, math.inf]


@settings(max_examples=80, deadline=None)
@given(size=st.integers(1, 1_000), values=numbers, as_float=st.booleans())
def test_generalize_bucket_size_gives_aligned_ranges(
    make_contract: MakeContract, size: int, values: list[int | None], as_float: bool
) -> None:
    logical = "number" if as_float else "integer"
    frame = pl.DataFrame({"person_id": range(len(values)), "value": values}).with_columns(
        pl.col("value").cast(pl.Float64 if as_float else pl.Int64)
    )
    contract = _contract(make_contract, {"rule": "generalize", "bucket_size": size}, logical)
    out = mask(frame, contract, {}).frame
    for value, label in zip(values, out["value"], strict=True):
        if value is None:
            assert label is None
            continue
        assert re.fullmatch(r"\[-?\d+, -?\d+\)", label), label
        low, high = _bounds(label)
        assert high - low == size and low % size == 0 and low <= value < high


@settings(max_examples=100, deadline=None)
@given(
    size=st.sampled_from([0.1, 0.25, 0.5, 2.5, 7, 253]),
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=30),
)
def test_generalize_float_buckets_contain_their_value(
    make_contract: MakeContract, size: float, values: list[float]
) -> None:
    """Polars divides by a constant through its reciprocal (253.0 / 253 < 1): edges are corrected."""
    contract = _contract(make_contract, {"rule": "generalize", "bucket_size": size}, "number")
    frame = pl.DataFrame(
        {"person_id": range(len(values)), "value": values}, schema_overrides={"value": pl.Float64}
    )
    for value, label in zip(values, mask(frame, contract, {}).frame["value"], strict=True):
        low, high = _bounds(label)
        assert low <= value < high
        assert math.isclose(high - low, size, rel_tol=1e-9, abs_tol=1e-9)


def test_generalize_fractional_bucket_size_rounds_float_noise(make_contract: MakeContract) -> None:
    contract = _contract(make_contract, {"rule": "generalize", "bucket_size": 0.1}, "number")
    frame = pl.DataFrame({"person_id": [1, 2, 3], "value": [0.35, -0.01, float("nan")]})
    assert mask(frame, contract, {}).frame["value"].to_list() == ["[0.3, 0.4)", "[-0.1, 0.0)", None]


# --- redact_pii --------------------------------------------------------------------------------------


def test_redact_pii_replaces_each_kind_by_its_marker() -> None:
    text = (
        "Звонила Крюкова Галина Оскаровна, номер +7 903 970-28-80, почта anna@example.com; "
        "John Smith: card 4111 1111 1111 1111, ИНН 7707083893, СНИЛС 112-233-445 95, "
        "паспорт 4512 345678, IBAN DE89 3704 0044 0532 0130 00, ip 10.0.0.7. Спасибо!"
    )
    out = redact_text(text)
    for marker in MARKERS.values():
        assert marker in out
    assert out.startswith("Звонила [NAME], номер [PHONE], почта [EMAIL]; [NAME]: card [CARD]")
    assert out.endswith("ip [IP]. Спасибо!")
    assert find_spans(out) == []


def test_redact_pii_only_the_kinds_asked_for(make_contract: MakeContract) -> None:
    contract = _contract(make_contract, {"rule": "redact_pii", "kinds": ["email"]})
    frame = pl.DataFrame({"person_id": [1, 2], "value": ["mail anna@example.com, tel +79161234567", None]})
    result = mask(frame, contract, {})
    assert result.frame["value"].to_list() == ["mail [EMAIL], tel +79161234567", None]
    assert result.applied == {"value": "redact_pii"}


pii_values = st.builds(
    lambda kind, seed: kind(random.Random(seed)),
    st.sampled_from(
        [phone_ru, card, snils, lambda r: f"паспорт 45{r.randint(10, 23)} {r.randint(0, 999_999):06d}"]
    ),
    st.integers(0, 2**32 - 1),
)
fixed = st.sampled_from(
    [
        "anna@example.com", "Иванов Иван Петрович", "John Smith", "Mr. Brown", "7707083893",
        "DE89 3704 0044 0532 0130 00", "192.168.1.10", "2001:db8::1", "ИНН", "звонила", "заказ", "-", "+",
        "@", ".", "8", "12", ",", "\n", "Б", "x",
    ]
)  # fmt: skip
glue = st.sampled_from(["", " ", ", ", "\n", "-", ": "])
notes = st.lists(st.tuples(st.one_of(pii_values, fixed), glue), max_size=7).map(
    lambda parts: "".join(a + b for a, b in parts)
)


@settings(max_examples=120, deadline=None)
@given(texts=st.lists(st.one_of(notes, st.text(max_size=30), st.none()), min_size=1, max_size=6))
def test_redact_pii_leaves_no_detectable_span(texts: list[str | None]) -> None:
    """Whatever is glued to what, nothing find_spans can see survives, and plain rows stay as they were."""
    out = redact_series(pl.Series("note", texts, dtype=pl.String)).to_list()
    for before, after in zip(texts, out, strict=True):
        if before is None:
            assert after is None
            continue
        assert find_spans(after) == []
        if not find_spans(before):
            assert after == before


# --- zero-leak check ---------------------------------------------------------------------------------


def _customers(rows: int = 300) -> pl.DataFrame:
    rng = random.Random(9)
    return pl.DataFrame(
        {
            "customer_id": list(range(100_001, 100_001 + rows)),
            "email": [f"user{i}@example.com" for i in range(rows)],
            "phone": [phone_ru(rng) for _ in range(rows)],
            "card_number": [card(rng) for _ in range(rows)],
            "snils": [snils(rng) for _ in range(rows)],
            "birth_date": [date(1960 + i % 40, 1 + i % 12, 1 + i % 28) for i in range(rows)],
            "lifetime_value": [rng.uniform(0, 5_000) for _ in range(rows)],
            "comment": [
                f"Звонила Петрова Анна Сергеевна, номер {phone_ru(rng)}." if i % 2 else "Вопрос закрыт."
                for i in range(rows)
            ],
        }
    )  # fmt: skip


def _customers_contract(make_contract: MakeContract, phone_rule: object) -> Contract:
    return make_contract(
        [
            {"name": "customer_id", "logicalType": "integer"},
            {"name": "email", "logicalType": "string", "pii": "email", "masking": "hash"},
            {"name": "phone", "logicalType": "string", "pii": "phone", "masking": phone_rule},
            {"name": "card_number", "logicalType": "string", "pii": "card", "masking": "partial"},
            {"name": "snils", "logicalType": "string", "pii": "snils", "masking": "encrypt"},
            {"name": "birth_date", "logicalType": "date", "pii": "birth_date", "masking": YEAR},
            {"name": "lifetime_value", "logicalType": "number", "masking": BUCKETS},
            {"name": "comment", "logicalType": "string", "pii": "free_text", "masking": "redact_pii"},
        ]
    )  # fmt: skip


def test_masked_frame_has_no_leaks(make_contract: MakeContract) -> None:
    contract = _customers_contract(make_contract, {"rule": "partial", "keep_last": 2})
    before = leaks(_customers(), contract)
    assert before.flagged() == {
        "phone": ["phone"],
        "card_number": ["card"],
        "comment": ["free_text", "person_name", "phone"],
    }
    masked = mask(_customers(), contract, {"default": KEY}).frame
    report = leaks(masked, contract)
    assert report.clean, report.flagged()
    # hash, encrypt (and redact, drop) outputs are clean by construction and not scanned
    assert set(report.columns) == {
        "customer_id",
        "phone",
        "card_number",
        "birth_date",
        "lifetime_value",
        "comment",
    }


def test_leak_check_catches_a_careless_rule_and_undeclared_columns(make_contract: MakeContract) -> None:
    """keep_last 14 leaves "903 970-28-80" of "+7 903 970-28-80": still a valid phone."""
    contract = _customers_contract(make_contract, {"rule": "partial", "keep_last": 14})
    frame = _customers().with_columns(pl.col("email").alias("backup_email"))
    masked = mask(frame, contract, {"default": KEY}).frame
    assert leaks(masked, contract).flagged() == {"phone": ["phone"], "backup_email": ["email"]}
