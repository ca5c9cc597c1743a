"""The child side of the benchmark: each function is one path, run alone in a fresh interpreter.

A path returns its figures as a dict; ``python -m lockgate_bench`` prints them as one JSON line. Every
timer covers the work only: imports, the warm-up and the loading of inputs happen before it starts, and
``before_work_rss_mb`` says how much memory that took.

- **floor** — polars reads the CSV and writes Parquet: the least any pipeline must do;
- **naive** — what a user writes by hand (`naive.run_naive`);
- **pipeline** — the real Prefect flow ``ingest`` on the bench catalog, after a warm-up run;
- **pii** — the pipeline's own mask and PII-gate steps (`mask_task`, `pii_gate_task`) on up to a
  million rows, as rows per second;
- **sources** — ``lockgate bench --sources N``: one flow run over a catalog of N small sources.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from lockgate_bench.errors import BenchError
from lockgate_bench.memory import RssSampler, peak_rss_mb
from lockgate_bench.naive import run_naive
from lockgate_bench.steps import busy_seconds, read_windows, step_table

if TYPE_CHECKING:
    from pathlib import Path
    from uuid import UUID

    from flows.results import RunResult, SourceResult

PATHS = ("floor", "naive", "pipeline", "pii")
NAIVE_MAX_ROWS = (
    5_000_000  # above this the naive path is skipped: pandas + GX would need ~1.1 GB a million rows
)
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


def _run_flow(
    catalog_root: Path, lake: Path, sources: list[str] | None = None
) -> tuple[float, RunResult, UUID | None]:
    """One call of the ingest flow as the CLI makes it: its wall time, the run's result, its flow-run id.

    `sources` limits the run to those sources (all by default).
    """
    from flows.errors import RunFailed
    from flows.pipeline import ingest
    from flows.results import RunResult

    start = time.perf_counter()
    state = ingest(catalog=str(catalog_root), lake=str(lake), sources=sources or [], return_state=True)
    seconds = time.perf_counter() - start
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, RunFailed):
        outcome = outcome.run
    if not isinstance(outcome, RunResult):
        raise BenchError(f"pipeline: the flow failed: {type(outcome).__name__}: {outcome}")
    return seconds, outcome, state.state_details.flow_run_id


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


def _warm_up(workdir: Path, seed: int) -> float:
    """A flow run on a small catalog: starts Prefect's ephemeral server, loads the NER model; its seconds."""
    from lockgate_bench import catalog, data

    warm = workdir / "warmup"
    warm_csv = warm / f"{WARMUP_ROWS}-{seed}.csv"
    data.write_customers_csv(warm_csv, WARMUP_ROWS, seed)
    catalog.write_catalog(warm / "catalog", warm_csv, seed)
    warmup_s, warm_run, _ = _run_flow(warm / "catalog", warm / "lake")
    _published(warm_run, WARMUP_ROWS, "warm-up")
    return warmup_s


def _task_runs_expected(sources: int) -> int:
    """Task runs of a run where every source is published, at least: each step once per source, then
    the Data Docs index and register (and role outputs, when the catalog grants roles)."""
    from flows.pipeline import STEPS

    return len(STEPS) * sources + 2


def path_pipeline(catalog_root: Path, workdir: Path, rows: int, seed: int) -> dict[str, Any]:
    """The Prefect flow on the reference catalog, timed after a warm-up run on a small one.

    The timed run's resident set is sampled throughout (`memory.RssSampler`) and matched to its task
    runs (`steps`): ``steps`` holds each step's seconds and the peak RSS reached while it ran.
    """
    import flows.pipeline  # noqa: F401 - imported before the baseline so it is not counted as work

    warmup_s = _warm_up(workdir, seed)
    baseline = peak_rss_mb()

    with RssSampler() as sampler:
        seconds, run, flow_run_id = _run_flow(catalog_root, workdir / "lake")
    result = _published(run, rows, "reference")
    windows = read_windows(flow_run_id, _task_runs_expected(1))
    return {
        "seconds": seconds,
        "steps": step_table(windows, sampler.samples),
        "tasks_busy_s": busy_seconds(windows),
        "sampled_peak_rss_mb": sampler.peak_mb(),
        "rss_samples": len(sampler.samples),
        "rows_out": result.rows_out,
        "expectations": len(result.expectations),
        "warnings": len(result.warnings),
        "masked_columns": len(result.masked_columns),
        "warmup_s": warmup_s,
        "before_work_rss_mb": baseline,
    }


def path_sources(catalog_root: Path, workdir: Path, rows: int) -> dict[str, Any]:
    """One flow run over a catalog of many small sources, timed after a warm-up run on its first source.

    `rows` is each source's. Besides the run's wall time and memory: how long loading and checking the
    catalog takes (the flow does it first), and the same flow shape with no-op steps (`noop.noop_ingest`),
    which is what Prefect's orchestration of that many task runs costs on its own.
    """
    import flows.pipeline  # noqa: F401 - imported before the baseline so it is not counted as work
    from contracts.expectations import check_contract
    from flows.results import SourceStatus
    from lockgate_bench.noop import noop_ingest
    from sources.catalog import load_catalog

    names = [source.name for source in load_catalog(catalog_root).sources]
    count = len(names)
    # The warm-up (server, imports, NER model) on the first source alone, into a lake of its own.
    warmup_s, warm_run, _ = _run_flow(catalog_root, workdir / "warmup-lake", names[:1])
    _published(warm_run, rows, "warm-up")
    start = time.perf_counter()
    load_catalog(catalog_root, check=check_contract)  # as the flow loads it, warm
    catalog_s = time.perf_counter() - start
    noop_s = noop_ingest(count)
    baseline = peak_rss_mb()

    with RssSampler() as sampler:
        seconds, run, flow_run_id = _run_flow(catalog_root, workdir / "lake")
    published = [r for r in run.sources if r.status is SourceStatus.PUBLISHED and r.rows_out == rows]
    if len(published) != count:
        failed = next(r for r in run.sources if r not in published)
        raise BenchError(
            f"sources: {len(published)} of {count} sources published; {failed.source}: {failed.status.value}"
            f" {failed.error or ''}"
        )
    windows = read_windows(flow_run_id, _task_runs_expected(count))
    process_peak = peak_rss_mb()
    return {
        "seconds": seconds,
        # The run's own peak: the process's when the run raised it (exact), else the highest reading
        # (the warm-up or the no-op flow can leave a higher process peak than the run).
        "run_peak_rss_mb": process_peak if process_peak > baseline else sampler.peak_mb(),
        "sources": count,
        "rows_per_source": rows,
        "steps": step_table(windows, sampler.samples),
        "tasks_busy_s": busy_seconds(windows),
        "sampled_peak_rss_mb": sampler.peak_mb(),
        "rss_samples": len(sampler.samples),
        "catalog_load_s": catalog_s,
        "noop_flow_s": noop_s,
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
