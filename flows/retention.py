"""The retention flow: enforce each passport's ``retention_days`` on the lake, once a day.

The catalog says how long each source may be kept; storage (:mod:`storage.retention`) decides what
has expired, removes it and writes the audit log. The actor in that log is the ``user`` setting
(``LOCKGATE_USER``, default the OS user), read where the flow runs, since a scheduled run has no one
at a terminal. Sources in the lake that the catalog no longer lists are left alone: without a passport
there is no retention to apply.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from contracts.data_docs import rebuild_index
from flows.errors import RetentionIncomplete
from flows.runs import IO_RETRIES, IO_RETRY_DELAYS, new_run_id
from flows.settings import current_settings
from sources.catalog import Catalog, load_catalog
from storage.retention import LayerRetention, RetentionReport, apply_retention
from storage.store import open_store


def retention_days(catalog: Catalog) -> dict[str, int]:
    """Source → the days its passport allows the lake to keep it."""
    return {source.name: source.passport.retention_days for source in catalog.sources}


@task(name="apply-retention", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAYS, cache_policy=NO_CACHE)
def retention_task(
    lake: str, source: str, days: int, actor: str, now: datetime, dry_run: bool
) -> RetentionReport:
    """One source: a retry plans again from what the lake holds, so it never removes anything twice."""
    return apply_retention(open_store(lake), {source: days}, actor=actor, now=now, dry_run=dry_run)


@task(
    name="rebuild-docs-index", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAYS, cache_policy=NO_CACHE
)
def rebuild_docs_task(lake: str) -> int:
    """The Data Docs index lists only what the lake still keeps, once retention removed runs' pages."""
    return rebuild_index(open_store(lake))


@flow(name="lockgate-retention", flow_run_name=new_run_id)
def retention(
    catalog: str, lake: str = "lake", dry_run: bool = False, now: datetime | None = None
) -> RetentionReport:
    """Remove (or, with `dry_run`, list) what every catalogued source has kept past its retention.

    `now` is the moment ages are measured from (default: the clock), so an operator can see what a
    later date would remove, and tests can age a lake without waiting. Raises `RetentionIncomplete`,
    carrying the report, when some layer could not be read or removed.
    """
    days = retention_days(load_catalog(Path(catalog)))
    actor = current_settings().user
    moment = now or datetime.now(UTC)
    layers: list[LayerRetention] = []
    for source, keep in sorted(days.items()):
        layers.extend(retention_task(lake, source, keep, actor, moment, dry_run).layers)
    if not dry_run and any(layer.layer == "docs" and layer.removed for layer in layers):
        rebuild_docs_task(lake)
    report = RetentionReport(now=moment, dry_run=dry_run, layers=layers)
    verb = "would free" if dry_run else "freed"
    get_run_logger().info(
        "retention as of %s: %s %d object(s), %d bytes",
        moment.isoformat(),
        verb,
        report.objects,
        report.bytes,
    )
    create_markdown_artifact(key="lockgate-retention", markdown=retention_markdown(report))
    if not report.ok:
        raise RetentionIncomplete(report)
    return report


def retention_markdown(report: RetentionReport) -> str:
    """The report as a Prefect artifact: one row per source and layer that had anything expired."""
    title = "Retention (dry run)" if report.dry_run else "Retention"
    lines = [
        f"# {title} as of {report.now.isoformat()}",
        "",
        "| source | layer | objects | bytes | kept | problem |",
        "|---|---|---|---|---|---|",
    ]
    for layer in report.layers:
        if layer.removed or layer.kept or layer.error:
            problem = (layer.error or "").replace("|", "\\|")
            lines.append(
                f"| {layer.source} | {layer.layer} | {layer.objects} | {layer.bytes} | {len(layer.kept)} "
                f"| {problem} |"
            )
    lines += ["", f"Total: {report.objects} object(s), {report.bytes} bytes."]
    return "\n".join(lines)
