"""Run a contract's expectations on a conformed frame with Great Expectations, and judge the results.

GX's own ``success`` for a suite is false as soon as any expectation fails, warnings included, and
its ``severity`` is metadata only; so each expectation's result is read on its own and the rule's
severity decides whether it blocks. Results are asked for in SUMMARY form with no unexpected values,
and exception texts are scrubbed before they are kept: a report holds counts, names and rule ids only.

GX has no polars engine. By default the frame goes to GX's SQL path on DuckDB, as Arrow (no copy),
so every metric is one SQL query DuckDB runs over the polars buffers (`contracts.gx_duckdb` holds the
small workaround GX needs there, and says why). The pandas path stays as GX's reference engine: the
tests run both on the same frames and compare outcomes, and a suite with a regex DuckDB cannot
compile (RE2 has no look-arounds) runs there. Each call uses its own ephemeral context and uniquely
named data source, so the flow's thread pool can validate several sources at once.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Required, TypedDict

import polars as pl
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from contracts.expectations import all_rules, build_suite, gx_offline
from contracts.model import Action, Severity
from storage.staging import Staged

if TYPE_CHECKING:
    import pandas as pd

    from contracts.model import Contract, QualityRule

Engine = Literal["duckdb", "pandas"]
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0}
MAX_EXCEPTION_CHARS = 300
# Values shorter than this are not scrubbed by content (they would match everywhere); digits and
# quoted text are scrubbed regardless.
MIN_SCRUBBED_VALUE_CHARS = 3

# Creating a context touches GX's process-wide project manager: one thread at a time.
_CONTEXT_LOCK = threading.Lock()
# The parts of an expectation's result Data Docs keep: numbers about the batch, never its values.
_DOCS_NUMBERS = frozenset(
    {
        "element_count", "missing_count", "missing_percent", "unexpected_count", "unexpected_percent",
        "unexpected_percent_total", "unexpected_percent_nonmissing", "observed_value",
    }
)  # fmt: skip
_ROW_COUNT_RULES = frozenset({"expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"})

_MISSING_COLUMN = re.compile(r'The column "(?P<name>[^"]*)" in BatchData does not exist')
_METRIC_UNAVAILABLE = re.compile(r"^Metric MetricConfigurationID\(.*\) is not available")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_EMAIL_LIKE = re.compile(r"\S+@\S+")
_NUMBER_LIKE = re.compile(r"(?<![A-Za-z_])[+-]?\d[\w:./,+-]*")
# Words GX and pandas quote in their messages that are types or operations, never data.
_SAFE_QUOTED = frozenset(
    {
        "str", "string", "object", "float", "float64", "int", "int64", "bool", "boolean", "datetime",
        "date", "timestamp", "category", "large_string", "NoneType", "list", "dict", "decimal",
        "mean", "median", "sum", "sub", "add", "mul", "truediv", "quantile", "std", "min", "max",
    }
)  # fmt: skip


class ExpectationOutcome(BaseModel):
    """What one rule found, in counts; never the values that failed it."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    expectation: str
    column: str | None = None
    severity: Severity
    action: Action = Action.BLOCK
    blocking: bool = False  # failed, and its action (or a quarantine it could not carry out) stops the line
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    exception: str | None = None


class ValidationReport(BaseModel):
    """All outcomes of one validation; whether the line stops is decided here, rule by rule."""

    model_config = ConfigDict(frozen=True)

    row_count: int
    outcomes: list[ExpectationOutcome]
    # GX's result as JSON for the Data Docs site, when asked for (see `validate`); never in the dump
    docs: dict[str, Any] | None = Field(default=None, exclude=True, repr=False)

    @property
    def unexpected_counts(self) -> dict[str, int | None]:
        """Rows each rule counted as unexpected, by rule id (None where GX counts no rows)."""
        return {o.rule_id: o.unexpected_count for o in self.outcomes}

    @property
    def blocking_failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.blocking]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.action is Action.WARN]

    @property
    def quarantining(self) -> list[ExpectationOutcome]:
        """Quarantine rules that found failing rows (and stay within their ``mostly``, if any)."""
        return [
            o
            for o in self.outcomes
            if o.action is Action.QUARANTINE and not o.blocking and o.unexpected_count
        ]

    @property
    def passed(self) -> bool:
        return not self.blocking_failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "row_count": self.row_count,
            "blocking_failures": [o.rule_id for o in self.blocking_failures],
            "warnings": [o.rule_id for o in self.warnings],
            "outcomes": [o.model_dump(mode="json") for o in self.outcomes],
        }


