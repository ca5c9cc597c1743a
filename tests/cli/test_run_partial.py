"""A real `lockgate run` process where one source stops on its rules and another publishes: exit code 1,
the summary on stdout, no traceback on stderr, and in the Prefect API a flow run named for what
happened whose task runs all ended."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterName
from prefect.settings import PREFECT_API_URL
from testkit.catalog_fixtures import HASH_KEY, REPO, rewrite_customers

from cli.errors import EXIT_FAILED

if TYPE_CHECKING:
    from pathlib import Path

TIMEOUT = 300  # seconds: a cold process imports Prefect and Great Expectations on a shared machine


def test_a_partial_run_exits_1_with_a_summary_and_no_traceback(
    catalog: Path, tmp_path: Path, prefect_api: None
) -> None:
    rewrite_customers(catalog, {0: {"lifetime_value": "-1"}})
    env = {
        **os.environ,
        "LOCKGATE_HASH_KEY": HASH_KEY,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),  # the session's server, read back below
        "PREFECT_LOGGING_LEVEL": "INFO",
        "COLUMNS": "200",
    }
    args = ["run", "--catalog", str(catalog), "--lake", str(tmp_path / "lake")]
    done = subprocess.run(
        [sys.executable, "-m", "cli.app", *args, "--source", "customers", "--source", "stores"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )

    assert done.returncode == EXIT_FAILED, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert "⛔ customers: stop-line" in done.stdout  # the summary, once, on stdout
    summary = "1 of 2 sources published; stopped: customers (rules)"
    assert f"Finished in state Partially published('{summary}', type=FAILED)" in done.stderr
    assert "Encountered exception" not in done.stderr  # the run ends in a state, nothing is raised

    match = re.search(r"Lockgate run (\d{8}T\d{6}Z-[0-9a-f]{8})", done.stdout)
    assert match, done.stdout
    with get_client(sync_client=True) as client:
        [flow_run] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[match.group(1)]))
        )
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])), limit=200
        )
    assert flow_run.state is not None
    assert (flow_run.state.name, flow_run.state.message) == ("Partially published", summary)
    assert {"lockgate", "source:customers", "source:stores"} <= set(flow_run.tags)
    ended = {t.name: t.state_name for t in task_runs if t.state is not None and t.state.is_final()}
    assert len(ended) == len(task_runs)  # none left pending or running
    assert ended["validate[customers]"] == "Failed"
    assert "mask[customers]" not in ended and ended["publish[stores]"] == "Completed"
