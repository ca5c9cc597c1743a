"""`lockgate run --task-runner dask` as an operator runs it: real processes, real Dask, real Prefect.

A scheduler address that does not answer ends the command with one line naming it (exit 1, no
traceback) before any data moves. Without an address the command starts a local cluster, whose worker
processes report to the command's own temporary Prefect server (their partition task runs end up in the
same database as the flow run, read back after the command ended) and leave Ctrl-C to the command.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from prefect.settings import PREFECT_API_URL
from testkit.catalog_fixtures import HASH_KEY, REPO
from testkit.partitioned_catalog import split_customers
from testkit.prefect_server import free_port

from cli.errors import EXIT_FAILED

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

TIMEOUT = 300  # seconds: a cold process imports Prefect, Dask and Great Expectations on a shared machine
FILES = 3
WORKERS = 2


def _environment() -> dict[str, str]:
    """This process's environment without PREFECT_API_URL, with the masking key."""
    inherited = {name: value for name, value in os.environ.items() if name != "PREFECT_API_URL"}
    return {**inherited, "LOCKGATE_HASH_KEY": HASH_KEY, "COLUMNS": "200"}


def _lockgate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own, `env` added to `_environment()`."""
    return subprocess.run(
        [sys.executable, "-m", "cli.app", *args],
        cwd=REPO,
        env={**_environment(), **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_an_unreachable_scheduler_exits_1_naming_its_address(
    catalog: Path, tmp_path: Path, prefect_api: None
) -> None:
    split_customers(catalog, FILES)
    address = f"tcp://127.0.0.1:{free_port()}"  # bound, then released: connecting is refused
    lake = tmp_path / "lake"
    done = _lockgate(
        "run", "--catalog", str(catalog), "--lake", str(lake), "--task-runner", "dask",
        env={
            "LOCKGATE_DASK_ADDRESS": address,
            "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s",  # Dask's connect timeout, 30 s by default
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        },
    )  # fmt: skip
    assert done.returncode == EXIT_FAILED, done.stdout + done.stderr
    assert f"run failed: cannot reach the Dask scheduler at {address} (LOCKGATE_DASK_ADDRESS)" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (lake / "raw").exists()  # nothing landed: the cluster is reached before any data moves


def test_a_local_cluster_reports_to_the_commands_server_and_finishes_its_partitions_on_ctrl_c(
    catalog: Path, tmp_path: Path
) -> None:
    """No PREFECT_API_URL: the command's temporary server is the only API, and the workers must find it.

    Ctrl-C (SIGINT to the whole process group, workers included) while the mask partitions run: the
    workers finish them, the command stops at the next step boundary and exits 130, and every
    partition task run is recorded, completed, in the command's database (read after it ended).
    """
    split_customers(catalog, FILES)
    home = tmp_path / "prefect-home"
    args = ["run", "--catalog", str(catalog), "--lake", str(tmp_path / "lake"), "--source", "customers"]
    command = subprocess.Popen(
        [sys.executable, "-m", "cli.app", *args, "--task-runner", "dask", "--dask-workers", str(WORKERS)],
        cwd=REPO,
        env={**_environment(), "PREFECT_HOME": str(home), "PREFECT_LOGGING_LEVEL": "INFO"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    assert command.stderr is not None
    stderr: list[str] = []
    for line in command.stderr:  # the run's log, until the mask step starts
        stderr.append(line)
        if "customers: starting mask" in line:
            os.killpg(command.pid, signal.SIGINT)
            break
    else:
        pytest.fail("the run never started its mask step:\n" + "".join(stderr))
    out, rest = command.communicate(timeout=TIMEOUT)
    log = "".join(stderr) + rest
    assert command.returncode == 128 + signal.SIGINT, out + log
    assert "⏹ customers: interrupted before" in out
    assert "Traceback" not in log and "KeyboardInterrupt" not in log
    assert log.count("Starting temporary server") == 1  # the command's; no worker started one of its own

    with sqlite3.connect(home / "prefect.db") as db:
        rows = db.execute(
            "SELECT t.name, t.state_type, f.name FROM task_run t JOIN flow_run f ON t.flow_run_id = f.id"
        ).fetchall()
    assert len({flow for _, _, flow in rows}) == 1
    states = {name: state for name, state, _ in rows}
    for step, parts in (("read", FILES), ("mask", WORKERS)):  # a file per read, a slice per worker
        for number in range(1, parts + 1):
            assert states[f"{step}[customers:part-{number:04d}]"] == "COMPLETED"
    assert "publish[customers]" not in states
