"""Drawing the rows annotators label: reproducible, stable as the dataset grows, and columnar.

Rows are ranked by ``md5(seed:key)`` and the first ``size`` are taken (per stratum for a stratified
sample). Ranking by a hash of the row key, rather than shuffling, makes the sample depend only on the
seed and the keys present: the same rows in any order give the same sample, and when new rows arrive
most earlier picks stay picked, so a re-dispatch adds a few tasks instead of a new batch. MD5 is used
as a stable, well-spread ranking function (not for security); DuckDB computes it over Arrow data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import polars as pl

if TYPE_CHECKING:
    from labeling.plan import Plan

ITEM = "lockgate_key"
NULL_STRATUM = "(null)"


@dataclass(frozen=True)
class Drawn:
    """The sample: one row per task, ``lockgate_key`` first, then the fields annotators see."""

    frame: pl.DataFrame
    gold_included: int
    gold_missing: list[str]
    strata: dict[str, int]


def allocate(counts: dict[str, int], size: int) -> dict[str, int]:
    """Split ``size`` over strata in proportion to their rows (largest remainder), at least one each
    when there is room for every stratum, never more than a stratum holds."""
    total = sum(counts.values())
    if size >= total:
        return dict(counts)
    floor = (
        {name: min(n, 1) for name, n in counts.items()} if size >= len(counts) else dict.fromkeys(counts, 0)
    )
    left = size - sum(floor.values())
    spare = {name: counts[name] - floor[name] for name in counts}
    spare_total = sum(spare.values())
    exact = (
        {name: left * spare[name] / spare_total for name in counts}
        if spare_total
        else dict.fromkeys(counts, 0)
    )
    share = {name: min(int(exact[name]), spare[name]) for name in counts}
    rest = left - sum(share.values())
    # Largest remainder first; ties broken by name so the allocation is deterministic.
    for name in sorted(counts, key=lambda n: (-(exact[n] - int(exact[n])), n)):
        if rest <= 0:
            break
        if share[name] < spare[name]:
            share[name] += 1
            rest -= 1
    return {name: floor[name] + share[name] for name in counts}


def _ranked(frame: pl.DataFrame, key: str, seed: int, stratum: str | None) -> pl.DataFrame:
    """Every row with its rank by the hash of its key, within its stratum when there is one."""
    con = duckdb.connect()
    try:
        con.register("rows", frame.select(pl.col(key).cast(pl.String).alias(ITEM), pl.all()).to_arrow())
        group = (
            f", coalesce(CAST(\"{stratum}\" AS VARCHAR), '{NULL_STRATUM}') AS lockgate_stratum"
            if stratum
            else ", NULL AS lockgate_stratum"
        )
        partition = 'PARTITION BY "lockgate_stratum"' if stratum else ""
        sql = f"""
            SELECT *,
                row_number() OVER ({partition} ORDER BY md5(? || ':' || {ITEM}), {ITEM}) AS lockgate_rank
            FROM (SELECT *{group} FROM rows)
        """  # noqa: S608 - identifiers come from a validated plan, values are bound
        return con.execute(sql, [str(seed)]).pl()
    finally:
        con.close()


def draw(curated: pl.DataFrame, plan: Plan) -> Drawn:
    """The plan's sample of the curated rows, with the plan's gold items added when present."""
    settings = plan.plan.sample
    key = plan.key
    if curated[key].null_count():
        raise ValueError(
            f"{plan.source.name}: {curated[key].null_count()} row(s) have no {key}; cannot key tasks"
        )
    if curated[key].is_duplicated().any():
        raise ValueError(f"{plan.source.name}: {key} is not unique in the curated data; cannot key tasks")
    columns = list(dict.fromkeys([key, *plan.plan.fields, *([settings.by] if settings.by else [])]))
    ranked = _ranked(curated.select(columns), key, settings.seed, settings.by)
    strata: dict[str, int] = {}
    if settings.by:
        counts = ranked.group_by("lockgate_stratum").len()
        sizes = allocate(dict(counts.iter_rows()), settings.size)
        limits = pl.DataFrame({"lockgate_stratum": list(sizes), "lockgate_limit": list(sizes.values())})
        picked = ranked.join(limits, on="lockgate_stratum").filter(
            pl.col("lockgate_rank") <= pl.col("lockgate_limit")
        )
        strata = {name: n for name, n in sizes.items() if n}
    else:
        picked = ranked.filter(pl.col("lockgate_rank") <= settings.size)
    gold_keys = set(plan.gold)
    present_gold = ranked.filter(pl.col(ITEM).is_in(gold_keys))
    gold_missing = sorted(gold_keys - set(present_gold[ITEM].to_list()))
    fields = [ITEM, *plan.plan.fields]
    sample = (
        pl.concat([picked.select(fields), present_gold.select(fields)]).unique(ITEM, keep="first").sort(ITEM)
    )
    return Drawn(frame=sample, gold_included=present_gold.height, gold_missing=gold_missing, strata=strata)
