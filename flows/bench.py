"""``lockgate bench``: how fast and how lean the pipeline is, next to a floor and a hand-written baseline.

One reference CSV (generated once, cached under ``.lockgate/bench/<rows>-<seed>.csv``) goes through:

- **floor** — polars reads the CSV and writes Parquet: the least any pipeline must do;
- **naive** — what a user writes by hand: pandas ``read_csv``, the same ten expectations in Great
  Expectations on pandas, masking with pandas (``hmac`` per value through ``.map``, string slicing for
  ``partial``, regexes for free text) and ``to_parquet``;
- **pipeline** — the real Prefect flow ``ingest`` on a catalog for the file: raw landing with
  checksums, read, conform, validate, mask, PII gate, curated publish, DuckDB views;
- **pii** — `scan_frame` plus `mask` on up to a million rows, as rows per second.

Each path runs in its own Python process (``python -m flows.bench --path ...``) so that its peak
resident memory (``ru_maxrss`` of that process) is its own and not the largest seen so far; the child
prints one JSON line that the parent collects. Timings are wall-clock seconds of the work itself:
interpreter start-up and imports are outside every timer, and the pipeline is timed on its second
run in the process, after a warm-up run on a small catalog that starts Prefect's ephemeral server and
loads the NER model. Paths run one after another (never side by side) so they do not share the cores,
and the CSV is read once before the first path so that every path finds it in the page cache.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_ROWS = 5_000_000
# Equal to DEFAULT_SEED; repeated so that loading the command (every `lockgate` start) does
# not load polars and numpy, which bench_data needs at import.
DEFAULT_SEED = 7
PII_MAX_ROWS = 1_000_000
WARMUP_ROWS = 2_000
RESULT_MARKER = "LOCKGATE_BENCH_RESULT "
KEY_ENV = "LOCKGATE_KEY_DEFAULT"  # the contract's hash rule uses key "default"; checked before any other
DEFAULT_CACHE = Path(".lockgate") / "bench"
PATHS = ("floor", "naive", "pipeline", "pii")
STDERR_TAIL_LINES = 40

# Targets from the issue; the text report marks each met or not met.
TARGET_PIPELINE_VS_FLOOR = 2.0  # at most
TARGET_NAIVE_VS_PIPELINE = 5.0  # at least
TARGET_RSS_GROWTH_4X = 1.5  # below

REPO_ROOT = Path(__file__).resolve().parents[1]


class BenchError(RuntimeError):
    """A benchmark path failed; the message says which and why (the child's last stderr lines)."""


# --- child side: one path per process ------------------------------------------------------------


def _peak_rss_mb() -> float:
    """This process's peak resident set so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def path_generate(csv: Path, rows: int, seed: int) -> dict[str, Any]:
    """Write the reference CSV next to its final name, then rename: a half-written file is never cached."""
    from flows import bench_data

    partial = csv.with_name(csv.name + ".partial")
    start = time.perf_counter()
    bench_data.write_customers_csv(partial, rows, seed)
    seconds = time.perf_counter() - start
    partial.replace(csv)
    meta = {
        "rows": rows,
        "seed": seed,
        "generator": bench_data.GENERATOR_VERSION,
        "generate_s": seconds,
        "bytes": csv.stat().st_size,
    }
    _meta_path(csv).write_text(json.dumps(meta), encoding="utf-8")
    return meta


def path_floor(csv: Path, workdir: Path) -> dict[str, Any]:
    """The least a pipeline can do with this file: parse it and write it as Parquet, nothing else."""
    import polars as pl

    baseline = _peak_rss_mb()
    start = time.perf_counter()
    frame = pl.read_csv(csv)
    frame.write_parquet(workdir / "floor.parquet")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows_out": frame.height, "before_work_rss_mb": baseline}


# The naive script's free-text redaction: the regexes a careful user writes. It finds no names
# (that needs NER), so it does less than `redact_pii`; the comparison is in the naive path's favour.
NAIVE_TEXT_PATTERNS = (
    (r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "[EMAIL]"),
    (r"\b\d{3}-\d{3}-\d{3} \d{2}\b", "[SNILS]"),
    (r"\b(?:\d{4} ?){3}\d{4}\b", "[CARD]"),
    (r"\b\d{12}\b", "[INN]"),
    (r"(?:\+7|\b8|\+1|\+44)[\d ()-]{8,}\d", "[PHONE]"),
)


def naive_expectations() -> list[Any]:
    """The contract's ten rules written by hand as GX expectation objects, as a user would."""
    import great_expectations as gx

    ge = gx.expectations
    return [
        ge.ExpectColumnValuesToNotBeNull(column="customer_id"),
        ge.ExpectColumnValuesToBeUnique(column="customer_id"),
        ge.ExpectTableRowCountToBeBetween(min_value=1),
        ge.ExpectColumnValuesToNotBeNull(column="email"),
        ge.ExpectColumnValuesToNotBeNull(column="signup_date"),
        ge.ExpectColumnValuesToBeBetween(column="lifetime_value", min_value=0),
        ge.ExpectColumnValuesToBeInSet(column="segment", value_set=["retail", "smb", "enterprise"]),
        ge.ExpectColumnValueLengthsToEqual(column="inn", value=12),
        ge.ExpectColumnValuesToMatchRegex(column="snils", regex=r"^\d{3}-\d{3}-\d{3} \d{2}$"),
        ge.ExpectColumnValuesToMatchRegex(
            column="email", regex=r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$", meta={"warn_only": True}
        ),
    ]


def path_naive(csv: Path, workdir: Path) -> dict[str, Any]:
    """pandas + GX + per-value masking + to_parquet: the script a user would write without Lockgate."""
    import hashlib
    import hmac

    import great_expectations as gx
    import pandas as pd

    from contracts.expectations import gx_offline

    gx_offline()
    key = bytes.fromhex(os.environ[KEY_ENV])
    baseline = _peak_rss_mb()
    start = time.perf_counter()
    df = pd.read_csv(
        csv,
        dtype={"phone": str, "snils": str, "inn": str, "card_number": str},
        parse_dates=["birth_date", "signup_date", "last_order_date"],
    )

    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("naive")
        .add_dataframe_asset("customers")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": df})
    )
    suite = context.suites.add(gx.ExpectationSuite(name="customers"))
    for expectation in naive_expectations():
        suite.add_expectation(expectation)
    result = batch.validate(suite)
    failed = [
        r.expectation_config.type
        for r in result.results
        if not r.success and not (r.expectation_config.meta or {}).get("warn_only")
    ]
    if failed:
        raise BenchError(f"naive: blocking expectations failed: {', '.join(failed)}")

    def hmac_hex(value: str) -> str:
        return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def partial(keep: int) -> Callable[[str], str]:
        return lambda v: "*" * len(v) if len(v) <= keep else "*" * (len(v) - keep) + v[-keep:]

    for column in ("full_name", "email"):
        df[column] = df[column].map(hmac_hex, na_action="ignore")
    df["phone"] = df["phone"].map(partial(2), na_action="ignore")
    df["card_number"] = df["card_number"].map(partial(4), na_action="ignore")
    for column in ("snils", "inn"):
        df[column] = df[column].where(df[column].isna(), "[REDACTED]")
    df["birth_date"] = df["birth_date"].dt.to_period("Y").dt.start_time
    for pattern, marker in NAIVE_TEXT_PATTERNS:
        df["comment"] = df["comment"].str.replace(pattern, marker, regex=True)
    df.to_parquet(workdir / "naive.parquet", index=False)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rows_out": len(df),
        "expectations": len(result.results),
        "warnings": sum(not r.success for r in result.results),
        "before_work_rss_mb": baseline,
    }


