"""What a benchmark run means: its figures in one JSON-ready dict, the issue's targets, and a table.

The JSON keys are the benchmark's interface (tests, the README's figures and anyone comparing runs read
them), so they keep their names when a path changes how it measures: ``pii_scan_s`` is the PII gate's scan
of the masked frame.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lockgate_bench.memory import SAMPLE_INTERVAL_S
from lockgate_bench.paths import PATHS, WARMUP_ROWS

if TYPE_CHECKING:
    from rich.table import Table

    from contracts.model import Contract

# Targets from the issue; the report marks each met or not met.
TARGET_PIPELINE_VS_FLOOR = 2.0  # at most
TARGET_NAIVE_VS_PIPELINE = 5.0  # at least
TARGET_RSS_GROWTH_4X = 1.5  # below


@dataclass(frozen=True)
class Measured:
    """Everything one run measured, before it is summarised."""

    rows: int
    seed: int
    contract: Contract
    csv_meta: dict[str, Any]  # what the generate path reported (bytes, seconds), cached or fresh
    csv_cached: bool
    paths: dict[str, dict[str, Any]]  # each path's figures, as its child printed them
    quarter: dict[str, Any] | None  # the pipeline on rows/4 (--scaling), else None
    load_average_1m: tuple[float, float]  # before and after
    skipped: dict[str, str] = field(default_factory=dict)  # path → why it did not run


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 4) if denominator > 0 else float("inf")


def _naive(figures: dict[str, dict[str, Any]], skipped: dict[str, str]) -> dict[str, Any]:
    """The naive path's own block: its figures, or why it did not run."""
    if "naive" in skipped:
        return {"skipped": skipped["naive"]}
    return {
        "seconds": round(figures["naive"]["seconds"], 4),
        "peak_rss_mb": round(figures["naive"]["peak_rss_mb"], 1),
    }


def summarise(measured: Measured) -> dict[str, Any]:
    """The run's figures, rounded, with the ratios and the targets: what ``--format json`` prints.

    A skipped path (the naive one above `paths.NAIVE_MAX_ROWS` rows) has no seconds, peak or ratio
    (null), and ``naive`` says why.
    """
    from contracts.expectations import all_rules

    figures, meta, contract = measured.paths, measured.csv_meta, measured.contract
    ran = [path for path in PATHS if path in figures]
    floor_s = round(figures["floor"]["seconds"], 4)
    naive = _naive(figures, measured.skipped)
    naive_s: float | None = naive.get("seconds")
    pipeline = figures["pipeline"]
    pipeline_s = round(pipeline["seconds"], 4)
    pii = figures["pii"]
    result: dict[str, Any] = {
        "rows": measured.rows,
        "seed": measured.seed,
        "columns": len(contract.columns),
        "expectations": len(all_rules(contract)),
        "pii_columns": sum(prop.pii is not None for prop in contract.columns),
        "csv_mb": round(meta["bytes"] / 1e6, 1),
        "generate_s": round(meta["generate_s"], 4),
        "generate_cached": measured.csv_cached,
        "floor_s": floor_s,
        "naive_s": naive_s,
        "pipeline_s": pipeline_s,
        "pipeline_vs_floor": ratio(pipeline_s, floor_s),
        "naive_vs_pipeline": None if naive_s is None else ratio(naive_s, pipeline_s),
        "naive": naive,
        "peak_rss_mb": {path: round(figures[path]["peak_rss_mb"], 1) for path in ran},
        # Peak RSS as each timer started: imports, plus the warm-up run (pipeline) or loaded frame (pii).
        "before_work_rss_mb": {path: round(figures[path]["before_work_rss_mb"], 1) for path in ran},
        "pipeline_warmup_s": round(pipeline["warmup_s"], 4),
        # The pipeline's steps (its Prefect task runs): seconds and the peak RSS reached while each ran.
        "steps": pipeline["steps"],
        "pipeline_steps_s": {step["name"]: step["seconds"] for step in pipeline["steps"]},  # the older key
        "pipeline_tasks_busy_s": round(pipeline["tasks_busy_s"], 4),
        "pipeline_orchestration_s": round(max(0.0, pipeline["seconds"] - pipeline["tasks_busy_s"]), 4),
        "pii_rows": pii["rows"],
        "pii_scan_s": round(pii["scan_s"], 4),
        "pii_mask_s": round(pii["mask_s"], 4),
        "pii_scan_mask_rows_per_s": round(pii["rows"] / pii["seconds"], 1),
        **machine(measured.load_average_1m),
    }
    quarter = measured.quarter
    if quarter is not None:
        result["pipeline_quarter_rows"] = quarter["rows"]
        result["pipeline_quarter_s"] = round(quarter["seconds"], 4)
        result["pipeline_quarter_peak_rss_mb"] = round(quarter["peak_rss_mb"], 1)
        result["pipeline_quarter_steps"] = quarter["steps"]
        result["pipeline_rss_growth_4x"] = ratio(pipeline["peak_rss_mb"], quarter["peak_rss_mb"])
    result["targets"] = targets(result)
    return result


