"""The flow process dies by SIGKILL mid-publish: the lake stays consistent and a re-run converges."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
from prefect.settings import PREFECT_API_URL

from flows.pipeline import ingest
from storage.curated import current_version, list_versions, read_current
from storage.store import open_store

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("prefect_api")


def _bump_lifetime_values(catalog: Path) -> None:
    path = catalog / "data" / "customers.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows[:50]:
        row["lifetime_value"] = f"{float(row['lifetime_value']) + 1:.2f}"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_sigkill_during_publish_leaves_old_or_new_version_and_rerun_converges(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    lake = tmp_path / "lake"
    ingest(catalog=str(catalog), lake=str(lake), sources=["customers"])
    store = open_store(str(lake))
    first = current_version(store, "customers")
    assert first is not None
    _bump_lifetime_values(catalog)

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    command = [sys.executable, "-m", "cli.app", "run", "--catalog", str(catalog), "--lake", str(lake)]
    process = subprocess.Popen(
        [*command, "--source", "customers"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    table = lake / "curated" / "customers"
    files_before = set(table.glob("*.parquet"))
    deadline = time.monotonic() + 240
    # Kill the moment the publish has written a data file, before (or while) it commits.
    while (
        not set(table.glob("*.parquet")) - files_before
        and process.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.0005)
    assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL

    # Whatever moment the kill hit, readers see one complete version: the old one or the new one.
    current = current_version(store, "customers")
    assert current is not None
    assert current.version in (0, 1)
    assert read_current(store, "customers").height == current.rows == first.rows

    # A re-run converges: the new input is published exactly once and is current.
    ingest(catalog=str(catalog), lake=str(lake), sources=["customers"])
    final = current_version(store, "customers")
    assert final is not None
    assert final.input_sha256 != first.input_sha256
    same_input = [v for v in list_versions(store, "customers") if v.input_sha256 == final.input_sha256]
    assert [v.version for v in same_input] == [final.version]
    assert read_current(store, "customers").height == first.rows
