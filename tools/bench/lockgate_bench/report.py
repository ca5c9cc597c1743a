"""What a benchmark run means: its figures in one JSON-ready dict, the issue's targets, and a table.

The JSON keys are the benchmark's interface (tests, the README's figures and anyone comparing runs read
them), so they keep their names when a path changes how it measures: ``pii_scan_s`` is the PII gate's scan
of the masked frame.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 4) if denominator > 0 else float("inf")


def summarise(measured: Measured) -> dict[str, Any]:
    """The run's figures, rounded, with the ratios and the targets: what ``--format json`` prints."""
    from contracts.expectations import all_rules

    figures, meta, contract = measured.paths, measured.csv_meta, measured.contract
    floor_s = round(figures["floor"]["seconds"], 4)
    naive_s = round(figures["naive"]["seconds"], 4)
    pipeline_s = round(figures["pipeline"]["seconds"], 4)
    pii = figures["pii"]
    before, after = measured.load_average_1m
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
        "naive_vs_pipeline": ratio(naive_s, pipeline_s),
        "peak_rss_mb": {path: round(figures[path]["peak_rss_mb"], 1) for path in PATHS},
        # Peak RSS as each timer started: imports, plus the warm-up run (pipeline) or loaded frame (pii).
        "before_work_rss_mb": {path: round(figures[path]["before_work_rss_mb"], 1) for path in PATHS},
        "pipeline_warmup_s": round(figures["pipeline"]["warmup_s"], 4),
        "pipeline_steps_s": {step: round(s, 4) for step, s in figures["pipeline"]["steps_s"].items()},
        "pii_rows": pii["rows"],
        "pii_scan_s": round(pii["scan_s"], 4),
        "pii_mask_s": round(pii["mask_s"], 4),
        "pii_scan_mask_rows_per_s": round(pii["rows"] / pii["seconds"], 1),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_1m": {"before": round(before, 2), "after": round(after, 2)},
    }
    quarter = measured.quarter
    if quarter is not None:
        result["pipeline_quarter_rows"] = quarter["rows"]
        result["pipeline_quarter_s"] = round(quarter["seconds"], 4)
        result["pipeline_quarter_peak_rss_mb"] = round(quarter["peak_rss_mb"], 1)
        result["pipeline_rss_growth_4x"] = ratio(figures["pipeline"]["peak_rss_mb"], quarter["peak_rss_mb"])
    result["targets"] = targets(result)
    return result


def targets(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target of the issue with its measured value and whether it is met (None: not measured)."""
    growth = result.get("pipeline_rss_growth_4x")
    return {
        "pipeline_vs_floor": {
            "target": f"<= {TARGET_PIPELINE_VS_FLOOR}",
            "value": result["pipeline_vs_floor"],
            "met": result["pipeline_vs_floor"] <= TARGET_PIPELINE_VS_FLOOR,
        },
        "naive_vs_pipeline": {
            "target": f">= {TARGET_NAIVE_VS_PIPELINE}",
            "value": result["naive_vs_pipeline"],
            "met": result["naive_vs_pipeline"] >= TARGET_NAIVE_VS_PIPELINE,
        },
        "pipeline_rss_growth_4x": {
            "target": f"< {TARGET_RSS_GROWTH_4X}",
            "value": growth,
            "met": None if growth is None else growth < TARGET_RSS_GROWTH_4X,
        },
    }


def table(result: dict[str, Any]) -> Table:
    """The figures as a rich table, one row per path and per target."""
    from rich.table import Table

    marks = {True: "[green]met[/green]", False: "[red]not met[/red]", None: "[dim]not measured[/dim]"}
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
    out.add_row("(b) naive: pandas + GX + masking", f"{result['naive_s']:.2f} s", f"{rss['naive']:.0f}", "")
    out.add_row(
        "(c) lockgate pipeline (Prefect flow)", f"{result['pipeline_s']:.2f} s", f"{rss['pipeline']:.0f}", ""
    )
    steps = result["pipeline_steps_s"]
    out.add_row(
        "    by step (Prefect task run times)",
        ", ".join(f"{step} {seconds:.2f}" for step, seconds in steps.items()),
        "",
        f"orchestration {max(0.0, result['pipeline_s'] - sum(steps.values())):.2f} s",
    )
    out.add_row(
        f"(d) mask + PII gate steps, {result['pii_rows']:,} rows",
        f"{result['pii_scan_mask_rows_per_s']:,.0f} rows/s",
        f"{rss['pii']:.0f}",
        f"mask {result['pii_mask_s']:.2f} s, gate {result['pii_scan_s']:.2f} s",
    )
    out.add_row(
        "pipeline / floor",
        f"{result['pipeline_vs_floor']:.2f}×",
        "",
        f"≤ {TARGET_PIPELINE_VS_FLOOR} {marks[goal['pipeline_vs_floor']['met']]}",
    )
    out.add_row(
        "naive / pipeline",
        f"{result['naive_vs_pipeline']:.2f}×",
        "",
        f"≥ {TARGET_NAIVE_VS_PIPELINE} {marks[goal['naive_vs_pipeline']['met']]}",
    )
    growth = result.get("pipeline_rss_growth_4x")
    out.add_row(
        "pipeline memory, rows ×4",
        f"{growth:.2f}×" if growth is not None else "run with --scaling",
        f"{result['pipeline_quarter_peak_rss_mb']:.0f} → {rss['pipeline']:.0f}" if growth is not None else "",
        f"< {TARGET_RSS_GROWTH_4X} {marks[goal['pipeline_rss_growth_4x']['met']]}",
    )
    return out


def footnote(result: dict[str, Any]) -> str:
    """How to read the table: what each timer covers and whose memory is counted."""
    return (
        f"Python {result['python']}, {result['cpu_count']} CPU(s). Seconds are wall time of the work "
        "only (imports excluded). The pipeline is the Prefect flow's call, timed after a warm-up run "
        f"on {WARMUP_ROWS:,} rows in the same process (ephemeral server start-up, imports and the NER "
        f"model load excluded; the warm-up took {result['pipeline_warmup_s']:.1f} s). Peak RSS is each "
        "path's own process; Prefect's ephemeral server runs in a process of its own and is not counted."
    )
