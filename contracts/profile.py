"""Profiling the batch a run is about to publish: the statistics drift checks compare from run to run.

The batch is already in memory as a polars frame (masked and through the PII gate), so one `select`
over it computes every column's figures at once, in parallel and without copying the data: null
counts, distinct counts (`approx_n_unique`, HyperLogLog: exact for a handful of values, within a few
per cent beyond), and for numbers min, max and the 5th, 50th and 95th percentiles. Value sets are taken
only for the columns the contract names under ``drift.newCategories``.

Profiles are read by many people, so values are recorded only for columns the contract declares and
does not mark as personal (``pii``), masked (``masking``, or masked by this run) or ``restricted``;
the others get counts and rates only (`withheld_columns`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl

from storage.profiles import ColumnProfile, Profile

if TYPE_CHECKING:
    from collections.abc import Collection

    from contracts.model import Contract

QUANTILES = {"p05": 0.05, "p50": 0.5, "p95": 0.95}


def withheld_columns(
    frame_columns: Collection[str], contract: Contract, masked: Collection[str] = ()
) -> set[str]:
    """Columns whose values must never reach a profile: undeclared ones (fail closed), and declared ones
    that are personal, masked (by the contract or by this run) or classified restricted."""
    declared = {prop.name: prop for prop in contract.columns}
    withheld = set(masked)
    for name in frame_columns:
        prop = declared.get(name)
        if (
            prop is None
            or prop.pii is not None
            or prop.masking is not None
            or prop.classification == "restricted"
        ):
            withheld.add(name)
    return withheld


def profile_batch(
    frame: pl.DataFrame | pl.LazyFrame,
    contract: Contract,
    *,
    source: str,
    run_id: str,
    masked: Collection[str] = (),
    now: datetime | None = None,
) -> Profile:
    """The profile of `frame`, the batch about to be published (`masked`: the columns this run masked).

    A staged batch is profiled as a lazy scan of its parts: the counts in one streaming pass, and each
    column's quantiles (which need the column's values together) a column at a time.
    """
    schema = frame.collect_schema()
    withheld = withheld_columns(schema.names(), contract, masked)
    exprs: list[pl.Expr] = [pl.len().alias("rows")]
    quantiles: list[list[pl.Expr]] = []
    for i, name in enumerate(schema.names()):
        column = pl.col(name)
        exprs += [column.null_count().alias(f"{i}:nulls"), column.approx_n_unique().alias(f"{i}:distinct")]
        if name not in withheld and schema[name].is_numeric():
            number = column.cast(pl.Float64)
            exprs += [number.min().alias(f"{i}:min"), number.max().alias(f"{i}:max")]
            quantiles.append(
                [number.quantile(q, interpolation="linear").alias(f"{i}:{k}") for k, q in QUANTILES.items()]
            )
    if isinstance(frame, pl.LazyFrame):
        stats = frame.select(exprs).collect(engine="streaming").row(0, named=True)
        for column_quantiles in quantiles:
            stats |= frame.select(column_quantiles).collect(engine="streaming").row(0, named=True)
    else:
        stats = frame.select(*exprs, *(e for group in quantiles for e in group)).row(0, named=True)
    policy = contract.table.drift.new_categories
    categorical = set(policy.columns) if policy.action != "ignore" else set()
    rows = int(stats["rows"])
    columns = []
    for i, name in enumerate(schema.names()):
        nulls = int(stats[f"{i}:nulls"])
        # approx_n_unique counts null as one value more.
        distinct = max(int(stats[f"{i}:distinct"]) - (1 if nulls else 0), 0)
        profile = ColumnProfile(
            name=name,
            dtype=str(schema[name]),
            nulls=nulls,
            null_rate=nulls / rows if rows else 0.0,
            distinct=distinct,
            withheld=name in withheld,
        )
        if f"{i}:min" in stats:
            profile.min, profile.max = _finite(stats[f"{i}:min"]), _finite(stats[f"{i}:max"])
            profile.quantiles = {k: _finite(stats[f"{i}:{k}"]) for k in QUANTILES}
        if name in categorical and name not in withheld:
            profile.categories, profile.categories_over = _categories(
                frame, name, distinct, policy.max_categories
            )
        columns.append(profile)
    return Profile(
        source=source,
        run_id=run_id,
        profiled_at=now or datetime.now(UTC),
        contract_version=contract.version,
        rows=rows,
        columns=columns,
    )


def _categories(
    frame: pl.DataFrame | pl.LazyFrame, name: str, approx: int, limit: int
) -> tuple[list[str] | None, bool]:
    """The column's distinct non-null values as text, sorted; none when there are more than `limit`.

    `approx` (the HyperLogLog count) spares the exact pass over a column clearly above the limit."""
    if approx > max(limit * 1.1, limit + 10):
        return None, True
    distinct = frame.select(pl.col(name).drop_nulls().unique())
    if isinstance(distinct, pl.LazyFrame):
        distinct = distinct.collect(engine="streaming")
    values = distinct.to_series()
    if values.len() > limit:
        return None, True
    return sorted(values.cast(pl.String).to_list()), False


def _finite(value: object) -> float | None:
    """A float for JSON; NaN and infinities (which JSON cannot hold) become None."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


__all__ = ["QUANTILES", "profile_batch", "withheld_columns"]
