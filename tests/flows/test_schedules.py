"""Schedules come from the passports: one deployment per source, plus the daily retention, served here
or run by a pool's workers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from croniter import croniter
from prefect import deploy
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments import run_deployment
from prefect.workers.process import ProcessWorker

from flows.schedules import (
    ENTRYPOINT,
    FRESHNESS_DEPLOYMENT,
    RETENTION_CRON,
    RETENTION_DEPLOYMENT,
    RETENTION_ENTRYPOINT,
    deployment_name,
    ingest_deployments,
    scheduled_deployments,
)
from flows.tags import source_tags
from sources.catalog import load_catalog
from storage.curated import current_version
from storage.store import open_store

pytestmark = pytest.mark.usefixtures("prefect_api")

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "examples" / "catalog"


def test_one_deployment_per_source_on_its_passport_schedule(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    deployments = {d.name: d for d in ingest_deployments(CATALOG, str(lake))}
    sources = load_catalog(CATALOG).sources
    assert set(deployments) == {deployment_name(s.name) for s in sources}
    for source in sources:
        deployment = deployments[deployment_name(source.name)]
        assert [s.schedule.cron for s in deployment.schedules] == [source.passport.cron]
        assert deployment.parameters == {
            "catalog": str(CATALOG.resolve()),
            "lake": str(lake.resolve()),
            "sources": [source.name],
        }
        assert deployment.tags == source_tags(source)  # lockgate, source:, owner:, sensitivity:, passport's
        assert "lockgate" in deployment.tags and f"source:{source.name}" in deployment.tags
    assert [s.schedule.cron for s in deployments["ingest-support-tickets"].schedules] == ["15 */6 * * *"]


def test_an_s3_lake_is_kept_as_given(tmp_path: Path) -> None:
    [first, *_] = ingest_deployments(CATALOG, "s3://lake/lockgate")
    assert first.parameters["lake"] == "s3://lake/lockgate"


def test_retention_is_scheduled_daily_beside_the_ingest_deployments(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    deployments = {d.name: d for d in scheduled_deployments(CATALOG, str(lake))}
    sources = load_catalog(CATALOG).sources
    assert set(deployments) == {deployment_name(s.name) for s in sources} | {
        RETENTION_DEPLOYMENT,
        FRESHNESS_DEPLOYMENT,
    }
    retention = deployments[RETENTION_DEPLOYMENT]
    assert [s.schedule.cron for s in retention.schedules] == [RETENTION_CRON]
    runs = croniter(RETENTION_CRON, datetime(2026, 1, 1, tzinfo=UTC))
    first, second = runs.get_next(datetime), runs.get_next(datetime)
    assert second - first == timedelta(days=1)  # once a day
    assert retention.parameters == {"catalog": str(CATALOG.resolve()), "lake": str(lake.resolve())}
    assert retention.tags == ["lockgate", "retention"]
    assert retention.concurrency_limit == 1


def test_a_work_pool_worker_runs_a_deployed_source(catalog: Path, tmp_path: Path, hash_key: bytes) -> None:
    """Deployed to a process work pool, a source's ingest is picked up and run by a Prefect worker."""
    pool = f"lockgate-test-{uuid.uuid4().hex[:8]}"
    lake = tmp_path / "lake"
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    deployments = scheduled_deployments(catalog, str(lake), work_pool=pool)
    ids = deploy(
        *deployments,
        work_pool_name=pool,
        build=False,
        push=False,
        print_next_steps_message=False,
        ignore_warnings=True,
    )
    with get_client(sync_client=True) as client:
        registered = {d.name: d for d in (client.read_deployment(i) for i in ids)}
    stores = registered[deployment_name("stores")]
    assert stores.work_pool_name == pool and stores.entrypoint == ENTRYPOINT
    assert [s.schedule.cron for s in stores.schedules] == [
        load_catalog(catalog).select(["stores"])[0].passport.cron
    ]
    assert stores.global_concurrency_limit is not None and stores.global_concurrency_limit.limit == 1
    retention = registered[RETENTION_DEPLOYMENT]
    assert retention.work_pool_name == pool and retention.entrypoint == RETENTION_ENTRYPOINT
    assert [s.schedule.cron for s in retention.schedules] == [RETENTION_CRON]

    run = run_deployment(f"lockgate-ingest/{deployment_name('stores')}", timeout=0)

    async def work() -> None:
        async with ProcessWorker(work_pool_name=pool) as worker:
            await worker.get_and_submit_flow_runs()

    asyncio.run(work())
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run.id).state
    assert state is not None and state.is_completed(), state
    published = current_version(open_store(str(lake)), "stores")
    assert published is not None and published.rows == 50
    assert current_version(open_store(str(lake)), "customers") is None  # only the deployed source ran
