"""What ``lockgate bench --sources N`` means: one flow run over N small sources, summarised and tabled.

The run's wall time is the ingest flow's call, after a warm-up run; next to it, what bounds it: loading
and checking the catalog (the flow's first act), the time during which at least one task run was
running, the flow's time outside every task run (submission, artifacts, folding results), and the same
flow shape with no-op steps (`noop`), which is Prefect's orchestration of that many task runs alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lockgate_bench.memory import SAMPLE_INTERVAL_S
from lockgate_bench.report import machine, steps_table

if TYPE_CHECKING:
    from rich.table import Table

TARGET_SOURCES_S = 30.0  # below, for 100 sources


def summarise_sources(
    figures: dict[str, Any], csv_meta: dict[str, Any], csv_cached: bool, load_average_1m: tuple[float, float]
) -> dict[str, Any]:
    """The figures of the sources child, rounded, with the target: what ``--format json`` prints."""
    seconds = round(figures["seconds"], 4)
    sources = figures["sources"]
    task_runs = sum(step["task_runs"] for step in figures["steps"])
    result: dict[str, Any] = {
        "mode": "sources",
        "sources": sources,
        "rows_per_source": figures["rows_per_source"],
        "rows": sources * figures["rows_per_source"],
        "csv_mb": round(csv_meta["bytes"] / 1e6, 1),
        "generate_s": round(csv_meta["generate_s"], 4),
        "generate_cached": csv_cached,
        "seconds": seconds,
        "seconds_per_source": round(seconds / sources, 4),
        "peak_rss_mb": _round(figures["run_peak_rss_mb"]),  # during the run
        "sampled_peak_rss_mb": _round(figures["sampled_peak_rss_mb"]),
        "process_peak_rss_mb": round(figures["peak_rss_mb"], 1),  # warm-up included
        "before_work_rss_mb": round(figures["before_work_rss_mb"], 1),
        "warmup_s": round(figures["warmup_s"], 4),
        "catalog_load_s": round(figures["catalog_load_s"], 4),
        "task_runs": task_runs,
        "tasks_busy_s": round(figures["tasks_busy_s"], 4),
        "outside_tasks_s": round(max(0.0, figures["seconds"] - figures["tasks_busy_s"]), 4),
        "noop_flow_s": round(figures["noop_flow_s"], 4),
        "noop_per_task_run_ms": round(1000 * figures["noop_flow_s"] / max(task_runs, 1), 2),
        "steps": figures["steps"],
        **machine(load_average_1m),
    }
    result["targets"] = {
        "seconds": {
            "target": f"< {TARGET_SOURCES_S:.0f} (100 sources)",
            "value": seconds,
            "met": seconds < TARGET_SOURCES_S if sources == 100 else None,
        }
    }
    return result


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def sources_tables(result: dict[str, Any]) -> list[Table]:
    """The run's totals and what bounds them, then its steps summed over the sources."""
    from rich.table import Table
    from rich.text import Text

    # Styled as Text: the command's consoles read no markup (`cli.output`).
    marks = {True: ("met", "green"), False: ("not met", "red"), None: ("only for 100", "dim")}
    n, rows = result["sources"], result["rows_per_source"]
    out = Table(
        title=f"lockgate bench --sources {n}: one ingest run of {n} sources × {rows:,} rows",
        title_justify="left",
    )
    for column in ("measure", "value", "note"):
        out.add_column(column)
    met = marks[result["targets"]["seconds"]["met"]]
    out.add_row(
        "wall time of the run",
        f"{result['seconds']:.2f} s",
        Text.assemble(f"< {TARGET_SOURCES_S:.0f} s ", met),
    )
    out.add_row("per source", f"{result['seconds_per_source']:.3f} s", "")
    out.add_row(
        "peak RSS during the run",
        "—" if result["peak_rss_mb"] is None else f"{result['peak_rss_mb']:.0f} MB",
        f"process peak before it {result['before_work_rss_mb']:.0f} MB (imports, warm-up)",
    )
    out.add_row("catalog load + contract checks", f"{result['catalog_load_s']:.2f} s", "inside the run")
    out.add_row(
        "some task run running",
        f"{result['tasks_busy_s']:.2f} s",
        f"{result['task_runs']} task runs",
    )
    out.add_row(
        "outside every task run",
        f"{result['outside_tasks_s']:.2f} s",
        "catalog, submission, artifacts, results",
    )
    out.add_row(
        "same flow with no-op steps",
        f"{result['noop_flow_s']:.2f} s",
        f"Prefect alone: {result['noop_per_task_run_ms']:.1f} ms per task run, "
        f"{result['noop_flow_s'] / result['sources']:.3f} s per source",
    )
    steps = steps_table(
        result["steps"],
        f"steps over {n} sources (task run times summed; span from first start to last end; RSS sampled "
        f"every {SAMPLE_INTERVAL_S * 1000:.0f} ms)",
        spans=True,
    )
    return [out, steps]


def sources_footnote(result: dict[str, Any]) -> str:
    """How to read the tables."""
    load = result["load_average_1m"]
    return (
        f"Python {result['python']}, {result['cpu_count']} CPU(s), 1-minute load average "
        f"{load['before']:.2f} before and {load['after']:.2f} after. The run is the Prefect flow's call "
        f"on the {result['sources']}-source catalog, after a warm-up run of its first source in the same "
        f"process ({result['warmup_s']:.1f} s). Task runs of different sources and steps overlap on the "
        "flow's thread pool, so a step's seconds (summed) can exceed its span, and its peak RSS is the "
        "process's while any of its task runs ran."
    )
