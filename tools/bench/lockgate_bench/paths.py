"""The child side of the benchmark: each function is one path, run alone in a fresh interpreter.

A path returns its figures as a dict; ``python -m lockgate_bench`` prints them as one JSON line. Every
timer covers the work only: imports, the warm-up and the loading of inputs happen before it starts, and
``before_work_rss_mb`` says how much memory that took.

- **floor** — polars reads the CSV and writes Parquet: the least any pipeline must do;
- **naive** — what a user writes by hand (`naive.run_naive`);
- **pipeline** — the real Prefect flow ``ingest`` on the bench catalog, after a warm-up run;
- **pii** — the pipeline's own mask and PII-gate steps (`mask_task`, `pii_gate_task`) on up to a
  million rows, as rows per second.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lockgate_bench.errors import BenchError
from lockgate_bench.memory import peak_rss_mb
from lockgate_bench.naive import run_naive

if TYPE_CHECKING:
    from pathlib import Path
    from uuid import UUID

    from flows.results import RunResult, SourceResult

PATHS = ("floor", "naive", "pipeline", "pii")
RESULT_MARKER = "LOCKGATE_BENCH_RESULT "  # the line of a child's stdout that carries its figures
KEY_ENV = "LOCKGATE_KEY_DEFAULT"  # the contract's hash rule uses key "default"; checked before any other
WARMUP_ROWS = 2_000


def meta_path(csv: Path) -> Path:
    """Where a cached CSV's description (rows, seed, generator version, size) is kept."""
    return csv.with_suffix(".json")


def path_generate(csv: Path, rows: int, seed: int) -> dict[str, Any]:
    """Write the reference CSV next to its final name, then rename: a half-written file is never cached."""
    from lockgate_bench import data

    partial = csv.with_name(csv.name + ".partial")
    start = time.perf_counter()
    data.write_customers_csv(partial, rows, seed)
    seconds = time.perf_counter() - start
    partial.replace(csv)
    meta = {
        "rows": rows,
        "seed": seed,
        "generator": data.GENERATOR_VERSION,
        "generate_s": seconds,
        "bytes": csv.stat().st_size,
    }
    meta_path(csv).write_text(json.dumps(meta), encoding="utf-8")
    return meta


def path_floor(csv: Path, workdir: Path) -> dict[str, Any]:
    """The least a pipeline can do with this file: parse it and write it as Parquet, nothing else."""
    import polars as pl

    baseline = peak_rss_mb()
    start = time.perf_counter()
    frame = pl.read_csv(csv)
    frame.write_parquet(workdir / "floor.parquet")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows_out": frame.height, "before_work_rss_mb": baseline}


def path_naive(csv: Path, workdir: Path) -> dict[str, Any]:
    """pandas + GX + per-value masking + to_parquet: the script a user would write without Lockgate."""
    return run_naive(csv, workdir / "naive.parquet", KEY_ENV)


def _run_flow(catalog_root: Path, lake: Path) -> tuple[float, RunResult, UUID | None]:
    """One call of the ingest flow as the CLI makes it: its wall time, the run's result, its flow-run id."""
    from flows.errors import RunFailed
    from flows.pipeline import ingest
    from flows.results import RunResult

    start = time.perf_counter()
    state = ingest(catalog=str(catalog_root), lake=str(lake), sources=[], return_state=True)
    seconds = time.perf_counter() - start
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, RunFailed):
        outcome = outcome.run
    if not isinstance(outcome, RunResult):
        raise BenchError(f"pipeline: the flow failed: {type(outcome).__name__}: {outcome}")
    return seconds, outcome, state.state_details.flow_run_id


def _step_seconds(flow_run_id: UUID | None) -> dict[str, float]:
    """Run time of each task of one flow run, as Prefect recorded it: where the pipeline's time goes.

    Task-run names are ``<task name>-<suffix>``; runs of the same task (one per source) are summed.
    What the flow's wall time holds beyond their sum is orchestration: task submission, state
    changes, artifacts.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    if flow_run_id is None:
        return {}
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    steps: dict[str, float] = {}
    for task_run in sorted(task_runs, key=lambda t: t.start_time or datetime.min.replace(tzinfo=UTC)):
        step = task_run.name.rsplit("-", 1)[0]
        steps[step] = steps.get(step, 0.0) + task_run.total_run_time.total_seconds()
    return steps


def _published(run: RunResult, rows: int, what: str) -> SourceResult:
    """The source's result, after checking it was published whole (else the timing means nothing)."""
    from flows.results import SourceStatus

    (result,) = run.sources
    if result.status is not SourceStatus.PUBLISHED or result.rows_out != rows:
        detail = result.error or "; ".join(result.pii_findings) or ""
        raise BenchError(
            f"pipeline ({what}): {result.status.value}, {result.rows_out} of {rows} rows published {detail}"
        )
    return result


