"""Bring a frame to the contract's schema: the contract's columns, in its order, with its types.

Readers hand over what the file held: CSV gives every column as text, NDJSON and Parquet give their
own types. Casting is one set of polars expressions (no per-row Python), and a value that does not fit
is counted and located by row number — the value itself never appears in an issue, because the data
is personal. Nulls are not judged here: ``required`` is an expectation, so it is reported once.

What fits, and why it is strict (a lenient cast would change data without anyone noticing):

- integer: ``[+-]digits`` text, any integer type, or a float/decimal holding a whole number;
- number: decimal or exponent text, any numeric type;
- boolean: true/false, 1/0, yes/no in any case, or integers 1 and 0;
- date: ``YYYY-MM-DD`` text only (no ``2024-1-2``, no ``31/12/2023``), or a timestamp at midnight;
- timestamp: ISO 8601 text (``T`` or space, optional seconds, fraction and offset, ``Z``; a bare date is
  midnight), stored as UTC; a timestamp without an offset is taken as UTC;
- string: anything flat; lists and structs do not fit, nor binary that is not UTF-8.

Blank text in a non-string column is a missing value, not a bad one (CSV writes nulls that way).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import TYPE_CHECKING, Literal

import polars as pl

from contracts.model import LogicalType

if TYPE_CHECKING:
    from contracts.model import Contract

MAX_ROWS_LISTED = 5

IssueKind = Literal["missing", "extra", "retyped", "type"]

DTYPES: dict[LogicalType, pl.DataType] = {
    LogicalType.STRING: pl.String(),
    LogicalType.INTEGER: pl.Int64(),
    LogicalType.NUMBER: pl.Float64(),
    LogicalType.BOOLEAN: pl.Boolean(),
    LogicalType.DATE: pl.Date(),
    LogicalType.TIMESTAMP: pl.Datetime("us", "UTC"),
}

_TRUE_FALSE = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_INTEGER_TEXT = r"^[+-]?\d+$"
_NUMBER_TEXT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_DATE_TEXT = r"^\d{4}-\d{2}-\d{2}$"
# ISO 8601 as written in practice: date, optional time (minutes or seconds, optional fraction),
# optional offset. A space instead of 'T' and a trailing 'Z' are normalised before this check.
_TIMESTAMP_TEXT = r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([+-]\d{2}:?\d{2})?)?$"
_TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M%z", "%Y-%m-%dT%H:%M")


@dataclass(frozen=True)
class SchemaIssue:
    """One way the data does not fit the contract's schema; rows are 1-based data row numbers."""

    column: str
    kind: IssueKind
    message: str
    blocking: bool
    rows: list[int] = field(default_factory=list)
    count: int = 0  # values that did not fit, for a "type" issue

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ConformResult:
    frame: pl.DataFrame
    issues: list[SchemaIssue]

    @property
    def blocking(self) -> list[SchemaIssue]:
        return [issue for issue in self.issues if issue.blocking]


def _from_text(text: pl.Expr, logical: LogicalType) -> pl.Expr:
    """Parse text strictly; anything that is not the canonical spelling becomes null (and is counted)."""
    text = text.str.strip_chars()
    if logical is LogicalType.INTEGER:
        return pl.when(text.str.contains(_INTEGER_TEXT)).then(text).cast(pl.Int64, strict=False)
    if logical is LogicalType.NUMBER:
        return pl.when(text.str.contains(_NUMBER_TEXT)).then(text).cast(pl.Float64, strict=False)
    if logical is LogicalType.BOOLEAN:
        return text.str.to_lowercase().replace_strict(_TRUE_FALSE, default=None, return_dtype=pl.Boolean)
    if logical is LogicalType.DATE:
        return pl.when(text.str.contains(_DATE_TEXT)).then(text).str.to_date("%Y-%m-%d", strict=False)
    # TIMESTAMP
    text = text.str.replace(r"^(\d{4}-\d{2}-\d{2})[ t]", "${1}T").str.replace(r"[zZ]$", "+00:00")
    iso = pl.when(text.str.contains(_TIMESTAMP_TEXT)).then(text)
    parsed = [
        iso.str.to_datetime(f, time_unit="us", time_zone="UTC", strict=False) for f in _TIMESTAMP_FORMATS
    ]
    date_only = iso.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return pl.coalesce(*parsed, date_only)


