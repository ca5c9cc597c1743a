"""``lockgate run``, ``serve`` and ``deploy``: the ingest flow now, on its schedules here, or by workers.

Output names sources, rules, counts and keys; data values never reach the terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import EXIT_FAILED, EXIT_INVALID, exit_on_failure
from cli.flow_runner import run_flow
from cli.options import DEFAULT_CATALOG, DEFAULT_LAKE, CatalogOption, LakeOption
from cli.output import console, write

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from prefect.deployments.runner import RunnerDeployment
    from rich.console import RenderableType

    from flows.results import ExpectationLine, RunResult

commands = typer.Typer()

_STATUS_COLOURS = {
    "published": "green",
    "unchanged": "cyan",
    "stopped": "red",
    "failed": "red",
    "interrupted": "yellow",
}
_SUMMARY_COLUMNS = (
    "source",
    "status",
    "rows in",
    "rows out",
    "quarantined",
    "rules ok",
    "warn",
    "masked",
    "version",
)


@commands.command()
def run(
    catalog: CatalogOption = DEFAULT_CATALOG,
    lake: LakeOption = DEFAULT_LAKE,
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Only this source (repeatable).")
    ] = None,
) -> None:
    """Run the ingest flow: land raw, validate, mask, publish curated versions, register views.

    Ctrl-C (SIGINT) or SIGTERM stops it at the next step boundary: the summary shows what was done,
    and the exit code is 130 or 143.
    """
    from flows.errors import Interrupted, RunFailed
    from flows.pipeline import ingest

    try:
        with console.status("running the ingest flow (Prefect)…"):
            result = run_flow(
                ingest,
                failure="run failed",
                stop_at_steps=True,
                catalog=str(catalog),
                lake=lake,
                sources=source or [],
            )
    except RunFailed as failed:  # some source did not publish: show the whole run, then exit 1
        write(failed.run, _run_text)
        raise typer.Exit(EXIT_FAILED) from failed
    except Interrupted as stopped:  # show what was done, then exit as a process that signal ended
        write(stopped.run, _run_text)
        raise typer.Exit(128 + stopped.signum) from stopped
    write(result, _run_text)


def _run_text(run: RunResult) -> Iterator[RenderableType]:
    from flows.results import SourceStatus

    yield _summary(run)
    for r in run.sources:
        if r.status is SourceStatus.STOPPED:
            yield Text(f"⛔ {r.source}: stop-line", "red") + " — curated layer untouched"
            yield from (f"   schema: {issue}" for issue in r.schema_issues)
            yield from (f"   pii: {finding}" for finding in r.pii_findings)
            for e in r.failed_blocking:
                yield f"   rule {e.rule_id}: {_failure(e)}"
        elif r.status is SourceStatus.FAILED:
            yield Text(f"❌ {r.source}: {r.error}", "red")
        elif r.status is SourceStatus.INTERRUPTED:
            yield Text(f"⏹ {r.source}: {r.error}", "yellow") + " — curated layer untouched"
        for note in [*r.read_notes, *r.schema_notes]:
            yield Text(f"⚠ {r.source}: {note}", "yellow")
        if r.rows_quarantined:
            yield Text(
                f"⚠ {r.source}: {r.rows_quarantined} row(s) quarantined → {r.quarantine_key}", "yellow"
            )
        for e in r.warnings:
            yield Text(
                f"⚠ {r.source}: rule {e.rule_id} (warn): {_failure(e)}",
                "yellow",
            )
    yield f"lake: {run.lake}  (raw files and manifests under raw/, curated Parquet under curated/)"
    if run.warehouse:
        yield f"warehouse: {run.warehouse}  (try: lockgate sql --lake {run.lake} 'SHOW TABLES')"


def _failure(e: ExpectationLine) -> str:
    """Failed rows for a rule that judges rows; a table-level rule (row count) counts none: its note."""
    if e.unexpected_count is not None:
        return f"{e.unexpected_count} of {e.element_count} rows failed"
    return f"failed ({e.note})" if e.note else "failed"


def _summary(run: RunResult) -> Table:
    table = Table(title=f"Lockgate run {run.run_id}", title_justify="left")
    for column in _SUMMARY_COLUMNS:
        table.add_column(column, no_wrap=column in ("source", "status"))
    for r in run.sources:
        passed = sum(e.success for e in r.expectations)
        table.add_row(
            Text(r.source),
            Text(r.status.value, _STATUS_COLOURS[r.status.value]),
            str(r.rows_in if r.rows_in is not None else "-"),
            str(r.rows_out if r.rows_out is not None else "-"),
            str(r.rows_quarantined or "-"),
            f"{passed}/{len(r.expectations)}" if r.expectations else "-",
            str(len(r.warnings)),
            str(len(r.masked_columns)),
            f"v{r.curated_version}" if r.curated_version is not None else "-",
        )
    return table


@commands.command()
def serve(catalog: CatalogOption = DEFAULT_CATALOG, lake: LakeOption = DEFAULT_LAKE) -> None:
    """Run each source's ingest on its passport's schedule and retention daily, here, until Ctrl-C."""
    from flows.schedules import scheduled_deployments, serve_ingest

    with exit_on_failure(EXIT_INVALID):
        deployments = scheduled_deployments(catalog, lake)
    write(deployments, _schedules_text)
    serve_ingest(deployments)


@commands.command()
def deploy(
    work_pool: Annotated[str, typer.Option("--work-pool", help="Prefect work pool whose workers run them.")],
    catalog: CatalogOption = DEFAULT_CATALOG,
    lake: LakeOption = DEFAULT_LAKE,
) -> None:
    """Register each source's scheduled ingest and the daily retention with a Prefect work pool (workers
    elsewhere run them)."""
    from flows.schedules import deploy_ingest

    with exit_on_failure(EXIT_INVALID):
        deployments = deploy_ingest(catalog, lake, work_pool)
    write(deployments, lambda done: _schedules_text(done, work_pool=work_pool))


def _schedules_text(deployments: Sequence[RunnerDeployment], work_pool: str | None = None) -> Iterator[str]:
    for deployment in deployments:
        crons = [getattr(s.schedule, "cron", "?") for s in deployment.schedules or []]
        schedule = ", ".join(f"cron {cron}" for cron in crons) or "no schedule"
        if work_pool is None:
            yield f"{deployment.name}: {schedule}"
        else:
            yield f"deployed {deployment.name} to work pool {work_pool}: {schedule}"