def _run_flow(catalog: Path, lake: Path) -> tuple[float, Any, Any]:
    """One call of the ingest flow as the CLI makes it: its wall time, the run's result, its flow-run id."""
    from flows.errors import RunFailed
    from flows.pipeline import ingest

    start = time.perf_counter()
    state = ingest(catalog=str(catalog), lake=str(lake), sources=[], return_state=True)
    seconds = time.perf_counter() - start
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, RunFailed):
        outcome = outcome.run
    if isinstance(outcome, BaseException):
        raise BenchError(f"pipeline: the flow failed: {type(outcome).__name__}: {outcome}")
    return seconds, outcome, state.state_details.flow_run_id


def _step_seconds(flow_run_id: Any) -> dict[str, float]:
    """Run time of each task of one flow run, as Prefect recorded it: where the pipeline's time goes.

    Task-run names are ``<task name>-<suffix>``; runs of the same task (one per source) are summed.
    What the flow's wall time holds beyond their sum is orchestration: task submission, state
    changes, artifacts.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    steps: dict[str, float] = {}
    for task_run in sorted(task_runs, key=lambda t: t.start_time or datetime.min.replace(tzinfo=UTC)):
        step = task_run.name.rsplit("-", 1)[0]
        steps[step] = steps.get(step, 0.0) + task_run.total_run_time.total_seconds()
    return steps


def _published(run: Any, rows: int, what: str) -> Any:
    """The source's result, after checking it was published whole (else the timing means nothing)."""
    from flows.results import SourceStatus

    (result,) = run.sources
    if result.status is not SourceStatus.PUBLISHED or result.rows_out != rows:
        detail = result.error or "; ".join(result.pii_findings) or ""
        raise BenchError(
            f"pipeline ({what}): {result.status.value}, {result.rows_out} of {rows} rows published {detail}"
        )
    return result