def path_pipeline(catalog_root: Path, workdir: Path, rows: int, seed: int) -> dict[str, Any]:
    """The Prefect flow on the reference catalog, timed after a warm-up run on a small one."""
    import flows.pipeline  # noqa: F401 - imported before the baseline so it is not counted as work
    from lockgate_bench import catalog, data

    warm = workdir / "warmup"
    warm_csv = warm / f"{WARMUP_ROWS}-{seed}.csv"
    data.write_customers_csv(warm_csv, WARMUP_ROWS, seed)
    catalog.write_catalog(warm / "catalog", warm_csv, seed)
    warmup_s, warm_run, _ = _run_flow(warm / "catalog", warm / "lake")
    _published(warm_run, WARMUP_ROWS, "warm-up")
    baseline = peak_rss_mb()

    seconds, run, flow_run_id = _run_flow(catalog_root, workdir / "lake")
    result = _published(run, rows, "reference")
    return {
        "seconds": seconds,
        "steps_s": _step_seconds(flow_run_id),
        "rows_out": result.rows_out,
        "expectations": len(result.expectations),
        "warnings": len(result.warnings),
        "masked_columns": len(result.masked_columns),
        "warmup_s": warmup_s,
        "before_work_rss_mb": baseline,
    }


def path_pii(catalog_root: Path, csv: Path, rows: int, workdir: Path) -> dict[str, Any]:
    """The pipeline's mask step then its PII gate, called as the flow calls them, on the first `rows` rows.

    The batch is prepared as the flow's earlier steps leave it (read with the connector's options,
    conformed to the contract; neither is timed), with the run's keys resolved as the flow resolves
    them. A mask and gate of a few rows first loads the NER model and the phone metadata, which a
    long-running pipeline pays once. ``scan_s`` is the gate's scan of the masked frame.
    """
    import polars as pl

    from contracts.conform import conform
    from contracts.keys import resolve_key
    from contracts.masking import required_keys
    from flows.errors import StopLine
    from flows.pipeline import Batch, RunContext, mask_task, pii_gate_task
    from flows.runs import new_run_id
    from flows.settings import current_settings
    from sources.catalog import load_catalog

    (source,) = load_catalog(catalog_root).sources
    settings = current_settings()
    run = RunContext(
        lake=str(workdir / "lake"),
        run_id=new_run_id(),
        keys={name: resolve_key(name, settings.keys) for name in sorted(required_keys(source.contract))},
    )
    # The connector's reading options, limited to the first rows (the connector reads whole files).
    raw = pl.read_csv(csv, n_rows=rows, infer_schema=False, null_values=[""], empty_string_is_null=True)
    frame = conform(raw, source.contract).frame
    del raw

    def batch_of(rows_frame: pl.DataFrame) -> Batch:
        return Batch(source=source, run_id=run.run_id, raw=[], frame=rows_frame)

    try:
        pii_gate_task.fn(mask_task.fn(batch_of(frame.head(WARMUP_ROWS)), run), run)
        baseline = peak_rss_mb()
        batch = batch_of(frame)
        del frame
        start = time.perf_counter()
        batch = mask_task.fn(batch, run)
        masked = time.perf_counter()
        batch = pii_gate_task.fn(batch, run)
        done = time.perf_counter()
    except StopLine as exc:
        raise BenchError(f"pii: the PII gate stopped the line: {'; '.join(exc.pii_findings)}") from exc
    assert batch.frame is not None
    return {
        "rows": batch.frame.height,
        "mask_s": masked - start,
        "scan_s": done - masked,
        "seconds": done - start,
        "columns_masked": len(batch.masked_columns),
        "before_work_rss_mb": baseline,
    }
