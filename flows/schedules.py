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

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from prefect import Flow, deploy, serve

from contracts.expectations import check_contract
from flows.pipeline import ingest
from flows.retention import retention
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
                tags=["lockgate", source.name, f"sensitivity:{source.passport.sensitivity.value}"],
                concurrency_limit=1,
                work_pool_name=work_pool,
            ),
        )
        for source in loaded.sources
    ]


def retention_deployment(catalog: Path, lake: str, *, work_pool: str | None = None) -> RunnerDeployment:
    """The retention flow for the whole catalog, daily, one run at a time."""
    lake = lake if is_s3(lake) else str(Path(lake).resolve())
    flow: Flow[..., Any] = retention
    if work_pool is not None:
        flow = cast(
            "Flow[..., Any]", Flow.from_source(source=str(PROJECT_ROOT), entrypoint=RETENTION_ENTRYPOINT)
        )
    return cast(
        "RunnerDeployment",
        flow.to_deployment(
            name=RETENTION_DEPLOYMENT,
            cron=RETENTION_CRON,
            parameters={"catalog": str(catalog.resolve()), "lake": lake},
            description="Remove what each passport's retention_days no longer allows the lake to keep.",
            tags=["lockgate", "retention"],
            concurrency_limit=1,
            work_pool_name=work_pool,
        ),
    )


def scheduled_deployments(
    catalog: Path, lake: str, *, work_pool: str | None = None
) -> list[RunnerDeployment]:
    """Everything Lockgate runs on a schedule: each source's ingest, then the daily retention."""
    return [
        *ingest_deployments(catalog, lake, work_pool=work_pool),
        retention_deployment(catalog, lake, work_pool=work_pool),
    ]


def deploy_ingest(catalog: Path, lake: str, work_pool: str) -> list[RunnerDeployment]:
    """Register every scheduled deployment (`scheduled_deployments`) with `work_pool` on the Prefect
    server; the deployments."""
    deployments = scheduled_deployments(catalog, lake, work_pool=work_pool)
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