def _from_typed(col: pl.Expr, dtype: pl.DataType, logical: LogicalType) -> pl.Expr | None:
    """Cast an already typed column; None when the source type cannot mean the logical type."""
    target = DTYPES[logical]
    if isinstance(dtype, pl.Null):
        return col.cast(target)
    if logical is LogicalType.STRING:
        # Nested values (lists, structs from NDJSON) have no single text form: they do not fit.
        unfit = dtype.is_nested() or isinstance(dtype, pl.Object | pl.Binary)
        return None if unfit else col.cast(target, strict=False)
    if logical is LogicalType.INTEGER:
        if dtype.is_integer():
            return col.cast(pl.Int64, strict=False)
        if dtype.is_float() or dtype.is_decimal():
            as_float = col.cast(pl.Float64)
            # Truncating 1.5 to 1 would silently change the data: only whole numbers fit.
            return pl.when(as_float == as_float.round(0)).then(as_float).cast(pl.Int64, strict=False)
    if logical is LogicalType.NUMBER and dtype.is_numeric():
        return col.cast(pl.Float64, strict=False)
    if logical is LogicalType.BOOLEAN:
        if isinstance(dtype, pl.Boolean):
            return col
        if dtype.is_integer():
            return pl.when(col == 1).then(True).when(col == 0).then(False).otherwise(None)
    if logical is LogicalType.DATE:
        if isinstance(dtype, pl.Date):
            return col
        if isinstance(dtype, pl.Datetime):
            # A timestamp is a date only when it carries no time of day.
            return pl.when(col.dt.time() == time(0)).then(col.dt.date())
    if logical is LogicalType.TIMESTAMP:
        if isinstance(dtype, pl.Datetime):
            # Naive timestamps are taken as UTC: the contract's type has no other zone to offer.
            zoned = (
                col.dt.replace_time_zone("UTC")
                if dtype.time_zone is None
                else col.dt.convert_time_zone("UTC")
            )
            return zoned.dt.cast_time_unit("us")
        if isinstance(dtype, pl.Date):
            return col.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return None


def _cast(name: str, dtype: pl.DataType, logical: LogicalType) -> tuple[pl.Expr, pl.Expr]:
    """The cast column and a mask of the values that were present before casting."""
    col = pl.col(name)
    if isinstance(dtype, pl.Categorical | pl.Enum):
        col, dtype = col.cast(pl.String), pl.String()
    target = DTYPES[logical]
    if isinstance(dtype, pl.String) and logical is not LogicalType.STRING:
        # In text formats an empty or blank field means "no value", not "a bad value".
        present = col.str.strip_chars().str.len_bytes() > 0
        return _from_text(col, logical).cast(target).alias(name), present.fill_null(False)
    cast = _from_typed(col, dtype, logical)
    if cast is None:
        cast = pl.lit(None, dtype=target)
    return cast.cast(target).alias(name), col.is_not_null()


