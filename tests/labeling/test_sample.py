"""Sampling: reproducible for a seed, independent of row order, stable as the dataset grows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labeling.plan import Plan, Sample, load_plans
from labeling.sample import ITEM, allocate, draw
from sources.catalog import load_catalog

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plan() -> Plan:
    [found] = load_plans(load_catalog(REPO / "examples" / "catalog"))
    return found


def _with_sample(plan: Plan, **changes: object) -> Plan:
    sample = Sample(**{**plan.plan.sample.model_dump(), **changes})
    return dataclasses.replace(plan, plan=plan.plan.model_copy(update={"sample": sample}), gold={})


def _tickets(n: int, offset: int = 0) -> pl.DataFrame:
    ids = range(offset, offset + n)
    return pl.DataFrame(
        {
            "ticket_id": [f"T-{i:06d}" for i in ids],
            "channel": [("email", "chat", "phone", "phone")[i % 4] for i in ids],
            "subject": [f"subject {i}" for i in ids],
            "body": [f"body {i}" for i in ids],
        }
    )


def test_random_sample_has_the_size_and_only_the_fields(plan: Plan) -> None:
    drawn = draw(_tickets(500), _with_sample(plan, strategy="random", by=None, size=40))
    assert drawn.frame.height == 40
    assert drawn.frame.columns == [ITEM, "subject", "body"]
    assert drawn.frame[ITEM].is_unique().all()


def test_same_seed_same_sample_in_any_row_order_other_seed_other_sample(plan: Plan) -> None:
    rows = _tickets(500)
    random = _with_sample(plan, strategy="random", by=None, size=40)
    first = draw(rows, random).frame
    assert draw(rows.sample(fraction=1.0, shuffle=True, seed=1), random).frame.equals(first)
    other = draw(rows, _with_sample(plan, strategy="random", by=None, size=40, seed=8)).frame
    assert set(other[ITEM]) != set(first[ITEM])


def test_growing_dataset_keeps_most_earlier_picks(plan: Plan) -> None:
    random = _with_sample(plan, strategy="random", by=None, size=50)
    before = set(draw(_tickets(1000), random).frame[ITEM])
    after = set(draw(pl.concat([_tickets(1000), _tickets(100, offset=1000)]), random).frame[ITEM])
    # 10% more rows: an earlier pick stays unless a new row outranks it (about 1 in 11 do).
    assert len(before & after) >= 35


def test_stratified_sample_follows_the_strata(plan: Plan) -> None:
    drawn = draw(_tickets(400), _with_sample(plan, size=40))
    assert drawn.strata == {"chat": 10, "email": 10, "phone": 20}
    assert drawn.frame.height == 40


def test_gold_items_are_mixed_in_and_missing_ones_reported(plan: Plan) -> None:
    gold = {"T-000003": "payment", "T-999999": "other"}
    drawn = draw(_tickets(100), dataclasses.replace(_with_sample(plan, size=5), gold=gold))
    assert "T-000003" in set(drawn.frame[ITEM])
    assert drawn.gold_included == 1
    assert drawn.gold_missing == ["T-999999"]


def test_keys_must_be_present_and_unique(plan: Plan) -> None:
    rows = _tickets(10)
    with pytest.raises(ValueError, match="ticket_id is not unique"):
        draw(pl.concat([rows, rows.head(1)]), plan)
    with pytest.raises(ValueError, match="1 row"):
        draw(
            rows.with_columns(
                ticket_id=pl.when(pl.col("body") == "body 3").then(None).otherwise("ticket_id")
            ),
            plan,
        )


def test_null_stratum_is_a_stratum_of_its_own(plan: Plan) -> None:
    rows = _tickets(100).with_columns(
        channel=pl.when(pl.col("body").str.ends_with("7")).then(None).otherwise("channel")
    )
    drawn = draw(rows, _with_sample(plan, size=20))
    assert "(null)" in drawn.strata
    assert sum(drawn.strata.values()) == 20


@given(
    counts=st.dictionaries(
        st.text("abcdef", min_size=1, max_size=3), st.integers(0, 200), min_size=1, max_size=8
    ),
    size=st.integers(1, 500),
)
def test_allocation_is_exact_bounded_and_covers_strata(counts: dict[str, int], size: int) -> None:
    shares = allocate(counts, size)
    assert sum(shares.values()) == min(size, sum(counts.values()))
    assert all(0 <= shares[name] <= counts[name] for name in counts)
    non_empty = [name for name, n in counts.items() if n]
    if size >= len(counts):
        assert all(shares[name] >= 1 for name in non_empty)
