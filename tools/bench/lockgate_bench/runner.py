"""The parent side of the benchmark: make the reference data, run each path in its own process, collect.

Each path runs in its own Python process (``python -m lockgate_bench --path ...``) so that its peak
resident memory (``ru_maxrss`` of that process) is its own and not the largest seen so far; the child
prints one JSON line that the parent collects. Paths run one after another (never side by side) so they
do not share the cores, and the CSV is read once before the first path so that every path finds it in
the page cache. The pipeline is timed on its second run in its process, after a warm-up run on a small
catalog that starts Prefect's ephemeral server and loads the NER model.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockgate_bench import catalog, data, report, report_sources
from lockgate_bench.errors import BenchDataError, BenchError
from lockgate_bench.paths import KEY_ENV, NAIVE_MAX_ROWS, PATHS, RESULT_MARKER, meta_path

if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_ROWS = 5_000_000
DEFAULT_SOURCE_ROWS = 1_000  # each source's rows with --sources
NAIVE_SKIPPED = f"above {NAIVE_MAX_ROWS:,} rows"
DEFAULT_SEED = data.DEFAULT_SEED
DEFAULT_CACHE = Path(".lockgate") / "bench"
PII_MAX_ROWS = 1_000_000
STDERR_TAIL_LINES = 40


def _import_roots() -> list[str]:
    """The folders this process imports `lockgate_bench` and Lockgate's packages from."""
    import flows
    import lockgate_bench

    files = (lockgate_bench.__file__, flows.__file__)
    return sorted({str(Path(f).resolve().parents[1]) for f in files if f is not None})