def to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """pandas for GX; dates stay Arrow dates so they compare with the dates a rule is written with
    (numpy would make them timestamps, and GX then fails every date bound with a TypeError)."""
    import pandas as pd

    return frame.to_pandas(types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_date(t) else None)


def _new_context() -> Any:
    gx_offline()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX pins this logger to INFO on import; its lines (temporary docs folders) are noise in run logs.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    with _CONTEXT_LOCK:
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _scrub_values(text: str, frame: pl.DataFrame | pl.LazyFrame) -> str:
    """Replace any value of the frame's text-like columns that occurs verbatim in `text` (a staged
    batch is read as a lazy frame, in one streaming pass per column)."""
    found: set[str] = set()
    for name, dtype in frame.collect_schema().items():
        if not (dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)):
            continue
        col = pl.col(name).cast(pl.String)
        hits = frame.select(
            col.filter(
                (col.str.len_chars() >= MIN_SCRUBBED_VALUE_CHARS)
                & pl.lit(text).str.contains(col, literal=True)
            )
            .unique()
            .head(100)
        )
        collected = hits.collect(engine="streaming") if isinstance(hits, pl.LazyFrame) else hits
        found.update(collected.to_series().to_list())
    for value in sorted(found, key=len, reverse=True):
        text = text.replace(value, "…")
    return text


def safe_exception(message: str, frame: pl.DataFrame | pl.LazyFrame, names: set[str]) -> str:
    """An exception text fit for reports: column names kept, anything that may be a value removed."""
    text = " ".join(message.strip().splitlines()[:1]).strip()
    text = text.removeprefix("Error: ")
    missing = _MISSING_COLUMN.search(text)
    if missing:
        name = missing.group("name")
        return (
            f"column '{name}' is not in the data"
            if name in names
            else "a column the rule names is not in the data"
        )
    if _METRIC_UNAVAILABLE.search(text):
        return "a metric the expectation needs could not be computed"
    text = _scrub_values(text, frame)

    def quoted(match: re.Match[str]) -> str:
        inner = match.group(0)[1:-1]
        return match.group(0) if inner in names or inner in _SAFE_QUOTED else "'…'"

    text = _QUOTED.sub(quoted, text)
    text = _EMAIL_LIKE.sub("…", text)
    text = _NUMBER_LIKE.sub("#", text)
    return text[:MAX_EXCEPTION_CHARS]


def _exception_messages(info: Any) -> list[str]:
    """GX reports an exception either flat or keyed by metric; collect the messages of both shapes."""
    if not isinstance(info, dict):
        return []
    if "raised_exception" in info:
        return [str(info.get("exception_message") or "exception")] if info.get("raised_exception") else []
    messages: list[str] = []
    for value in info.values():
        messages.extend(_exception_messages(value))
    return messages


def docs_result(result: Any, frame: pl.DataFrame | pl.LazyFrame, names: set[str]) -> dict[str, Any]:
    """GX's validation result as JSON fit to keep in the lake and render as Data Docs: each
    expectation's numbers kept (counts, percentages, a numeric observed value), anything that may
    carry values (lists of unexpected values or rows, text observed values, tracebacks) left out, and
    exception texts scrubbed like the report's."""
    document: dict[str, Any] = result.to_json_dict()
    for item in document.get("results", []):
        numbers = item.get("result") or {}
        item["result"] = {
            key: value
            for key, value in numbers.items()
            if key in _DOCS_NUMBERS and isinstance(value, int | float) and not isinstance(value, bool)
        }
        messages = [safe_exception(m, frame, names) for m in _exception_messages(item.get("exception_info"))]
        item["exception_info"] = {
            "raised_exception": bool(messages),
            "exception_message": "; ".join(dict.fromkeys(messages)) or None,
            "exception_traceback": None,
        }
    return document


