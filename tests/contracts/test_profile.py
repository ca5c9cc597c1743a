"""Profiles of a batch: exact counts, sound numbers, and never a value of a personal or masked column."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.model import Contract
from contracts.profile import profile_batch, withheld_columns
from storage.profiles import Profile

PROPERTIES: list[dict[str, Any]] = [
    {"name": "n", "logicalType": "integer"},
    {"name": "x", "logicalType": "number"},
    {"name": "channel", "logicalType": "string", "classification": "internal"},
    {"name": "email", "logicalType": "string", "pii": "email", "masking": "hash"},
    {"name": "salary", "logicalType": "number", "classification": "restricted"},
    {"name": "score", "logicalType": "number"},
]


def contract(drift: dict[str, Any] | None = None, properties: list[dict[str, Any]] | None = None) -> Contract:
    schema: dict[str, Any] = {"name": "t", "properties": properties or PROPERTIES}
    if drift is not None:
        schema["drift"] = drift
    return Contract.model_validate({"id": "t", "version": "1.0.0", "schema": [schema]})


CATEGORICAL = contract({"newCategories": {"columns": ["channel"], "maxCategories": 5}})

frames = st.integers(min_value=0, max_value=60).flatmap(
    lambda rows: st.fixed_dictionaries(
        {
            "n": st.lists(st.none() | st.integers(-(2**40), 2**40), min_size=rows, max_size=rows),
            "x": st.lists(st.none() | st.floats(-1e9, 1e9, allow_nan=False), min_size=rows, max_size=rows),
            "channel": st.lists(st.none() | st.sampled_from("abcdefg"), min_size=rows, max_size=rows),
        }
    )
)


def frame_of(columns: dict[str, list[Any]]) -> pl.DataFrame:
    return pl.DataFrame(columns, schema={"n": pl.Int64, "x": pl.Float64, "channel": pl.String})


@settings(max_examples=150, deadline=None)
@given(frames)
def test_counts_are_exact_and_numbers_are_sound(columns: dict[str, list[Any]]) -> None:
    frame = frame_of(columns)
    profile = profile_batch(frame, CATEGORICAL, source="t", run_id="r1")
    assert profile.rows == frame.height
    for name, values in columns.items():
        column = profile.column(name)
        assert column is not None
        present = [v for v in values if v is not None]
        assert column.nulls == len(values) - len(present)
        assert column.null_rate == pytest.approx(column.nulls / len(values) if values else 0.0)
        exact = len(set(present))
        assert abs(column.distinct - exact) <= max(2, 0.05 * exact)  # HyperLogLog
        if name == "channel":
            assert column.min is None and column.quantiles is None
            distinct = sorted(set(present))
            if len(distinct) <= 5:
                assert (column.categories, column.categories_over) == (distinct, False)
            else:
                assert (column.categories, column.categories_over) == (None, True)
            continue
        if not present:
            assert column.min is None and column.max is None
            continue
        assert column.min == pytest.approx(float(min(present)))
        assert column.max == pytest.approx(float(max(present)))
        assert column.quantiles is not None
        p05, p50, p95 = (column.quantiles[k] for k in ("p05", "p50", "p95"))
        assert p05 is not None and p50 is not None and p95 is not None
        slack = 1e-6 * max(1.0, abs(column.max), abs(column.min))
        assert column.min - slack <= p05 <= p50 + slack <= p95 + 2 * slack <= column.max + 3 * slack


def test_personal_masked_restricted_and_undeclared_columns_keep_counts_only() -> None:
    emails = [f"person{i}@example.org" for i in range(40)]
    frame = pl.DataFrame(
        {
            "n": list(range(40)),
            "x": [float(i) for i in range(40)],
            "channel": ["web", "shop"] * 20,
            "email": emails,
            "salary": [123456.0 + i for i in range(40)],
            "score": [0.5] * 40,
            "undeclared": [f"secret-{i}" for i in range(40)],
        }
    )
    # `score` was masked by this run although the contract names no rule for it (e.g. a future rule).
    profile = profile_batch(frame, CATEGORICAL, source="t", run_id="r1", masked={"score": "redact"})
    text = profile.model_dump_json()
    withheld = {c.name for c in profile.columns if c.withheld}
    assert withheld == {"email", "salary", "score", "undeclared"}
    for name in withheld:
        column = profile.column(name)
        assert column is not None
        assert (column.min, column.max, column.quantiles, column.categories) == (None, None, None, None)
        assert column.distinct == pytest.approx(frame.get_column(name).n_unique(), abs=2)
        assert column.nulls == 0
    assert not [e for e in emails if e in text]
    assert "123456" not in text and "secret-" not in text
    channel = profile.column("channel")
    assert channel is not None and channel.categories == ["shop", "web"]


def test_withheld_columns_follow_the_contract() -> None:
    assert withheld_columns(["n", "email", "salary", "extra"], CATEGORICAL, masked=["x"]) == {
        "email",
        "salary",
        "extra",
        "x",
    }


def test_an_empty_batch_has_rates_of_zero() -> None:
    frame = frame_of({"n": [], "x": [], "channel": []})
    profile = profile_batch(frame, CATEGORICAL, source="t", run_id="r1")
    assert profile.rows == 0
    for column in profile.columns:
        assert (column.nulls, column.null_rate, column.distinct) == (0, 0.0, 0)
        assert column.min is None


def test_non_finite_numbers_are_stored_as_none() -> None:
    frame = pl.DataFrame({"x": [float("inf"), 1.0, float("-inf")]})
    profile = profile_batch(frame, CATEGORICAL, source="t", run_id="r1")
    column = profile.column("x")
    assert column is not None and column.min is None and column.max is None
    Profile.model_validate_json(profile.model_dump_json())  # JSON round-trips


def test_categories_are_kept_only_for_named_columns() -> None:
    frame = frame_of({"n": [1, 2], "x": [1.0, 2.0], "channel": ["web", "shop"]})
    plain = profile_batch(frame, contract(), source="t", run_id="r1")
    assert all(c.categories is None for c in plain.columns)
    ignored = contract({"newCategories": {"columns": ["channel"], "action": "ignore"}})
    assert all(c.categories is None for c in profile_batch(frame, ignored, source="t", run_id="r").columns)


def test_profile_checks_are_warnings_by_default() -> None:
    drift = contract().table.drift
    assert (drift.volume.action, drift.volume.max_change) == ("warn", 0.5)
    assert (drift.null_rate.action, drift.null_rate.max_increase, drift.null_rate.columns) == (
        "warn",
        10,
        None,
    )
    assert (drift.new_categories.columns, drift.history) == ([], 5)
    assert drift.new_columns == "block"  # schema drift keeps its own defaults


@pytest.mark.parametrize(
    ("drift", "message"),
    [
        ({"newCategories": {"columns": ["email"]}}, "column 'email' is personal, masked or restricted"),
        ({"newCategories": {"columns": ["salary"]}}, "column 'salary' is personal, masked or restricted"),
        ({"newCategories": {"columns": ["nope"]}}, "drift.newCategories names unknown column 'nope'"),
        ({"nullRate": {"columns": ["nope"]}}, "drift.nullRate names unknown column 'nope'"),
        ({"volume": {"action": "quarantine"}}, "'warn', 'block' or 'ignore'"),
        ({"volume": {"maxChange": 0}}, "greater than 0"),
        ({"nullRate": {"maxIncrease": 150}}, "less than or equal to 100"),
        ({"history": 0}, "greater than or equal to 1"),
    ],
)
def test_mistakes_in_the_drift_section_are_named(drift: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        contract(drift)
