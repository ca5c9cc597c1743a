"""What killed runs and a full disk leave behind, seen from `lockgate run`.

The killed run is a real `lockgate run` process, sent SIGKILL while it copies a large customers file
(its working snapshot exists): no cleanup of its own runs. The full disk is a real small tmpfs
holding the lake (needs root to mount; skipped without).
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
from prefect.settings import PREFECT_API_URL
from typer.testing import CliRunner

from cli.app import app
from storage import layout

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("prefect_api")


def _holding(folder: Path, header: bytes) -> list[str]:
    """Files under `folder` that start like the customers file, and Lockgate's own entries there."""
    named = [p.name for p in folder.glob("lockgate-*")]
    with_data = [
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and header in p.read_bytes()[: 1 << 16]
    ]
    return named + with_data


def _snapshots(lake: Path, shared: Path) -> list[Path]:
    """The customers snapshot being landed, wherever a run keeps it: the lake's working area, or the
    run's shared temporary folder (where it must not be)."""
    work = layout.work_root(str(lake))
    found = list(work.glob("*/land-customers-*/customers.csv")) if work.is_dir() else []
    return found + list(shared.glob("lockgate-land-*/customers.csv"))


def test_a_run_killed_while_landing_leaves_no_data_in_shared_temp_and_the_rerun_sweeps(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    lake = tmp_path / "lake"
    data = catalog / "data" / "customers.csv"
    original = data.read_bytes()
    header, _, rows = original.partition(b"\n")
    data.write_bytes(header + b"\n" + rows * 120)  # ~58 MB: landing takes long enough to be caught
    # The run's own shared temporary folder: what it writes there is told apart from other processes'.
    shared = tmp_path / "shared-tmp"
    shared.mkdir()

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "TMPDIR": str(shared)}
    command = [sys.executable, "-m", "cli.app", "run", "--catalog", str(catalog), "--lake", str(lake)]
    process = subprocess.Popen(
        [*command, "--source", "customers"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 240
    while not _snapshots(lake, shared) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.0005)
    assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL

    # Nothing of the run is in the shared temporary folder; its snapshot stays in the lake, owner-only.
    assert _holding(shared, header) == []
    work = layout.work_root(str(lake))
    [left] = list(work.iterdir())
    [snapshot] = list(left.glob("land-customers-*/customers.csv"))
    assert stat.S_IMODE(left.stat().st_mode) == 0o700
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600

    # The next run removes what the killed one left, then its own working folder when it ends.
    data.write_bytes(original)
    rerun = CliRunner().invoke(app, [*command[3:], "--source", "customers"])
    assert rerun.exit_code == 0, rerun.output
    assert not work.exists()
    assert [p for p in lake.rglob(".lockgate-tmp-*")] == []
    assert _holding(shared, header) == []


@pytest.fixture
def small_lake(tmp_path: Path) -> Iterator[Path]:
    """A lake on a real 256 KiB filesystem: the customers file (476 KiB) does not fit."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); tests/storage/test_workdir.py uses /dev/full")
    try:
        yield mount / "lake"
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_names_the_step_and_the_cause_and_leaves_nothing_half_made(
    catalog: Path, small_lake: Path, hash_key: bytes
) -> None:
    result = CliRunner().invoke(
        app,
        ["run", "--catalog", str(catalog), "--lake", str(small_lake), "--source", "customers"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 1, result.output
    assert (
        "customers: land: no space left on device while landing customers.csv of customers" in result.output
    )
    assert not (small_lake / "raw" / "customers").exists()  # no empty run folder, none without a manifest
    assert not layout.work_root(str(small_lake)).exists()
    assert [p.name for p in small_lake.iterdir() if p.name.endswith(".wal")] == []
    assert [p for p in small_lake.rglob(".lockgate-tmp-*")] == []