def _number(value: Any, kind: type[int] | type[float]) -> Any:
    return None if value is None else kind(value)


class _Found(TypedDict, total=False):
    """What validation found for one rule: the result fields of its `ExpectationOutcome`."""

    success: Required[bool]
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None
    exception: str | None


def _blocks(rule: QualityRule, outcome: _Found) -> bool:
    """A failed rule stops the line if it says block, or if it should quarantine but cannot: it raised,
    or more rows failed than its ``mostly`` allows (GX then fails it as a whole)."""
    if outcome["success"]:
        return False
    action = rule.on_failure
    if action is Action.BLOCK:
        return True
    if action is Action.QUARANTINE:
        return bool(outcome.get("exception")) or "mostly" in rule.kwargs
    return False


def _docs_site(context: Any) -> Path | None:
    """The folder of the ephemeral context's Data Docs site (GX makes a temporary one per context)."""
    for site in context.get_docs_sites_urls():
        url = site.get("site_url") or ""
        if url.startswith("file://"):
            return Path(url.removeprefix("file://")).parent
    return None


def _pushdown_ok(rules: list[QualityRule]) -> bool:
    """Whether every rule can run on DuckDB with GX's own semantics (regexes must compile in RE2)."""
    from contracts.gx_duckdb import REGEX_EXPECTATIONS, regex_supported

    for rule in rules:
        if rule.expectation not in REGEX_EXPECTATIONS:
            continue
        patterns = rule.kwargs.get("regex_list") or [rule.kwargs.get("regex")]
        if not all(isinstance(p, str) and regex_supported(p) for p in patterns):
            return False
    return True


def _columns_read(rules: list[QualityRule], columns: list[str]) -> list[str]:
    """The columns the rules read, when every rule is a single-column or row-count rule; else all.

    GX's SQL wraps the batch as ``SELECT * FROM batch``, and DuckDB then carries every column through
    the window GX uses for uniqueness (measured at 5M benchmark rows: 4.7 s with all 17 columns).
    Rules that look at the table's shape (column sets, counts) or filter rows see the whole frame.
    """
    named: set[str] = set()
    for rule in rules:
        narrow = rule.expectation.startswith("expect_column_") or rule.expectation in _ROW_COUNT_RULES
        if not narrow or "row_condition" in rule.kwargs:
            return columns
        for key in ("column", "column_A", "column_B"):
            if isinstance(rule.kwargs.get(key), str):
                named.add(rule.kwargs[key])
        for key in ("column_list", "column_set"):
            value = rule.kwargs.get(key)
            if value is not None:
                if not isinstance(value, list | tuple | set) or not all(isinstance(c, str) for c in value):
                    return columns
                named.update(value)
    # With no column named (row counts only), one column keeps the table's height.
    return [c for c in columns if c in named] or columns[:1]


def _batch_definition(
    context: Any,
    name: str,
    frame: pl.DataFrame | Staged,
    engine: Engine,
    rules: list[QualityRule],
    memory_limit: int | None,
) -> tuple[Any, dict[str, Any], Any]:
    """GX's batch definition for the frame, its batch parameters, and what to close afterwards.

    A staged batch reaches DuckDB as an Arrow dataset of its Parquet parts, scanned a batch at a time,
    with DuckDB held to `memory_limit` bytes and spilling into the stage's folder; on the pandas path
    (a regex DuckDB cannot run) it is read whole. A frame is in memory already: DuckDB reads its
    Arrow buffers in place.
    """
    if engine == "duckdb":
        from contracts.gx_duckdb import TABLE, arrow_datasource

        columns = _columns_read(rules, frame.columns)
        # The data goes straight into the call: a local of this frame would keep it alive through a
        # traceback GX keeps (an exception it caught while building the asset below).
        if isinstance(frame, Staged):
            datasource, close = arrow_datasource(
                context, name, frame.dataset(columns), memory_limit=memory_limit, temp_directory=frame.folder
            )
        else:
            datasource, close = arrow_datasource(context, name, frame.select(columns).to_arrow())
        definition = datasource.add_table_asset(name, table_name=TABLE).add_batch_definition_whole_table(name)
        return definition, {}, close
    if isinstance(frame, Staged):
        frame = frame.lazy().collect()
    definition = (
        context.data_sources.add_pandas(name)
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe(name)
    )
    return definition, {"dataframe": to_pandas(frame)}, lambda: None