def machine(load_average_1m: tuple[float, float]) -> dict[str, Any]:
    """Python, cores and how busy the machine was (1-minute load average before and after the run)."""
    before, after = load_average_1m
    return {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_1m": {"before": round(before, 2), "after": round(after, 2)},
    }


def targets(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target of the issue with its measured value and whether it is met (None: not measured)."""
    growth = result.get("pipeline_rss_growth_4x")
    naive = result["naive_vs_pipeline"]
    return {
        "pipeline_vs_floor": {
            "target": f"<= {TARGET_PIPELINE_VS_FLOOR}",
            "value": result["pipeline_vs_floor"],
            "met": result["pipeline_vs_floor"] <= TARGET_PIPELINE_VS_FLOOR,
        },
        "naive_vs_pipeline": {
            "target": f">= {TARGET_NAIVE_VS_PIPELINE}",
            "value": naive,
            "met": None if naive is None else naive >= TARGET_NAIVE_VS_PIPELINE,
        },
        "pipeline_rss_growth_4x": {
            "target": f"< {TARGET_RSS_GROWTH_4X}",
            "value": growth,
            "met": None if growth is None else growth < TARGET_RSS_GROWTH_4X,
        },
    }


def _ratio_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def table(result: dict[str, Any]) -> Table:
    """The figures as a rich table, one row per path and per target."""
    from rich.table import Table
    from rich.text import Text

    # Styled as Text: the command's consoles read no markup (`cli.output`).
    marks = {True: ("met", "green"), False: ("not met", "red"), None: ("not measured", "dim")}
    goal = result["targets"]
    out = Table(
        title=(
            f"lockgate bench: {result['rows']:,} rows × {result['columns']} columns, "
            f"{result['expectations']} expectations, {result['pii_columns']} PII columns"
        ),
        title_justify="left",
    )
    for column in ("measure", "value", "peak RSS (MB)", "target"):
        out.add_column(column)
    rss = result["peak_rss_mb"]
    cached = " (cached file)" if result["generate_cached"] else ""
    out.add_row("generate CSV", f"{result['generate_s']:.2f} s{cached}", "", f"{result['csv_mb']} MB")
    out.add_row("(a) floor: polars CSV → Parquet", f"{result['floor_s']:.2f} s", f"{rss['floor']:.0f}", "")
    naive = result["naive"]
    if "skipped" in naive:
        out.add_row("(b) naive: pandas + GX + masking", f"skipped ({naive['skipped']})", "", "")
    else:
        out.add_row(
            "(b) naive: pandas + GX + masking", f"{naive['seconds']:.2f} s", f"{rss['naive']:.0f}", ""
        )
    out.add_row(
        "(c) lockgate pipeline (Prefect flow)",
        f"{result['pipeline_s']:.2f} s",
        f"{rss['pipeline']:.0f}",
        f"steps below; orchestration {result['pipeline_orchestration_s']:.2f} s",
    )
    out.add_row(
        f"(d) mask + PII gate steps, {result['pii_rows']:,} rows",
        f"{result['pii_scan_mask_rows_per_s']:,.0f} rows/s",
        f"{rss['pii']:.0f}",
        f"mask {result['pii_mask_s']:.2f} s, gate {result['pii_scan_s']:.2f} s",
    )
    out.add_row(
        "pipeline / floor",
        _ratio_text(result["pipeline_vs_floor"]),
        "",
        Text.assemble(f"≤ {TARGET_PIPELINE_VS_FLOOR} ", marks[goal["pipeline_vs_floor"]["met"]]),
    )
    out.add_row(
        "naive / pipeline",
        _ratio_text(result["naive_vs_pipeline"]),
        "",
        Text.assemble(f"≥ {TARGET_NAIVE_VS_PIPELINE} ", marks[goal["naive_vs_pipeline"]["met"]]),
    )
    growth = result.get("pipeline_rss_growth_4x")
    if growth is None:
        out.add_row(
            "pipeline memory, rows ×4",
            "run with --scaling",
            "",
            Text.assemble(f"< {TARGET_RSS_GROWTH_4X} ", marks[None]),
        )
    else:
        out.add_row(
            f"pipeline memory, {result['pipeline_quarter_rows']:,} → {result['rows']:,} rows",
            f"{growth:.2f}×",
            f"{result['pipeline_quarter_peak_rss_mb']:.0f} → {rss['pipeline']:.0f}",
            Text.assemble(f"< {TARGET_RSS_GROWTH_4X} ", marks[goal["pipeline_rss_growth_4x"]["met"]]),
        )
    return out


def steps_table(
    steps: list[dict[str, Any]],
    title: str,
    earlier: list[dict[str, Any]] | None = None,
    earlier_rows: int = 0,
    *,
    spans: bool = False,
) -> Table:
    """One row per step: seconds, task runs, peak RSS while it ran (and at `earlier_rows` rows, if given).

    With `spans`, also each step's span: from its first task run's start to its last one's end.
    """
    from rich.table import Table

    out = Table(title=title, title_justify="left")
    columns = ["step", "seconds", "task runs", *(["span (s)"] if spans else [])]
    for column in (*columns, "RSS at start (MB)", "peak RSS (MB)"):
        out.add_column(column, justify="left" if column == "step" else "right")
    peaks_before = {row["name"]: row["peak_rss_mb"] for row in earlier or []}
    if earlier is not None:
        out.add_column(f"peak RSS at {earlier_rows:,} rows (MB)", justify="right")

    def mb(value: float | None) -> str:
        return "—" if value is None else f"{value:.0f}"

    for row in steps:
        cells = [row["name"], f"{row['seconds']:.2f}", str(row["task_runs"])]
        if spans:
            cells.append(f"{row['span_s']:.2f}")
        cells += [mb(row["start_rss_mb"]), mb(row["peak_rss_mb"])]
        if earlier is not None:
            cells.append(mb(peaks_before.get(row["name"])))
        out.add_row(*cells)
    return out


def tables(result: dict[str, Any]) -> list[Table]:
    """What ``lockgate bench`` prints: the paths and targets, then the pipeline's steps."""
    steps = steps_table(
        result["steps"],
        f"pipeline steps at {result['rows']:,} rows (Prefect task run times; RSS sampled every "
        f"{SAMPLE_INTERVAL_S * 1000:.0f} ms)",
        result.get("pipeline_quarter_steps"),
        result.get("pipeline_quarter_rows", 0),
    )
    return [table(result), steps]


def footnote(result: dict[str, Any]) -> str:
    """How to read the tables: what each timer covers and whose memory is counted."""
    load = result["load_average_1m"]
    return (
        f"Python {result['python']}, {result['cpu_count']} CPU(s), 1-minute load average "
        f"{load['before']:.2f} before and {load['after']:.2f} after. Seconds are wall time of the work "
        "only (imports excluded). The pipeline is the Prefect flow's call, timed after a warm-up run "
        f"on {WARMUP_ROWS:,} rows in the same process (ephemeral server start-up, imports and the NER "
        f"model load excluded; the warm-up took {result['pipeline_warmup_s']:.1f} s). Peak RSS is each "
        "path's own process; Prefect's ephemeral server runs in a process of its own and is not counted. "
        "A step's peak RSS is the highest reading of its process's resident set taken while the step's "
        "task run was running; orchestration is the flow's time outside every task run."
    )