def path_pipeline(catalog: Path, workdir: Path, rows: int, seed: int) -> dict[str, Any]:
    """The Prefect flow on the reference catalog, timed after a warm-up run on a small one."""
    import flows.pipeline  # noqa: F401 - imported before the baseline so it is not counted as work
    from flows import bench_data

    warm = workdir / "warmup"
    warm_csv = warm / f"{WARMUP_ROWS}-{seed}.csv"
    bench_data.write_customers_csv(warm_csv, WARMUP_ROWS, seed)
    bench_data.write_catalog(warm / "catalog", warm_csv, seed)
    warmup_s, warm_run, _ = _run_flow(warm / "catalog", warm / "lake")
    _published(warm_run, WARMUP_ROWS, "warm-up")
    baseline = _peak_rss_mb()

    seconds, run, flow_run_id = _run_flow(catalog, workdir / "lake")
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


def path_pii(catalog: Path, csv: Path, rows: int) -> dict[str, Any]:
    """`scan_frame` then `mask` on the first `rows` rows, conformed to the contract as the flow does.

    Reading and conforming are not timed; a scan and mask of a few rows first loads the NER model and
    the phone metadata, which a long-running pipeline pays once.
    """
    import polars as pl

    from contracts.conform import conform
    from contracts.keys import resolve_key
    from contracts.masking import mask, required_keys
    from contracts.pii import scan_frame
    from sources.catalog import load_catalog

    (source,) = load_catalog(catalog).sources
    contract = source.contract
    keys = {name: resolve_key(name) for name in required_keys(contract)}
    # The connector's reading options, limited to the first rows (the connector reads whole files).
    raw = pl.read_csv(csv, n_rows=rows, infer_schema=False, null_values=[""], empty_string_is_null=True)
    frame = conform(raw, contract).frame
    del raw
    scan_frame(frame.head(WARMUP_ROWS))
    mask(frame.head(WARMUP_ROWS), contract, keys)
    baseline = _peak_rss_mb()

    start = time.perf_counter()
    report = scan_frame(frame)
    scanned = time.perf_counter()
    masked = mask(frame, contract, keys)
    done = time.perf_counter()
    return {
        "rows": frame.height,
        "scan_s": scanned - start,
        "mask_s": done - scanned,
        "seconds": done - start,
        "columns_flagged": len(report.flagged()),
        "columns_masked": len(masked.applied),
        "before_work_rss_mb": baseline,
    }