def child_env(key: str) -> dict[str, str]:
    """The children's environment: a throw-away masking key, the parent's code importable, Prefect's API.

    Under a running Prefect API (a server, or the test harness, which sets it in-process only) the
    children use it; otherwise each flow-running child starts its own ephemeral server, as the CLI does.
    """
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ)
    env[KEY_ENV] = key
    env["PYTHONPATH"] = os.pathsep.join(p for p in (*_import_roots(), env.get("PYTHONPATH", "")) if p)
    env.setdefault("GX_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # A child's ephemeral server starts slowly on a busy machine; Prefect's default wait (20 s) is short.
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    api = PREFECT_API_URL.value()
    if api:
        env["PREFECT_API_URL"] = str(api)
    return env


def run_child(path: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run one path in a fresh interpreter and return the figures it printed."""
    command = [sys.executable, "-m", "lockgate_bench", "--path", path, *args]
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
    csv = cache_dir / f"{rows}-{seed}.csv"
    meta_file = meta_path(csv)
    if csv.is_file() and meta_file.is_file():
        meta: dict[str, Any] = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("generator") == data.GENERATOR_VERSION and meta.get("bytes") == csv.stat().st_size:
            return csv, meta, True
    cache_dir.mkdir(parents=True, exist_ok=True)
    progress(f"generating {rows:,} rows (seed {seed}) into {csv}")
    meta = run_child("generate", ["--csv", str(csv), "--rows", str(rows), "--seed", str(seed)], env)
    return csv, meta, False


def _warm_page_cache(path: Path) -> None:
    """Read the file once so no path pays for a cold disk that the next one does not."""
    with path.open("rb") as handle:
        while handle.read(16 * 1024 * 1024):
            pass


def _run_paths(
    csv: Path,
    catalog_root: Path,
    root: Path,
    rows: int,
    seed: int,
    env: dict[str, str],
    progress: Callable[[str], None],
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Every path on the reference data, one process after another: the figures by path, and the skipped.

    The naive path is skipped above `NAIVE_MAX_ROWS` rows (pandas and GX hold several copies of the frame:
    more memory than the machine has at 20M rows).
    """
    _warm_page_cache(csv)
    figures: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for path in PATHS:
        if path == "naive" and rows > NAIVE_MAX_ROWS:
            skipped[path] = NAIVE_SKIPPED
            progress(f"naive: skipped, {NAIVE_SKIPPED}")
            continue
        out = root / path
        out.mkdir()
        path_rows = min(rows, PII_MAX_ROWS) if path == "pii" else rows
        args = ["--csv", str(csv), "--rows", str(path_rows), "--seed", str(seed)]
        args += ["--catalog", str(catalog_root), "--workdir", str(out)]
        progress(f"{path}: running on {rows:,} rows" if path != "pii" else "pii: mask + PII gate")
        figures[path] = run_child(path, args, env)
        progress(f"{path}: {figures[path]['seconds']:.2f} s, peak {figures[path]['peak_rss_mb']:.0f} MB")
    return figures, skipped


def _run_quarter(
    cache_dir: Path, root: Path, rows: int, seed: int, env: dict[str, str], progress: Callable[[str], None]
) -> dict[str, Any]:
    """The pipeline on a quarter of the rows, for how its memory grows with the input."""
    small = max(1, rows // 4)
    small_csv, _, _ = reference_csv(cache_dir, small, seed, env, progress)
    small_catalog = catalog.write_catalog(root / "catalog-quarter", small_csv, seed)
    out = root / "pipeline-quarter"
    out.mkdir()
    _warm_page_cache(small_csv)
    progress(f"pipeline: running on {small:,} rows for the memory scaling")
    args = ["--csv", str(small_csv), "--rows", str(small), "--seed", str(seed)]
    quarter = run_child("pipeline", [*args, "--catalog", str(small_catalog), "--workdir", str(out)], env)
    quarter["rows"] = small
    return quarter


def _work_root(workdir: Path | None) -> Path:
    """A temporary folder (removed by the caller), or a new ``bench-<time>`` folder under `workdir`."""
    if workdir is None:
        return Path(tempfile.mkdtemp(prefix="lockgate-bench-"))
    root = workdir / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
    root.mkdir(parents=True)
    return root


def run_benchmark(
    rows: int = DEFAULT_ROWS,
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
    from sources.catalog import load_catalog

    data.check_request(rows, seed)
    load_before = os.getloadavg()[0]  # other work on the machine skews every figure: say how busy it was
    env = child_env(secrets.token_hex(32))
    csv, meta, cached = reference_csv(cache_dir, rows, seed, env, progress)
    root = _work_root(workdir)
    try:
        catalog_root = catalog.write_catalog(root / "catalog", csv, seed)
        (source,) = load_catalog(catalog_root).sources
        figures, skipped = _run_paths(csv, catalog_root, root, rows, seed, env, progress)
        quarter = _run_quarter(cache_dir, root, rows, seed, env, progress) if scaling else None
    finally:
        if workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    measured = report.Measured(
        rows=rows,
        seed=seed,
        contract=source.contract,
        csv_meta=meta,
        csv_cached=cached,
        paths=figures,
        quarter=quarter,
        load_average_1m=(load_before, os.getloadavg()[0]),
        skipped=skipped,
    )
    result = report.summarise(measured)
    if workdir is not None:
        result["workdir"] = str(root)
    return result


def run_sources(
    sources: int,
    rows: int = DEFAULT_SOURCE_ROWS,
    *,
    seed: int = DEFAULT_SEED,
    workdir: Path | None = None,
    cache_dir: Path = DEFAULT_CACHE,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """One ingest run over `sources` sources of `rows` rows each, in a child process; its figures.

    The sources are slices of one cached reference CSV of ``sources * rows`` rows
    (`catalog.write_sources_catalog`); the work folder is kept or removed as in `run_benchmark`.
    """
    if sources < 1:
        raise BenchDataError(f"--sources needs at least one source, not {sources}")
    data.check_request(rows, seed)
    load_before = os.getloadavg()[0]
    env = child_env(secrets.token_hex(32))
    csv, meta, cached = reference_csv(cache_dir, sources * rows, seed, env, progress)
    root = _work_root(workdir)
    try:
        catalog_root = catalog.write_sources_catalog(root / "catalog", csv, seed, sources, rows)
        out = root / "sources"
        out.mkdir()
        progress(f"sources: one run of {sources} sources × {rows:,} rows")
        args = ["--csv", str(csv), "--rows", str(rows), "--seed", str(seed)]
        figures = run_child("sources", [*args, "--catalog", str(catalog_root), "--workdir", str(out)], env)
        progress(f"sources: {figures['seconds']:.2f} s, peak {figures['run_peak_rss_mb'] or 0:.0f} MB")
    finally:
        if workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    result = report_sources.summarise_sources(figures, meta, cached, (load_before, os.getloadavg()[0]))
    if workdir is not None:
        result["workdir"] = str(root)
    return result
