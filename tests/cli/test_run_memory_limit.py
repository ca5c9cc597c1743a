"""`lockgate run --memory-limit` on a source whose file is four times that limit: it succeeds, and its
memory grows by less than three and a half times the file, where holding the batch whole takes four
and a half (measured on this file: 436 MB above the small run's footprint; staged, 157–267 MB).

Two real processes run the same benchmark-shaped source (17 columns, 8 of them personal data, masked by
hash, partial, redact, generalize and redact_pii): 1,000 rows for the process's own footprint (Prefect,
Great Expectations, polars), then 400,000 rows (≈97 MB) under a 24 MiB limit, staged on disk and worked
a window at a time. Each process's peak resident memory is read by a parent that only waits for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

from prefect.settings import PREFECT_API_URL
from testkit.catalog_fixtures import REPO
from typer.testing import CliRunner

from cli.app import app
from cli.errors import EXIT_INVALID
from lockgate_bench import catalog, data

if TYPE_CHECKING:
    from pathlib import Path

TIMEOUT = 600  # seconds: a cold process on a shared two-core machine
LIMIT = "24MiB"
ROWS = 400_000
# Runs argv[1:] and prints its peak resident memory in KiB: the only child this parent ever waits for.
PEAK = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(done.returncode)"
)


def _run(root: Path, rows: int, *options: str) -> tuple[dict[str, object], int, int]:
    """Generate `rows` rows and their catalog under `root`, ingest them; the run, its peak RSS, file size."""
    root.mkdir()
    csv = root / "customers.csv"
    data.write_customers_csv(csv, rows, seed=7)
    folder = catalog.write_catalog(root / "catalog", csv, seed=7)
    env = {
        **os.environ,
        "LOCKGATE_KEY_DEFAULT": "0" * 64,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
    }
    args = ["run", "--catalog", str(folder), "--lake", str(root / "lake"), "--format", "json", *options]
    done = subprocess.run(
        [sys.executable, "-c", PEAK, sys.executable, "-m", "cli.app", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return json.loads(done.stdout), peak_kib * 1024, csv.stat().st_size


def test_a_source_four_times_the_memory_limit_is_ingested_within_it(
    tmp_path: Path, prefect_api: None
) -> None:
    _, footprint, _ = _run(tmp_path / "small", 1_000)
    run, peak, size = _run(tmp_path / "large", ROWS, "--memory-limit", LIMIT)

    assert size > 4 * 24 * 2**20
    [source] = run["sources"]  # type: ignore[misc]
    assert (source["status"], source["rows_in"], source["rows_out"]) == ("published", ROWS, ROWS)
    assert source["pii_coverage"].startswith(f"every row ({ROWS})")
    grown = f"peak {peak / 2**20:.0f} MB, {footprint / 2**20:.0f} MB at 1,000 rows"
    assert peak - footprint < 3.5 * size, grown


def test_a_memory_limit_that_names_no_size_exits_2_before_any_work(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    result = CliRunner().invoke(app, ["run", "--lake", str(lake), "--memory-limit", "a lot"])
    assert result.exit_code == EXIT_INVALID
    assert "memory limit 'a lot': not a size (try 2GiB, 512MB or a number of bytes)" in result.output
    assert not lake.exists()