def _run(
    context: Any,
    name: str,
    suite: Any,
    frame: pl.DataFrame | Staged,
    run_id: str | None,
    engine: Engine,
    rules: list[QualityRule],
    memory_limit: int | None,
) -> Any:
    """Validate one batch; with `run_id`, through a checkpoint, so the result carries what Data Docs
    show of a run (GX's run name is Lockgate's run id, with the validation's time)."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    batch_definition, parameters, close = _batch_definition(context, name, frame, engine, rules, memory_limit)
    try:
        if run_id is None:
            return batch_definition.get_batch(batch_parameters=parameters).validate(
                suite, result_format=RESULT_FORMAT
            )
        suite = context.suites.add(suite)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=name, validation_definitions=[definition], actions=[], result_format=RESULT_FORMAT
            )
        )
        run = RunIdentifier(run_name=run_id, run_time=datetime.now(UTC))
        [result] = checkpoint.run(batch_parameters=parameters, run_id=run).run_results.values()
        return result
    finally:
        close()


def validate(
    frame: pl.DataFrame | Staged,
    contract: Contract,
    *,
    run_id: str | None = None,
    engine: Engine = "duckdb",
    memory_limit: int | None = None,
) -> ValidationReport:
    """Run every rule of the contract (implicit and explicit) on the frame, or on a staged batch (a
    source larger than memory; DuckDB then keeps within `memory_limit` bytes, spilling to disk).

    With `run_id`, the report also carries GX's result of this validation as JSON (`docs`), named by
    that run, for the lake's Data Docs site (:mod:`contracts.data_docs`). It is kept in SUMMARY form
    with scrubbed exception texts and no unexpected values, so it holds counts, not data. `engine`
    picks GX's execution engine: ``duckdb`` (default; pandas when a regex needs Python) or ``pandas``.
    """
    rules = all_rules(contract)
    rows = frame.rows if isinstance(frame, Staged) else frame.height
    scrub = frame.lazy() if isinstance(frame, Staged) else frame  # where exception texts' values are found
    if not rules:
        return ValidationReport(row_count=rows, outcomes=[])
    if engine == "duckdb" and not _pushdown_ok(rules):
        engine = "pandas"
    suite = build_suite(contract, name=f"{contract.id}-{contract.version}")
    context = _new_context()
    name = f"lockgate-{contract.id}-{uuid.uuid4().hex}"
    try:
        result = _run(context, name, suite, frame, run_id, engine, rules, memory_limit)
    finally:
        site = _docs_site(context)
        if site is not None:  # GX leaves the ephemeral site's temporary folder behind otherwise
            shutil.rmtree(site, ignore_errors=True)

    by_rule = {r.expectation_config.meta.get("rule_id"): r for r in result.results}
    names = {prop.name for prop in contract.columns} | set(frame.columns)
    outcomes: list[ExpectationOutcome] = []
    for rule in rules:
        found = by_rule.get(rule.rule_id)
        outcome: _Found
        if found is None:  # GX returned no result: never count that as a pass
            outcome = {"success": False, "exception": "Great Expectations returned no result for this rule"}
        else:
            numbers = found.result or {}
            messages = [safe_exception(m, scrub, names) for m in _exception_messages(found.exception_info)]
            outcome = {
                "success": bool(found.success) and not messages,
                "element_count": _number(numbers.get("element_count"), int),
                "unexpected_count": _number(numbers.get("unexpected_count"), int),
                "unexpected_percent": _number(numbers.get("unexpected_percent"), float),
                "exception": "; ".join(dict.fromkeys(messages)) or None,
            }
        outcomes.append(
            ExpectationOutcome(
                rule_id=rule.rule_id,
                expectation=rule.expectation,
                column=rule.column,
                severity=rule.severity,
                action=rule.on_failure,
                blocking=_blocks(rule, outcome),
                **outcome,
            )
        )
    docs = docs_result(result, scrub, names) if run_id is not None else None
    return ValidationReport(row_count=rows, outcomes=outcomes, docs=docs)
