"""`lockgate deploy --dry-run`: what would be registered, checked against the real work pool, nothing
registered; a missing work pool is named with the command that creates it, never a traceback."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import WorkPoolFilter, WorkPoolFilterName
from typer.testing import CliRunner

from cli.app import app
from flows.schedules import RETENTION_CRON, RETENTION_DEPLOYMENT, deployment_name

pytestmark = pytest.mark.usefixtures("prefect_api")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "catalog"
SOURCES = ("customers", "stores", "support_tickets")


def _pool() -> str:
    """A new process work pool on the session's Prefect server."""
    name = f"lockgate-dry-{uuid.uuid4().hex[:8]}"
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=name, type="process"))
    return name


def _deployed_to(pool: str) -> list[str]:
    with get_client(sync_client=True) as client:
        found = client.read_deployments(work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool])))
    return sorted(d.name for d in found)


def test_dry_run_lists_every_deployment_and_registers_none(tmp_path: Path) -> None:
    pool = _pool()
    lake = tmp_path / "lake"
    args = ["deploy", "--work-pool", pool, "--catalog", str(EXAMPLES), "--lake", str(lake), "--dry-run"]
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert f"would deploy {deployment_name('stores')} to work pool {pool}: cron 0 3 * * 1" in lines
    assert f"would deploy {RETENTION_DEPLOYMENT} to work pool {pool}: cron {RETENTION_CRON}" in lines

    as_json = CliRunner().invoke(app, [*args, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    rows = {row["name"]: row for row in json.loads(as_json.stdout)}
    assert set(rows) >= {*(deployment_name(s) for s in SOURCES), RETENTION_DEPLOYMENT}
    stores = rows[deployment_name("stores")]
    assert stores["work_pool"] == pool and stores["registered"] is False
    assert stores["parameters"] == {"catalog": str(EXAMPLES), "lake": str(lake), "sources": ["stores"]}
    assert stores["entrypoint"] == "flows/pipeline.py:ingest"
    assert _deployed_to(pool) == []  # nothing registered


def test_deploy_registers_what_the_dry_run_listed(tmp_path: Path) -> None:
    pool = _pool()
    args = ["deploy", "--work-pool", pool, "-c", str(EXAMPLES), "-l", str(tmp_path / "lake")]
    planned = CliRunner().invoke(app, [*args, "--dry-run", "--format", "csv"])
    assert planned.exit_code == 0, planned.output
    names = sorted(line.split(",")[0] for line in planned.stdout.splitlines()[1:])
    done = CliRunner().invoke(app, [*args, "--format", "json"])
    assert done.exit_code == 0, done.output
    assert all(row["registered"] for row in json.loads(done.stdout))
    assert _deployed_to(pool) == names


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_missing_work_pool_is_named_with_how_to_create_it(tmp_path: Path, dry_run: bool) -> None:
    pool = f"lockgate-missing-{uuid.uuid4().hex[:8]}"
    args = ["deploy", "--work-pool", pool, "-c", str(EXAMPLES), "-l", str(tmp_path / "lake")]
    result = CliRunner().invoke(app, [*args, "--dry-run"] if dry_run else args)
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    assert f"work pool '{pool}' does not exist" in result.stderr
    assert f"prefect work-pool create {pool} --type process" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert _deployed_to(pool) == []