def _child_main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m flows.bench``: run one path, print its figures as one JSON line."""
    parser = argparse.ArgumentParser(description="Run one lockgate bench path (used by `lockgate bench`).")
    parser.add_argument("--path", required=True, choices=("generate", *PATHS))
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--catalog", type=Path)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    if args.path == "generate":
        figures = path_generate(args.csv, args.rows, args.seed)
    elif args.path == "floor":
        figures = path_floor(args.csv, args.workdir)
    elif args.path == "naive":
        figures = path_naive(args.csv, args.workdir)
    elif args.path == "pipeline":
        figures = path_pipeline(args.catalog, args.workdir, args.rows, args.seed)
    else:
        figures = path_pii(args.catalog, args.csv, args.rows)
    figures["peak_rss_mb"] = _peak_rss_mb()
    sys.stdout.write(RESULT_MARKER + json.dumps(figures) + "\n")
    sys.stdout.flush()
    return 0


# --- parent side: orchestrate, collect, report ---------------------------------------------------


def _meta_path(csv: Path) -> Path:
    return csv.with_suffix(".json")


def _child_env(key: str) -> dict[str, str]:
    """The children's environment: a throw-away masking key, this checkout importable, Prefect's API.

    Under a running Prefect API (a server, or the test harness, which sets it in-process only) the
    children use it; otherwise each flow-running child starts its own ephemeral server, as the CLI does.
    """
    env = dict(os.environ)
    env[KEY_ENV] = key
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("GX_ANALYTICS_ENABLED", "false")
    from prefect.settings import PREFECT_API_URL

    api = PREFECT_API_URL.value()
    if api:
        env["PREFECT_API_URL"] = str(api)
    return env


def _run_child(path: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run one path in a fresh interpreter and return the figures it printed."""
    command = [sys.executable, "-m", "flows.bench", "--path", path, *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARKER) and done.returncode == 0:
            figures: dict[str, Any] = json.loads(line.removeprefix(RESULT_MARKER))
            return figures
    tail = "\n".join(done.stderr.strip().splitlines()[-STDERR_TAIL_LINES:])
    raise BenchError(f"bench path '{path}' failed (exit {done.returncode}):\n{tail}")


def reference_csv(
    cache_dir: Path, rows: int, seed: int, env: dict[str, str], progress: Callable[[str], None]
) -> tuple[Path, dict[str, Any], bool]:
    """The cached reference CSV for (rows, seed), generated in a child process when missing or stale."""
    from flows import bench_data

    csv = cache_dir / f"{rows}-{seed}.csv"
    meta_path = _meta_path(csv)
    if csv.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("generator") == bench_data.GENERATOR_VERSION and meta.get("bytes") == csv.stat().st_size:
            return csv, meta, True
    cache_dir.mkdir(parents=True, exist_ok=True)
    progress(f"generating {rows:,} rows (seed {seed}) into {csv}")
    meta = _run_child("generate", ["--csv", str(csv), "--rows", str(rows), "--seed", str(seed)], env)
    return csv, meta, False


def _warm_page_cache(path: Path) -> None:
    """Read the file once so no path pays for a cold disk that the next one does not."""
    with path.open("rb") as handle:
        while handle.read(16 * 1024 * 1024):
            pass


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 4) if denominator > 0 else float("inf")


