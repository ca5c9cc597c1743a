"""Drift of a profile from the last published runs': volume, null rates and new categories, as the
contract judges them."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.drift import compare
from contracts.model import Contract, DriftPolicy
from storage.profiles import ColumnProfile, Profile

PROPERTIES: list[dict[str, Any]] = [
    {"name": "amount", "logicalType": "number"},
    {"name": "channel", "logicalType": "string"},
    {"name": "email", "logicalType": "string", "pii": "email", "masking": "hash"},
]


def policy(**drift: Any) -> DriftPolicy:
    schema = {"name": "t", "properties": PROPERTIES, "drift": drift}
    return Contract.model_validate({"id": "t", "version": "1.0.0", "schema": [schema]}).table.drift


def profile(
    rows: int, *, nulls: dict[str, float] | None = None, channels: list[str] | None = None, run: str = "r"
) -> Profile:
    rates = {"amount": 0.0, "channel": 0.0, "email": 0.0, **(nulls or {})}
    return Profile(
        source="t",
        run_id=run,
        profiled_at=datetime(2026, 1, 1, tzinfo=UTC),
        rows=rows,
        columns=[
            ColumnProfile(
                name=name,
                dtype="String",
                nulls=round(rate * rows),
                null_rate=rate,
                distinct=1,
                categories=channels if name == "channel" else None,
            )
            for name, rate in rates.items()
        ],
    )


CATEGORIES = policy(newCategories={"columns": ["channel"]})


def test_no_history_no_findings() -> None:
    assert compare(profile(0, nulls={"amount": 1.0}, channels=["x"]), [], CATEGORIES) == []


def test_a_volume_drop_beyond_the_tolerance_is_reported_with_numbers() -> None:
    history = [profile(1000), profile(1100), profile(50)]  # one odd run does not move the median
    [finding] = compare(profile(400), history, policy())
    assert (finding.kind, finding.column, finding.action, finding.blocking) == ("volume", None, "warn", False)
    assert finding.detail == (
        "400 row(s) against a median of 1000 over the last 3 published run(s): -60%, beyond ±50%"
    )
    assert compare(profile(600), history, policy()) == []


def test_growth_counts_as_drift_too_and_from_nothing_as_well() -> None:
    [grown] = compare(profile(2000), [profile(1000)], policy(volume={"maxChange": 0.25, "action": "block"}))
    assert grown.blocking and "+100%" in grown.detail
    [first] = compare(profile(5), [profile(0), profile(0)], policy())
    assert "from none" in first.detail
    assert compare(profile(0), [profile(0)], policy()) == []


def test_null_rate_rises_are_reported_per_column_in_points() -> None:
    history = [profile(100, nulls={"amount": 0.02}), profile(100, nulls={"amount": 0.04})]
    [finding] = compare(profile(100, nulls={"amount": 0.35}), history, policy())
    assert (finding.kind, finding.column) == ("null_rate", "amount")
    assert finding.detail == (
        "35.0% null against a median of 3.0% over the last 2 published run(s): +32.0 points, above 10"
    )
    # Fewer nulls is no drift; a narrower column list leaves the others alone.
    assert compare(profile(100), [profile(100, nulls={"amount": 0.9})], policy()) == []
    narrowed = policy(nullRate={"columns": ["channel"], "maxIncrease": 5})
    assert compare(profile(100, nulls={"amount": 0.9}), history, narrowed) == []


def test_personal_columns_are_checked_for_null_rates_by_name_only() -> None:
    [finding] = compare(profile(100, nulls={"email": 0.5}), [profile(100)], policy())
    assert finding.column == "email" and "@" not in finding.detail


def test_new_categories_are_counted_never_shown() -> None:
    history = [profile(10, channels=["web", "shop"]), profile(10, channels=["web", "phone"])]
    [finding] = compare(profile(10, channels=["web", "kiosk", "partner-x"]), history, CATEGORIES)
    assert (finding.kind, finding.column) == ("new_categories", "channel")
    assert finding.detail == "2 value(s) that none of the last 2 published run(s) had"
    assert "kiosk" not in str(finding) and "partner-x" not in str(finding)
    assert compare(profile(10, channels=["shop", "phone"]), history, CATEGORIES) == []


def test_a_column_without_a_value_set_in_the_history_is_not_judged() -> None:
    assert compare(profile(10, channels=["web"]), [profile(10)], CATEGORIES) == []


def test_a_categorical_column_that_outgrew_its_limit_is_drift() -> None:
    current = profile(10)
    channel = current.column("channel")
    assert channel is not None
    channel.categories_over, channel.distinct = True, 5000
    [finding] = compare(current, [profile(10, channels=["web"])], CATEGORIES)
    assert finding.detail == "5000 distinct value(s), more than the 1000 tracked"


def test_ignore_turns_a_check_off_and_history_is_cut_to_its_length() -> None:
    off = policy(volume={"action": "ignore"}, nullRate={"action": "ignore"})
    assert compare(profile(1, nulls={"amount": 1.0}), [profile(1000)], off) == []
    # Only the last 2 runs count: the big ones before them are out of the window.
    history = [profile(10_000), profile(10_000), profile(100), profile(100)]
    assert compare(profile(100), history, policy(history=2)) == []
    assert compare(profile(100), history, policy(history=4))  # median 5050: a drop


rows = st.integers(min_value=0, max_value=10**6)


@settings(max_examples=300, deadline=None)
@given(st.lists(rows, min_size=1, max_size=12), rows, st.floats(0.01, 3.0))
def test_volume_is_drift_exactly_when_the_change_exceeds_the_tolerance(
    history: list[int], current: int, tolerance: float
) -> None:
    check = policy(volume={"maxChange": tolerance}, history=100)
    found = [f for f in compare(profile(current), [profile(r) for r in history], check) if f.kind == "volume"]
    median = statistics.median(history)
    expected = current > 0 if median == 0 else abs(current - median) / median > tolerance
    assert bool(found) == expected


rates = st.floats(0.0, 1.0)


@settings(max_examples=300, deadline=None)
@given(st.lists(rates, min_size=1, max_size=12), rates, st.floats(0.5, 100.0))
def test_null_rate_is_drift_exactly_when_it_rises_more_than_allowed(
    history: list[float], current: float, points: float
) -> None:
    check = policy(nullRate={"maxIncrease": points}, history=100)
    past = [profile(100, nulls={"amount": r}) for r in history]
    found = [
        f for f in compare(profile(100, nulls={"amount": current}), past, check) if f.kind == "null_rate"
    ]
    assert bool(found) == ((current - statistics.median(history)) * 100 > points)


values = st.lists(st.sampled_from("abcdefghij"), unique=True, max_size=10)


@settings(max_examples=300, deadline=None)
@given(st.lists(values, min_size=1, max_size=6), values)
def test_new_categories_are_exactly_the_values_no_earlier_run_had(
    history: list[list[str]], current: list[str]
) -> None:
    past = [profile(10, channels=sorted(v)) for v in history]
    found = compare(
        profile(10, channels=sorted(current)),
        past,
        policy(newCategories={"columns": ["channel"]}, history=100),
    )
    new = set(current) - set().union(*map(set, history))
    assert [f.detail.split()[0] for f in found if f.kind == "new_categories"] == (
        [str(len(new))] if new else []
    )


@settings(max_examples=100, deadline=None)
@given(
    rows, st.dictionaries(st.sampled_from(["amount", "channel", "email"]), rates), values, st.integers(1, 6)
)
def test_a_profile_never_drifts_from_copies_of_itself(
    count: int, nulls: dict[str, float], channels: list[str], copies: int
) -> None:
    same = profile(count, nulls=nulls, channels=sorted(channels))
    strict = policy(
        volume={"maxChange": 0.001}, nullRate={"maxIncrease": 0.001}, newCategories={"columns": ["channel"]}
    )
    assert compare(same, [same] * copies, strict) == []


@pytest.mark.parametrize("action", ["warn", "block"])
def test_each_finding_carries_the_contract_action(action: str) -> None:
    check = policy(
        volume={"action": action},
        nullRate={"action": action},
        newCategories={"columns": ["channel"], "action": action},
    )
    found = compare(
        profile(10, nulls={"amount": 1.0}, channels=["new"]), [profile(100, channels=["old"])], check
    )
    assert sorted(f.kind for f in found) == ["new_categories", "null_rate", "volume"]
    assert {f.action for f in found} == {action}
    assert all(f.blocking == (action == "block") for f in found)