def _binary_as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Some Parquet writers store text as binary: such a column is text when all of it is UTF-8."""
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Binary):
            try:
                frame = frame.with_columns(pl.col(name).cast(pl.String))
            except pl.exceptions.ComputeError:
                continue  # not text; its values then count as not fitting, row by row
    return frame


def _natural(dtype: pl.DataType, logical: LogicalType) -> bool:
    """Whether a typed source's column type is one this logical type is normally delivered as.

    Text (and binary, and all-null) columns are carriers for any type: CSV has nothing else.
    """
    if isinstance(dtype, pl.String | pl.Binary | pl.Null):
        return True
    if logical is LogicalType.STRING:
        return isinstance(dtype, pl.Categorical | pl.Enum)
    if logical is LogicalType.INTEGER:
        return dtype.is_integer()
    if logical is LogicalType.NUMBER:
        return dtype.is_numeric()
    if logical is LogicalType.BOOLEAN:
        return isinstance(dtype, pl.Boolean)
    if logical is LogicalType.DATE:
        return isinstance(dtype, pl.Date)
    return isinstance(dtype, pl.Datetime | pl.Date)


def _rows_text(rows: list[int], count: int) -> str:
    listed = ", ".join(str(r) for r in rows)
    more = ", …" if count > len(rows) else ""
    return f"data row{'s' if count > 1 else ''} {listed}{more}"


def _type_issue(contract: Contract, name: str, count: int, rows: list[int]) -> SchemaIssue:
    type_name = contract.column(name).logical_type.value
    message = f"column {name}: {count} value(s) are not valid {type_name} ({_rows_text(rows, count)})"
    return SchemaIssue(name, "type", message, blocking=True, rows=rows, count=count)


def merge_issues(contract: Contract, windows: list[tuple[int, list[SchemaIssue]]]) -> list[SchemaIssue]:
    """The issues of a batch conformed a window at a time, as `conform` of the whole batch says them.

    `windows` pairs each window's issues with the rows before it. Schema issues (missing, extra,
    retyped columns) are the same in every window and are said once; a column's values that did not
    fit are counted over every window, listing the first rows of the batch.
    """
    said: dict[tuple[str, str], SchemaIssue] = {}
    counts: dict[str, int] = {}
    rows: dict[str, list[int]] = {}
    for offset, issues in windows:
        for issue in issues:
            said.setdefault((issue.column, issue.kind), issue)
            if issue.kind == "type":
                counts[issue.column] = counts.get(issue.column, 0) + issue.count
                listed = rows.setdefault(issue.column, [])
                listed.extend(offset + row for row in issue.rows[: MAX_ROWS_LISTED - len(listed)])
    merged = [
        _type_issue(contract, issue.column, counts[issue.column], rows[issue.column])
        if issue.kind == "type"
        else issue
        for issue in said.values()
    ]
    # `conform`'s order: the contract's columns (missing or retyped), values that did not fit, extras.
    position = {prop.name: index for index, prop in enumerate(contract.columns)}
    rank = {"missing": 0, "retyped": 0, "type": 1, "extra": 2}
    order = {id(issue): index for index, issue in enumerate(merged)}
    return sorted(merged, key=lambda i: (rank[i.kind], position.get(i.column, len(position)), order[id(i)]))


def conform(frame: pl.DataFrame, contract: Contract) -> ConformResult:
    """Cast the frame to the contract's columns and types, and say (without values) what did not fit."""
    issues: list[SchemaIssue] = []
    frame = _binary_as_text(frame)
    policy = contract.table.drift
    wanted = {prop.name for prop in contract.columns}
    extra = [name for name in frame.columns if name not in wanted]

    casts: list[pl.Expr] = []
    present: list[pl.Expr] = []
    checked: list[str] = []
    for prop in contract.columns:
        if prop.name not in frame.columns:
            near = [n for n in extra if n.lower() == prop.name.lower()]
            hint = f" (the data has {near[0]}: column names are case-sensitive)" if near else ""
            blocking = policy.missing_columns == "block"
            outcome = "" if blocking else "; filled with nulls (missingColumns: null)"
            message = f"column {prop.name}: in the contract but missing from the data{hint}{outcome}"
            issues.append(SchemaIssue(prop.name, "missing", message, blocking=blocking))
            casts.append(pl.lit(None, dtype=DTYPES[prop.logical_type]).alias(prop.name))
            continue
        dtype = frame.schema[prop.name]
        if not _natural(dtype, prop.logical_type):
            blocking = policy.retyped_columns == "block"
            outcome = "" if blocking else "; cast (retypedColumns: cast)"
            said = prop.logical_type.value
            message = f"column {prop.name}: delivered as {dtype}, the contract says {said}{outcome}"
            issues.append(SchemaIssue(prop.name, "retyped", message, blocking=blocking))
        cast, mask = _cast(prop.name, dtype, prop.logical_type)
        casts.append(cast)
        present.append(mask.alias(prop.name))
        checked.append(prop.name)

    out = frame.select(casts)
    if out.height != frame.height:  # only when every column is missing: literals alone make one row
        out = out.clear(frame.height)
    if checked:
        had_value = frame.select(present)
        for name in checked:
            failed = had_value[name] & out[name].is_null()
            count = int(failed.sum())
            if count:
                rows = (failed.arg_true().head(MAX_ROWS_LISTED) + 1).to_list()
                issues.append(_type_issue(contract, name, count, rows))
    for name in extra:
        if policy.new_columns == "block":
            message = (
                f"column {name}: in the data but not in the contract (add it, or set drift.newColumns: drop)"
            )
            issues.append(SchemaIssue(name, "extra", message, blocking=True))
        else:
            issues.append(
                SchemaIssue(name, "extra", f"column {name}: not in the contract; dropped", blocking=False)
            )
    return ConformResult(out, issues)
