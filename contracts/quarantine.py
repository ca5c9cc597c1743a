"""Row quarantine: which rows broke which rules, computed columnar, so the rest of a batch can go on.

A rule with ``action: quarantine`` sets its failing rows aside instead of stopping the line. Great
Expectations reports how many rows failed but not which (we never ask it for values), so the failing
rows are found again with one polars expression per rule, written to mirror GX's semantics for that
expectation: nulls are ignored by every map expectation except ``not_be_null``, ``mostly`` is judged by
GX's own result. Only expectations that judge single rows can quarantine; ``check_contract`` refuses the
others. The tests compare each expression's count with GX's ``unexpected_count`` on the same data.

CSV records with too few or too many fields never became rows; a contract with ``malformed_rows:
quarantine`` sets them aside in the same place, under the rule id ``malformed_row``, with their file,
the line where they start and their fields as read (their columns cannot be told apart, so none is typed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import duckdb
import polars as pl

from contracts.model import Action
from contracts.row_level import NULL_RULE, ROW_LEVEL_EXPECTATIONS
from storage.staging import duckdb_config

UNIQUE_RULE = "expect_column_values_to_be_unique"

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from contracts.model import QualityRule
    from storage.staging import Staged

ROW_NUMBER = "_lockgate_row"
FAILED_RULES = "_lockgate_failed_rules"
SOURCE_FILE = "_lockgate_file"
SOURCE_LINE = "_lockgate_line"
RAW_FIELDS = "_lockgate_fields"
MALFORMED_ROW = "malformed_row"


class Malformed(Protocol):
    """A record that could not be read as a row (`sources.connectors.MalformedRecord`)."""

    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def values(self) -> tuple[str, ...]: ...


def _between(col: pl.Expr, kwargs: dict[str, Any]) -> pl.Expr:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    bad = pl.lit(False)
    if low is not None:
        bad = bad | ((col <= low) if kwargs.get("strict_min") else (col < low))
    if high is not None:
        bad = bad | ((col >= high) if kwargs.get("strict_max") else (col > high))
    return bad


def _lengths_between(col: pl.Expr, kwargs: dict[str, Any]) -> pl.Expr:
    return _between(col.cast(pl.String).str.len_chars(), kwargs)


# Each builder returns "this non-null value fails"; nulls are handled once, below.
_FAILS: dict[str, Callable[[pl.Expr, dict[str, Any]], pl.Expr]] = {
    "expect_column_values_to_be_between": _between,
    "expect_column_values_to_be_in_set": lambda col, kw: ~col.is_in(list(kw["value_set"])),
    "expect_column_values_to_not_be_in_set": lambda col, kw: col.is_in(list(kw["value_set"])),
    "expect_column_values_to_match_regex": lambda col, kw: ~col.cast(pl.String).str.contains(kw["regex"]),
    "expect_column_values_to_not_match_regex": lambda col, kw: col.cast(pl.String).str.contains(kw["regex"]),
    "expect_column_value_lengths_to_equal": lambda col, kw: (
        col.cast(pl.String).str.len_chars() != kw["value"]
    ),
    "expect_column_value_lengths_to_be_between": _lengths_between,
    "expect_column_values_to_be_unique": lambda col, kw: col.is_duplicated(),
}


def failing_rows(rule: QualityRule, duplicates: Mapping[str, pl.Series] | None = None) -> pl.Expr:
    """Boolean expression: the row breaks `rule` (as GX counts unexpected rows).

    A uniqueness rule compares rows across the whole batch; a window of a staged batch passes the values
    that occur more than once in all of it (`duplicated_values`) as `duplicates`.
    """
    if rule.expectation not in ROW_LEVEL_EXPECTATIONS or rule.column is None:
        raise ValueError(f"{rule.expectation} does not judge single rows, so it cannot quarantine them")
    col = pl.col(rule.column)
    if rule.expectation == NULL_RULE:
        return col.is_null()
    if rule.expectation == UNIQUE_RULE and duplicates is not None and rule.column in duplicates:
        return col.is_not_null() & col.is_in(duplicates[rule.column])
    return col.is_not_null() & _FAILS[rule.expectation](col, rule.kwargs).fill_null(False)


def duplicated_values(
    staged: Staged, rules: list[QualityRule], unexpected: Mapping[str, int | None], memory_limit: int | None
) -> dict[str, pl.Series]:
    """Per column of an active quarantining uniqueness rule, the values a staged batch holds more than
    once, found by DuckDB over its Parquet parts (held to `memory_limit` bytes, spilling to the stage's
    folder): what `split` needs to judge each window as the whole batch."""
    active = _active(rules, unexpected)
    columns = sorted({rule.column for rule in active if rule.expectation == UNIQUE_RULE and rule.column})
    if not columns:
        return {}
    config = duckdb_config(memory_limit, staged.folder)
    con = duckdb.connect(":memory:", config=config)
    try:
        found: dict[str, pl.Series] = {}
        for column in columns:
            con.register("staged_batch", staged.dataset([column]))
            ident = '"' + column.replace('"', '""') + '"'
            sql = f"SELECT {ident} FROM staged_batch WHERE {ident} IS NOT NULL GROUP BY 1 HAVING count(*) > 1"  # noqa: S608 - a quoted identifier
            found[column] = con.execute(sql).pl().get_column(column)
            con.unregister("staged_batch")
        return found
    finally:
        con.close()


@dataclass(frozen=True)
class Quarantine:
    """A batch split in two: rows that go on, and rows set aside with the ids of the rules they broke."""

    kept: pl.DataFrame
    # the rows as conformed, plus ROW_NUMBER (1-based) and FAILED_RULES; malformed records have no typed
    # value and no ROW_NUMBER, but SOURCE_FILE, SOURCE_LINE and RAW_FIELDS
    quarantined: pl.DataFrame
    counts: dict[str, int] = field(default_factory=dict)  # rule id → rows it set aside


def split(
    frame: pl.DataFrame,
    rules: list[QualityRule],
    unexpected: Mapping[str, int | None],
    malformed: Sequence[Malformed] = (),
    *,
    offset: int = 0,
    duplicates: Mapping[str, pl.Series] | None = None,
) -> Quarantine:
    """Set aside the rows that broke quarantine rules, given how many rows GX counted unexpected per rule
    id (`ValidationReport.unexpected_counts`), together with the `malformed` records reading left out.

    A quarantine rule whose failures exceed its ``mostly`` threshold is not handled here: GX judged the
    rule failed, and the validation report counts it as blocking. A window of a staged batch is split
    with the rows before it (`offset`, for ROW_NUMBER) and the batch's `duplicated_values`.
    """
    held = _split_by_rules(frame, rules, unexpected, offset, duplicates)
    if not malformed:
        return held
    records = pl.DataFrame(
        {
            FAILED_RULES: [[MALFORMED_ROW]] * len(malformed),
            SOURCE_FILE: [m.file for m in malformed],
            SOURCE_LINE: [m.line for m in malformed],
            RAW_FIELDS: [list(m.values) for m in malformed],
        },
        schema={
            FAILED_RULES: pl.List(pl.String),
            SOURCE_FILE: pl.String,
            SOURCE_LINE: pl.Int64,
            RAW_FIELDS: pl.List(pl.String),
        },
    )
    quarantined = held.quarantined if held.quarantined.height else frame.clear()
    return Quarantine(
        kept=held.kept,
        quarantined=pl.concat([quarantined, records], how="diagonal_relaxed"),
        counts={**held.counts, MALFORMED_ROW: len(malformed)},
    )


def _active(rules: list[QualityRule], unexpected: Mapping[str, int | None]) -> list[QualityRule]:
    """The quarantine rules GX found rows breaking."""
    return [
        rule
        for rule in rules
        if rule.on_failure is Action.QUARANTINE and (unexpected.get(rule.rule_id) or 0) > 0
    ]


def _split_by_rules(
    frame: pl.DataFrame,
    rules: list[QualityRule],
    unexpected: Mapping[str, int | None],
    offset: int,
    duplicates: Mapping[str, pl.Series] | None,
) -> Quarantine:
    active = _active(rules, unexpected)
    if not active:
        return Quarantine(kept=frame, quarantined=frame.clear())
    flags = frame.select(*(failing_rows(rule, duplicates).alias(rule.rule_id) for rule in active))
    failed = pl.concat_list(
        [pl.when(pl.col(rule.rule_id)).then(pl.lit(rule.rule_id)).otherwise(None) for rule in active]
    ).list.drop_nulls()
    marked = frame.with_columns(
        pl.int_range(offset + 1, offset + pl.len() + 1, dtype=pl.Int64).alias(ROW_NUMBER),
        flags.select(failed.alias(FAILED_RULES)).to_series(),
    )
    bad = pl.col(FAILED_RULES).list.len() > 0
    return Quarantine(
        kept=marked.filter(~bad).drop(ROW_NUMBER, FAILED_RULES),
        quarantined=marked.filter(bad),
        counts={rule.rule_id: int(flags.get_column(rule.rule_id).sum()) for rule in active},
    )
