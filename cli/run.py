"""``lockgate run``, ``serve`` and ``deploy``: the ingest flow now, on its schedules here, or by workers.

Output names sources, rules, counts and keys; data values never reach the terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import EXIT_FAILED, EXIT_INVALID, exit_on_failure
from cli.flow_runner import run_flow
from cli.options import (
    DEFAULT_CATALOG,
    DEFAULT_LAKE,
    CatalogOption,
    DaskWorkersOption,
    FormatOption,
    LakeOption,
    MemoryLimitOption,
    TaskRunner,
    TaskRunnerOption,
)
from cli.output import OutputFormat, console, write

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
    output: FormatOption = OutputFormat.TEXT,
    task_runner: TaskRunnerOption = TaskRunner.THREAD,
    dask_workers: DaskWorkersOption = None,
    memory_limit: MemoryLimitOption = None,
) -> None:
    """Run the ingest flow: land raw, validate, mask, publish curated versions, register views.

    Exits 0 when every source published, 1 when some source stopped or failed (the summary still
    shows the whole run). Ctrl-C (SIGINT) or SIGTERM stops it at the next step boundary: the summary
    shows what was done, and the exit code is 130 or 143. --format json prints the run as one
    document, csv one row per source. --task-runner dask sends the per-file work of sources with
    several files to Dask workers; a scheduler that cannot be reached exits 1, naming its address.
    --memory-limit bounds the memory a source's rows take: larger sources go through on disk.
    """
    from flows.errors import Interrupted, RunFailed
    from flows.pipeline import ingest
    from flows.settings import parse_memory

    if memory_limit is not None:
        with exit_on_failure(EXIT_INVALID):
            parse_memory(memory_limit)  # a size that names none exits before any work starts

    try:
        with console.status("running the ingest flow (Prefect)…"):
            result = run_flow(
                ingest,
                failure="run failed",
                stop_at_steps=True,
                catalog=str(catalog),
                lake=lake,
                sources=source or [],
                task_runner=task_runner.value,
                dask_workers=dask_workers,
                memory_limit=memory_limit,
            )
    except RunFailed as failed:  # some source did not publish: show the whole run, then exit 1
        _write_run(failed.run, output)
        raise typer.Exit(EXIT_FAILED) from failed
    except Interrupted as stopped:  # show what was done, then exit as a process that signal ended
        _write_run(stopped.run, output)
        raise typer.Exit(128 + stopped.signum) from stopped
    _write_run(result, output)


def _write_run(run: RunResult, output: OutputFormat) -> None:
    """The run as the summary table and notes, one JSON document, or CSV rows (one per source)."""
    if output is OutputFormat.CSV:
        run_fields = {"run_id": run.run_id, "lake": run.lake}
        rows = [{**run_fields, **r.model_dump(mode="json")} for r in run.sources]
        write(rows, lambda _: (), output, columns=("run_id", "lake", "source", "status"))
    else:
        write(run, _run_text, output)


def _run_text(run: RunResult) -> Iterator[RenderableType]:
    from flows.results import SourceStatus

    yield _summary(run)
    for r in run.sources:
        if r.status is SourceStatus.STOPPED:
            yield Text(f"⛔ {r.source}: stop-line", "red") + " — curated layer untouched"
            yield from (f"   schema: {issue}" for issue in r.schema_issues)
            yield from (f"   pii: {finding}" for finding in r.pii_findings)
            yield from (f"   drift {d}" for d in r.drift if d.action == "block")
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
        yield from (Text(f"⚠ {r.source}: drift {d}", "yellow") for d in r.drift if d.action == "warn")
    yield f"lake: {run.lake}  (raw files and manifests under raw/, curated Delta tables under curated/)"
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
def serve(
    catalog: CatalogOption = DEFAULT_CATALOG,
    lake: LakeOption = DEFAULT_LAKE,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Run each source's ingest on its passport's schedule and retention daily, here, until Ctrl-C.

    Lists the deployments first (--format json|csv for tools); no work pool or worker needed.
    """
    from flows.schedules import scheduled_deployments, serve_ingest

    with exit_on_failure(EXIT_INVALID):
        deployments = scheduled_deployments(catalog, lake)
    write(_deployment_rows(deployments), _schedules_text, output, columns=_DEPLOYMENT_COLUMNS)
    serve_ingest(deployments)


@commands.command()
def deploy(
    work_pool: Annotated[
        str,
        typer.Option(
            "--work-pool",
            help="Prefect work pool whose workers run them; it must exist "
            "(prefect work-pool create NAME --type process).",
        ),
    ],
    catalog: CatalogOption = DEFAULT_CATALOG,
    lake: LakeOption = DEFAULT_LAKE,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Check the work pool and print what would be registered; register nothing.",
        ),
    ] = False,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Register each source's scheduled ingest and the daily retention with a Prefect work pool (workers
    elsewhere run them).

    The Prefect server is the one PREFECT_API_URL names. Exits 2 when the catalog is invalid or the
    work pool does not exist (the message says how to create it).
    """
    from flows.schedules import deploy_ingest

    with exit_on_failure(EXIT_INVALID):
        deployments = deploy_ingest(catalog, lake, work_pool, dry_run=dry_run)
    verb = "would deploy" if dry_run else "deployed"
    write(
        _deployment_rows(deployments, registered=not dry_run),
        lambda rows: _schedules_text(rows, verb=verb),
        output,
        columns=_DEPLOYMENT_COLUMNS,
    )


_DEPLOYMENT_COLUMNS = ("name", "flow", "schedules", "work_pool", "registered")


def _deployment_rows(
    deployments: Sequence[RunnerDeployment], *, registered: bool = False
) -> list[dict[str, Any]]:
    """What each deployment runs, when and where: names, crons, parameters (paths), never data."""
    return [
        {
            "name": d.name,
            "flow": d.flow_name,
            "entrypoint": d.entrypoint,
            "schedules": [getattr(s.schedule, "cron", None) for s in d.schedules or []],
            "work_pool": d.work_pool_name,
            "registered": registered,
            "parameters": d.parameters,
            "tags": d.tags,
        }
        for d in deployments
    ]


def _schedules_text(rows: list[dict[str, Any]], verb: str | None = None) -> Iterator[str]:
    for row in rows:
        schedule = ", ".join(f"cron {cron}" for cron in row["schedules"]) or "no schedule"
        if verb is None:
            yield f"{row['name']}: {schedule}"
        else:
            yield f"{verb} {row['name']} to work pool {row['work_pool']}: {schedule}"
