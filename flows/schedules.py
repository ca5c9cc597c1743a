"""Schedules from the passports: one Prefect deployment of the ingest flow per source, on its own cron,
and one of the retention flow, daily.

A passport's ``update_frequency`` (``daily``, a cron expression, …) is the only place an ingest schedule
is written; retention (each passport's ``retention_days``) runs once a day for the whole catalog.
``lockgate serve`` runs the deployments in one long-lived process with Prefect's runner (no worker or
work pool needed: the embedded default); ``lockgate deploy --work-pool NAME`` registers them with a
work pool instead, so Prefect workers (process, Docker, Kubernetes) wherever they run pick the runs
up. Scaling out is Prefect's job: Lockgate only says what runs when.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from prefect import Flow, deploy, serve

from contracts.expectations import check_contract
from flows.errors import WorkPoolError
from flows.freshness import freshness
from flows.pipeline import ingest
from flows.retention import retention
from flows.tags import source_tags
from sources.catalog import load_catalog
from storage.layout import is_s3

if TYPE_CHECKING:
    from collections.abc import Sequence

    from prefect.deployments.runner import RunnerDeployment

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ENTRYPOINT = "flows/pipeline.py:ingest"
RETENTION_ENTRYPOINT = "flows/retention.py:retention"
RETENTION_DEPLOYMENT = "retention"
# Daily at 02:30 UTC: half an hour before the passports' ``daily`` ingest (03:00), so the two rarely
# overlap (retention keeps what a landing reuses, but a landing in progress is not yet in a manifest).
RETENTION_CRON = "30 2 * * *"
FRESHNESS_ENTRYPOINT = "flows/freshness.py:freshness"
FRESHNESS_DEPLOYMENT = "freshness"
# Every 15 minutes: a late source is announced within a quarter of an hour of its grace running out
# (`flows.freshness`); each check reads one run record per source.
FRESHNESS_CRON = "*/15 * * * *"


def deployment_name(source: str) -> str:
    return f"ingest-{source.replace('_', '-')}"


def ingest_deployments(catalog: Path, lake: str, *, work_pool: str | None = None) -> list[RunnerDeployment]:
    """One deployment per source: the ingest flow for that source alone, at its passport's schedule.

    Each deployment runs at most one flow run at a time, so a slow run is never overtaken by the next
    one of the same source. With a work pool, the flow is loaded by workers from this project's folder
    (``PROJECT_ROOT``), which must be present where they run (a shared checkout or an image of it).
    """
    loaded = load_catalog(catalog, check=check_contract)
    root = str(catalog.resolve())
    lake = lake if is_s3(lake) else str(Path(lake).resolve())  # runs start in other working directories
    flow: Flow[..., Any] = ingest
    if work_pool is not None:
        flow = cast("Flow[..., Any]", Flow.from_source(source=str(PROJECT_ROOT), entrypoint=ENTRYPOINT))
    # Called outside an event loop, from_source and to_deployment return their results, not coroutines.
    return [
        cast(
            "RunnerDeployment",
            flow.to_deployment(
                name=deployment_name(source.name),
                cron=source.passport.cron,
                parameters={"catalog": root, "lake": lake, "sources": [source.name]},
                description=f"{source.passport.title}: {source.passport.purpose}",
                tags=source_tags(source),  # the same as its runs' (`flows.tags`)
                concurrency_limit=1,
                work_pool_name=work_pool,
            ),
        )
        for source in loaded.sources
    ]


def _catalog_deployment(
    flow: Flow[..., Any],
    entrypoint: str,
    catalog: Path,
    lake: str,
    *,
    name: str,
    cron: str,
    description: str,
    work_pool: str | None,
) -> RunnerDeployment:
    """A whole-catalog flow on its cron, one run at a time; from the project's folder for a work pool."""
    lake = lake if is_s3(lake) else str(Path(lake).resolve())
    if work_pool is not None:
        flow = cast("Flow[..., Any]", Flow.from_source(source=str(PROJECT_ROOT), entrypoint=entrypoint))
    return cast(
        "RunnerDeployment",
        flow.to_deployment(
            name=name,
            cron=cron,
            parameters={"catalog": str(catalog.resolve()), "lake": lake},
            description=description,
            tags=["lockgate", name],
            concurrency_limit=1,
            work_pool_name=work_pool,
        ),
    )


def retention_deployment(catalog: Path, lake: str, *, work_pool: str | None = None) -> RunnerDeployment:
    """The retention flow for the whole catalog, daily."""
    return _catalog_deployment(
        retention,
        RETENTION_ENTRYPOINT,
        catalog,
        lake,
        name=RETENTION_DEPLOYMENT,
        cron=RETENTION_CRON,
        description="Remove what each passport's retention_days no longer allows the lake to keep.",
        work_pool=work_pool,
    )


def freshness_deployment(catalog: Path, lake: str, *, work_pool: str | None = None) -> RunnerDeployment:
    """The freshness check for the whole catalog, every 15 minutes."""
    return _catalog_deployment(
        freshness,
        FRESHNESS_ENTRYPOINT,
        catalog,
        lake,
        name=FRESHNESS_DEPLOYMENT,
        cron=FRESHNESS_CRON,
        description="Emit lockgate.source.late once for each due time a source missed.",
        work_pool=work_pool,
    )


def scheduled_deployments(
    catalog: Path, lake: str, *, work_pool: str | None = None
) -> list[RunnerDeployment]:
    """Everything Lockgate runs on a schedule: each source's ingest, the daily retention, the freshness
    check."""
    return [
        *ingest_deployments(catalog, lake, work_pool=work_pool),
        retention_deployment(catalog, lake, work_pool=work_pool),
        freshness_deployment(catalog, lake, work_pool=work_pool),
    ]


def check_work_pool(name: str) -> str:
    """The type of work pool `name` on the Prefect server (a read, nothing created), or `WorkPoolError`
    naming it and how to create it: a deployment to a missing pool would wait for workers forever."""
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    server = PREFECT_API_URL.value() or "Prefect's ephemeral API (PREFECT_API_URL is not set)"
    try:
        with get_client(sync_client=True) as client:
            return client.read_work_pool(name).type
    except ObjectNotFound:
        raise WorkPoolError(
            f"work pool '{name}' does not exist on {server}: create it with "
            f"`prefect work-pool create {name} --type process` (then start a worker with "
            f"`prefect worker start --pool {name}`), or name another with --work-pool"
        ) from None
    except (httpx.HTTPError, OSError) as exc:  # unreachable server, refused request: say which
        raise WorkPoolError(f"cannot look up work pool '{name}' on {server}: {exc}") from None


def deploy_ingest(
    catalog: Path, lake: str, work_pool: str, *, dry_run: bool = False
) -> list[RunnerDeployment]:
    """Register every scheduled deployment (`scheduled_deployments`) with `work_pool` on the Prefect
    server, once the pool is known to exist; the deployments. `dry_run`: check the pool, register nothing."""
    deployments = scheduled_deployments(catalog, lake, work_pool=work_pool)
    check_work_pool(work_pool)
    if dry_run:
        return deployments
    # Prefect prints its own table of what it registered on stdout: to stderr with it, so stdout holds
    # only what the command prints (one JSON document with --format json).
    with contextlib.redirect_stdout(sys.stderr):
        deploy(
            *deployments,
            work_pool_name=work_pool,
            build=False,
            push=False,
            print_next_steps_message=False,
            ignore_warnings=True,
        )
    return deployments


def serve_ingest(deployments: Sequence[RunnerDeployment]) -> None:
    """Run `deployments` on their schedules in this process until interrupted."""
    serve(*deployments, print_starting_message=True)
