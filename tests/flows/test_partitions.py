"""A source of several files runs as partitions, on threads or on Dask workers, with the same outcome.

The example customers arrive as four CSV files with one id in two of them. Each file is read in its own
task (and on Dask the rows are masked in slices, one per worker), while the row count (at least 1,000
rows, more than any one file holds), the uniqueness quarantine and the PII gate judge the four files
together. The run with the thread runner and the run on a local Dask cluster of two worker processes
must publish the same curated rows, quarantine the same rows and report the same, and the Dask workers'
task runs must reach the flow's own Prefect API. One cluster serves the module, reached through
LOCKGATE_DASK_ADDRESS as a cluster elsewhere would be.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
from typing import TYPE_CHECKING

import polars as pl
import pytest
from distributed import LocalCluster
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterName
from prefect.settings import PREFECT_API_URL
from testkit.partitioned_catalog import (
    RUN_SPECIFIC,
    UNIQUE_RULE,
    rows_checksum,
    run_customers,
    split_customers,
)

from flows.results import SourceStatus
from storage.curated import read_current
from storage.quarantine import read_quarantine
from storage.store import open_store

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

FILES = 4
WORKERS = 2  # one thread each: rows are masked in two slices, one per worker
DUPLICATE = (1, 1200)  # row 1200 (the third file) takes the id of row 1 (the first file)


@pytest.fixture(scope="module")
def dask_scheduler(prefect_api: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local cluster of two worker processes whose environment names the session's Prefect API."""
    env = {"PREFECT_API_URL": str(PREFECT_API_URL.value()), "PREFECT_SERVER_EPHEMERAL_ENABLED": "false"}
    with LocalCluster(
        n_workers=WORKERS,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        local_directory=str(tmp_path_factory.mktemp("dask")),
        env=env,
    ) as cluster:
        yield cluster.scheduler_address


def _task_runs(run_id: str) -> dict[str, str]:
    """Task run name → state name, for the flow run Lockgate named `run_id`."""
    with get_client(sync_client=True) as client:
        [flow_run] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[run_id]))
        )
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])), limit=200
        )
    return {t.name: str(t.state_name) for t in runs}


def test_threads_and_dask_workers_publish_quarantine_and_report_the_same(
    catalog: Path, tmp_path: Path, hash_key: bytes, dask_scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    split_customers(catalog, FILES, duplicate=DUPLICATE)
    rows = _split_rows(catalog)
    threads, by_threads = run_customers(catalog, tmp_path / "lake-threads")
    monkeypatch.setenv("LOCKGATE_DASK_ADDRESS", dask_scheduler)
    dask, by_dask = run_customers(catalog, tmp_path / "lake-dask", task_runner="dask")

    # The table-level rules saw the four files as one batch.
    for result in (by_threads, by_dask):
        assert result.status is SourceStatus.PUBLISHED, result.error
        assert (result.rows_in, result.rows_quarantined, result.rows_out) == (len(rows), 2, len(rows) - 2)
        rules = {e.rule_id: e for e in result.expectations}
        assert rules["customers_row_count"].success  # 2,000 rows together; no file holds 1,000
        assert (rules[UNIQUE_RULE].action, rules[UNIQUE_RULE].unexpected_count) == ("quarantine", 2)

    # The same report, rule by rule and count by count.
    assert by_dask.model_dump(exclude=RUN_SPECIFIC) == by_threads.model_dump(exclude=RUN_SPECIFIC)

    # The same curated rows, masked alike whichever partition a row was in.
    curated_threads = read_current(open_store(str(tmp_path / "lake-threads")), "customers")
    curated_dask = read_current(open_store(str(tmp_path / "lake-dask")), "customers")
    assert curated_dask.height == len(rows) - 2
    assert rows_checksum(curated_dask, "customer_id") == rows_checksum(curated_threads, "customer_id")
    last = rows[-1]  # a row of the fourth file, masked by a Dask worker
    row = curated_dask.filter(pl.col("customer_id") == int(last["customer_id"])).row(0, named=True)
    assert row["email"] == hmac.new(hash_key, last["email"].encode(), hashlib.sha256).hexdigest()

    # The same quarantine: both rows of the id found in two files, numbered in the whole batch.
    held_threads = read_quarantine(open_store(str(tmp_path / "lake-threads")), "customers", threads.run_id)
    held_dask = read_quarantine(open_store(str(tmp_path / "lake-dask")), "customers", dask.run_id)
    assert held_dask.get_column("_lockgate_row").sort().to_list() == [DUPLICATE[0] + 1, DUPLICATE[1] + 1]
    assert rows_checksum(held_dask, "_lockgate_row") == rows_checksum(held_threads, "_lockgate_row")

    # Every partition's task run was recorded in the flow's own API, by the workers for the Dask run:
    # files read on both runners, rows masked in a slice per worker on Dask; one PII gate for the batch.
    for run, parts in ((threads, {"read": FILES}), (dask, {"read": FILES, "mask": WORKERS})):
        states = _task_runs(run.run_id)
        for step in ("read", "mask", "pii-gate"):
            ran = {name: state for name, state in states.items() if name.startswith(f"{step}[customers:")}
            expected = range(1, parts.get(step, 0) + 1)
            assert ran == {f"{step}[customers:part-{n:04d}]": "Completed" for n in expected}
            assert states[f"{step}[customers]"] == "Completed"


def test_a_file_a_worker_cannot_parse_fails_the_source_naming_the_file(
    catalog: Path, tmp_path: Path, hash_key: bytes, dask_scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parser's error crosses from the worker process to the flow: the file, the line, no value."""
    files = split_customers(catalog, FILES)
    text = files[2].read_bytes()
    cut = text.index(b"\n", len(text) // 2) + 1
    files[2].write_bytes(text[:cut] + b"\xff\xfe broken\n" + text[cut:])
    monkeypatch.setenv("LOCKGATE_DASK_ADDRESS", dask_scheduler)
    _, customers = run_customers(catalog, tmp_path / "lake", task_runner="dask")
    assert customers.status is SourceStatus.FAILED
    assert customers.error is not None
    assert "customers-3.csv:" in customers.error
    assert "invalid utf-8 byte sequence" in customers.error


def _split_rows(catalog: Path) -> list[dict[str, str]]:
    """Every row of the split customers files, in file order (the first file's rows first)."""
    rows: list[dict[str, str]] = []
    for path in sorted((catalog / "data").glob("customers-*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            rows.extend(csv.DictReader(f))
    return rows