def run_benchmark(
    rows: int,
    *,
    seed: int = DEFAULT_SEED,
    workdir: Path | None = None,
    cache_dir: Path = DEFAULT_CACHE,
    scaling: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Generate (or reuse) the reference data, run every path in its own process, return the figures.

    Without `workdir` everything but the cached CSV lives in a temporary folder removed afterwards;
    with it, the run's outputs (catalogs, lakes, Parquet files) stay in a new ``bench-<time>`` folder.
    """
    from contracts.expectations import all_rules
    from flows import bench_data
    from sources.catalog import load_catalog

    load_before = os.getloadavg()[0]  # other work on the machine skews every figure: say how busy it was
    env = _child_env(secrets.token_hex(32))
    csv, meta, cached = reference_csv(cache_dir, rows, seed, env, progress)
    if workdir is None:
        root = Path(tempfile.mkdtemp(prefix="lockgate-bench-"))
        keep = False
    else:
        root = workdir / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
        root.mkdir(parents=True)
        keep = True
    try:
        catalog = bench_data.write_catalog(root / "catalog", csv, seed)
        (source,) = load_catalog(catalog).sources
        _warm_page_cache(csv)
        common = ["--csv", str(csv), "--rows", str(rows), "--seed", str(seed), "--catalog", str(catalog)]
        figures: dict[str, dict[str, Any]] = {}
        for path in PATHS:
            out = root / path
            out.mkdir()
            args = [*common, "--workdir", str(out)]
            if path == "pii":
                args[args.index("--rows") + 1] = str(min(rows, PII_MAX_ROWS))
            progress(f"{path}: running on {rows:,} rows" if path != "pii" else "pii: scan + mask")
            figures[path] = _run_child(path, args, env)
            progress(f"{path}: {figures[path]['seconds']:.2f} s, peak {figures[path]['peak_rss_mb']:.0f} MB")
        quarter: dict[str, Any] | None = None
        if scaling:
            small = max(1, rows // 4)
            small_csv, _, _ = reference_csv(cache_dir, small, seed, env, progress)
            small_catalog = bench_data.write_catalog(root / "catalog-quarter", small_csv, seed)
            out = root / "pipeline-quarter"
            out.mkdir()
            _warm_page_cache(small_csv)
            progress(f"pipeline: running on {small:,} rows for the memory scaling")
            quarter = _run_child(
                "pipeline",
                [
                    *("--csv", str(small_csv), "--rows", str(small), "--seed", str(seed)),
                    *("--catalog", str(small_catalog), "--workdir", str(out)),
                ],
                env,
            )
            quarter["rows"] = small
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)

    floor_s = round(figures["floor"]["seconds"], 4)
    naive_s = round(figures["naive"]["seconds"], 4)
    pipeline_s = round(figures["pipeline"]["seconds"], 4)
    pii = figures["pii"]
    result: dict[str, Any] = {
        "rows": rows,
        "seed": seed,
        "columns": len(source.contract.columns),
        "expectations": len(all_rules(source.contract)),
        "pii_columns": sum(prop.pii is not None for prop in source.contract.columns),
        "csv_mb": round(meta["bytes"] / 1e6, 1),
        "generate_s": round(meta["generate_s"], 4),
        "generate_cached": cached,
        "floor_s": floor_s,
        "naive_s": naive_s,
        "pipeline_s": pipeline_s,
        "pipeline_vs_floor": _ratio(pipeline_s, floor_s),
        "naive_vs_pipeline": _ratio(naive_s, pipeline_s),
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
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
    }
    if quarter is not None:
        result["pipeline_quarter_rows"] = quarter["rows"]
        result["pipeline_quarter_s"] = round(quarter["seconds"], 4)
        result["pipeline_quarter_peak_rss_mb"] = round(quarter["peak_rss_mb"], 1)
        result["pipeline_rss_growth_4x"] = _ratio(figures["pipeline"]["peak_rss_mb"], quarter["peak_rss_mb"])
    result["targets"] = targets(result)
    if keep:
        result["workdir"] = str(root)
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


def _report_table(result: dict[str, Any]) -> Any:
    from rich.table import Table

    marks = {True: "[green]met[/green]", False: "[red]not met[/red]", None: "[dim]not measured[/dim]"}
    goal = result["targets"]
    table = Table(
        title=(
            f"lockgate bench: {result['rows']:,} rows × {result['columns']} columns, "
            f"{result['expectations']} expectations, {result['pii_columns']} PII columns"
        ),
        title_justify="left",
    )
    for column in ("measure", "value", "peak RSS (MB)", "target"):
        table.add_column(column)
    rss = result["peak_rss_mb"]
    cached = " (cached file)" if result["generate_cached"] else ""
    table.add_row("generate CSV", f"{result['generate_s']:.2f} s{cached}", "", f"{result['csv_mb']} MB")
    table.add_row("(a) floor: polars CSV → Parquet", f"{result['floor_s']:.2f} s", f"{rss['floor']:.0f}", "")
    table.add_row("(b) naive: pandas + GX + masking", f"{result['naive_s']:.2f} s", f"{rss['naive']:.0f}", "")
    table.add_row(
        "(c) lockgate pipeline (Prefect flow)", f"{result['pipeline_s']:.2f} s", f"{rss['pipeline']:.0f}", ""
    )
    steps = result["pipeline_steps_s"]
    table.add_row(
        "    by step (Prefect task run times)",
        ", ".join(f"{step} {seconds:.2f}" for step, seconds in steps.items()),
        "",
        f"orchestration {max(0.0, result['pipeline_s'] - sum(steps.values())):.2f} s",
    )
    table.add_row(
        f"(d) PII scan + mask, {result['pii_rows']:,} rows",
        f"{result['pii_scan_mask_rows_per_s']:,.0f} rows/s",
        f"{rss['pii']:.0f}",
        f"scan {result['pii_scan_s']:.2f} s, mask {result['pii_mask_s']:.2f} s",
    )
    table.add_row(
        "pipeline / floor",
        f"{result['pipeline_vs_floor']:.2f}×",
        "",
        f"≤ {TARGET_PIPELINE_VS_FLOOR} {marks[goal['pipeline_vs_floor']['met']]}",
    )
    table.add_row(
        "naive / pipeline",
        f"{result['naive_vs_pipeline']:.2f}×",
        "",
        f"≥ {TARGET_NAIVE_VS_PIPELINE} {marks[goal['naive_vs_pipeline']['met']]}",
    )
    growth = result.get("pipeline_rss_growth_4x")
    table.add_row(
        "pipeline memory, rows ×4",
        f"{growth:.2f}×" if growth is not None else "run with --scaling",
        f"{result['pipeline_quarter_peak_rss_mb']:.0f} → {rss['pipeline']:.0f}" if growth is not None else "",
        f"< {TARGET_RSS_GROWTH_4X} {marks[goal['pipeline_rss_growth_4x']['met']]}",
    )
    return table


def bench(
    rows: Annotated[int, typer.Option("--rows", min=100, help="Rows in the reference table.")] = DEFAULT_ROWS,
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir",
            help="Keep the run's catalogs, lakes and outputs here (default: a temp dir, removed).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = DEFAULT_SEED,
    cache_dir: Annotated[
        Path, typer.Option("--cache-dir", help="Where the generated CSV is cached between runs.")
    ] = DEFAULT_CACHE,
    scaling: Annotated[
        bool, typer.Option("--scaling", help="Also run the pipeline on rows/4 and report memory growth.")
    ] = False,
) -> None:
    """Measure the pipeline against a polars floor and a hand-written pandas + GX script.

    Every path runs in its own process (its peak memory is its own); the figures are measured, never
    estimated. The naive path is slow on purpose: it is the baseline.
    """
    from rich.console import Console

    from flows.bench_data import BenchDataError

    if output not in ("text", "json"):
        raise typer.BadParameter("use text or json", param_hint="--format")
    err = Console(stderr=True, soft_wrap=True)
    try:
        result = run_benchmark(
            rows,
            seed=seed,
            workdir=workdir,
            cache_dir=cache_dir,
            scaling=scaling,
            progress=lambda line: err.print(line, style="dim", markup=False, highlight=False),
        )
    except (BenchError, BenchDataError) as exc:
        # The message ends with a child's stderr, which may hold brackets: never read it as markup.
        err.print(f"bench failed: {exc}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    if output == "json":
        typer.echo(json.dumps(result, indent=2))
        return
    console = Console(soft_wrap=True)
    console.print(_report_table(result))
    console.print(
        f"Python {result['python']}, {result['cpu_count']} CPU(s). Seconds are wall time of the work "
        "only (imports excluded). The pipeline is the Prefect flow's call, timed after a warm-up run "
        f"on {WARMUP_ROWS:,} rows in the same process (ephemeral server start-up, imports and the NER "
        f"model load excluded; the warm-up took {result['pipeline_warmup_s']:.1f} s). Peak RSS is each "
        "path's own process; Prefect's ephemeral server runs in a process of its own and is not counted."
    )


if __name__ == "__main__":
    raise SystemExit(_child_main())
