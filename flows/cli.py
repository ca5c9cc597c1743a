"""The `lockgate` command line: validate a catalog, write schemas, run the pipeline, query results.

Commands print counts and names only; data values never reach the terminal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from contracts.errors import CatalogError
from flows.agreement_cli import agreement
from flows.bench import bench
from flows.contract_cli import contract_app
from flows.label_cli import label_app
from flows.results import RunResult, SourceStatus

app = typer.Typer(
    name="lockgate",
    help="Data pipeline with quality contracts and PII masking, orchestrated by Prefect.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

CatalogOpt = Annotated[Path, typer.Option("--catalog", "-c", help="Catalog folder (with sources/).")]
LakeOpt = Annotated[
    str, typer.Option("--lake", "-l", help="Lake location: a local folder.", envvar="LOCKGATE_LAKE")
]


def _print_problems(exc: CatalogError) -> None:
    for problem in exc.problems:
        err.print(str(problem), markup=False, highlight=False)
    err.print(f"[red]{len(exc.problems)} problem(s) found[/red]")


@app.command()
def validate(catalog: CatalogOpt = Path("catalog")) -> None:
    """Check every passport, contract and labeling plan; report all mistakes as file:line:column: message."""
    from contracts.expectations import check_contract
    from labeling.plan import load_plans
    from sources.catalog import load_catalog

    try:
        loaded = load_catalog(catalog, check=check_contract)
        plans = load_plans(loaded)
    except CatalogError as exc:
        _print_problems(exc)
        raise typer.Exit(1) from exc
    contracts = {s.contract_path for s in loaded.sources}
    console.print(
        f"[green]ok[/green]: {len(loaded.sources)} source(s), {len(contracts)} contract(s), "
        f"{len(plans)} labeling plan(s) in {catalog}"
    )


@app.command()
def schema(
    out: Annotated[Path, typer.Option(help="Folder to write the JSON Schemas into.")] = Path("schemas"),
) -> None:
    """Write JSON Schemas for passports, contracts and labeling plans (reference them from YAML)."""
    from flows.schemas import SCHEMAS
    from sources.schemas import write_schemas

    for path in write_schemas(out, SCHEMAS):
        console.print(f"wrote {path}")


def _summary(run: RunResult) -> Table:
    table = Table(title=f"Lockgate run {run.run_id}", title_justify="left")
    for column in (
        "source",
        "status",
        "rows in",
        "rows out",
        "quarantined",
        "rules ok",
        "warn",
        "masked",
        "version",
    ):
        table.add_column(column, no_wrap=column in ("source", "status"))
    colours = {
        SourceStatus.PUBLISHED: "green",
        SourceStatus.UNCHANGED: "cyan",
        SourceStatus.STOPPED: "red",
        SourceStatus.FAILED: "red",
    }
    for r in run.sources:
        passed = sum(e.success for e in r.expectations)
        table.add_row(
            r.source,
            f"[{colours[r.status]}]{r.status.value}[/]",
            str(r.rows_in if r.rows_in is not None else "-"),
            str(r.rows_out if r.rows_out is not None else "-"),
            str(r.rows_quarantined or "-"),
            f"{passed}/{len(r.expectations)}" if r.expectations else "-",
            str(len(r.warnings)),
            str(len(r.masked_columns)),
            f"v{r.curated_version}" if r.curated_version else "-",
        )
    return table


def _print_run(run: RunResult) -> None:
    console.print(_summary(run))
    for r in run.sources:
        if r.status is SourceStatus.STOPPED:
            console.print(f"[red]⛔ {r.source}: stop-line[/red] — curated layer untouched")
            for issue in r.schema_issues:
                console.print(f"   schema: {issue}", markup=False)
            for finding in r.pii_findings:
                console.print(f"   pii: {finding}", markup=False)
            for e in r.failed_blocking:
                console.print(
                    f"   rule {e.rule_id}: {e.unexpected_count} of {e.element_count} rows failed",
                    markup=False,
                )
        elif r.status is SourceStatus.FAILED:
            console.print(f"[red]❌ {r.source}: {r.error}[/red]", markup=False)
        for note in r.schema_notes:
            console.print(f"[yellow]⚠ {r.source}: {escape(note)}[/]", highlight=False)
        if r.rows_quarantined:
            console.print(
                f"[yellow]⚠ {r.source}: {r.rows_quarantined} row(s) quarantined → {r.quarantine_key}[/]",
                markup=True,
                highlight=False,
            )
        for e in r.warnings:
            console.print(
                f"[yellow]⚠ {r.source}: rule {e.rule_id} (warn): "
                f"{e.unexpected_count} of {e.element_count} rows[/]"
            )
    console.print(f"lake: {run.lake}  (raw files and manifests under raw/, curated Parquet under curated/)")
    if run.warehouse:
        console.print(f"warehouse: {run.warehouse}  (try: lockgate sql --lake {run.lake} 'SHOW TABLES')")


@app.command()
def run(
    catalog: CatalogOpt = Path("catalog"),
    lake: LakeOpt = "lake",
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Only this source (repeatable).")
    ] = None,
) -> None:
    """Run the ingest flow: land raw, validate, mask, publish curated versions, register views."""
    from flows.errors import RunFailed
    from flows.pipeline import ingest

    with console.status("running the ingest flow (Prefect)…"):
        try:
            state = ingest(catalog=str(catalog), lake=lake, sources=source or [], return_state=True)
        except CatalogError as exc:
            _print_problems(exc)
            raise typer.Exit(2) from exc
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, RunFailed):
        _print_run(outcome.run)
        raise typer.Exit(1)
    if isinstance(outcome, CatalogError):
        _print_problems(outcome)
        raise typer.Exit(2)
    if isinstance(outcome, BaseException):
        err.print(f"[red]run failed: {outcome}[/red]", markup=False)
        raise typer.Exit(1)
    _print_run(outcome)


@app.command()
def serve(catalog: CatalogOpt = Path("catalog"), lake: LakeOpt = "lake") -> None:
    """Run each source's ingest on its passport's schedule, in this process, until Ctrl-C."""
    from prefect import serve as prefect_serve

    from flows.schedules import ingest_deployments

    try:
        deployments = ingest_deployments(catalog, lake)
    except CatalogError as exc:
        _print_problems(exc)
        raise typer.Exit(2) from exc
    for deployment in deployments:
        console.print(f"{deployment.name}: {_schedule_text(deployment)}", markup=False, highlight=False)
    prefect_serve(*deployments, print_starting_message=True)


@app.command()
def deploy(
    work_pool: Annotated[str, typer.Option("--work-pool", help="Prefect work pool whose workers run them.")],
    catalog: CatalogOpt = Path("catalog"),
    lake: LakeOpt = "lake",
) -> None:
    """Register each source's scheduled ingest with a Prefect work pool (workers elsewhere run it)."""
    from prefect import deploy as prefect_deploy

    from flows.schedules import ingest_deployments

    try:
        deployments = ingest_deployments(catalog, lake, work_pool=work_pool)
    except CatalogError as exc:
        _print_problems(exc)
        raise typer.Exit(2) from exc
    prefect_deploy(
        *deployments,
        work_pool_name=work_pool,
        build=False,
        push=False,
        print_next_steps_message=False,
        ignore_warnings=True,
    )
    for deployment in deployments:
        console.print(
            f"deployed {deployment.name} to work pool {work_pool}: {_schedule_text(deployment)}",
            markup=False,
            highlight=False,
        )


def _schedule_text(deployment: object) -> str:
    crons = [getattr(s.schedule, "cron", "?") for s in getattr(deployment, "schedules", None) or []]
    return ", ".join(f"cron {cron}" for cron in crons) or "no schedule"


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="SQL to run against the warehouse (read-only).")],
    lake: LakeOpt = "lake",
) -> None:
    """Query the curated datasets through the DuckDB warehouse."""
    from storage import layout
    from storage.warehouse import query as run_query

    frame = run_query(layout.warehouse_path(lake), query)
    table = Table()
    for name in frame.columns:
        table.add_column(name)
    for row in frame.iter_rows():
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


pii_app = typer.Typer(help="Find personal data in files.", no_args_is_help=True)
app.add_typer(pii_app, name="pii")
app.add_typer(contract_app, name="contract")
app.add_typer(label_app, name="label")
app.command("bench")(bench)
app.command("agreement")(agreement)

_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}


@pii_app.command("scan")
def pii_scan(
    path: Annotated[Path, typer.Argument(help="A CSV, Parquet or NDJSON file.", exists=True, dir_okay=False)],
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    delimiter: Annotated[str, typer.Option(help="CSV delimiter.")] = ",",
    encoding: Annotated[str, typer.Option(help="CSV text encoding, e.g. cp1251.")] = "utf-8",
    sample_rows: Annotated[
        int, typer.Option(help="Rows to scan in larger files (uniform sample).", min=1)
    ] = 20_000,
    fail_on_find: Annotated[bool, typer.Option(help="Exit 1 when anything is found (for CI).")] = False,
) -> None:
    """Report which columns hold which kinds of personal data, with row counts; never the values."""
    import json

    from pydantic import TypeAdapter, ValidationError

    from contracts.pii import scan_frame
    from sources.connectors import read_frame
    from sources.errors import SourceReadError
    from sources.passport import Connector

    if output not in ("text", "json"):
        raise typer.BadParameter("use text or json", param_hint="--format")
    kind = _FORMATS.get(path.suffix.lower())
    if kind is None:
        err.print(
            f"{path}: unknown file type '{path.suffix}'; use one of {', '.join(_FORMATS)}", markup=False
        )
        raise typer.Exit(2)
    options = {"delimiter": delimiter if path.suffix.lower() != ".tsv" else "\t", "encoding": encoding}
    try:
        spec = TypeAdapter(Connector).validate_python(
            {"kind": kind, "path": path.name, **(options if kind == "csv" else {})}
        )
        frame = read_frame(spec, [path])
    except ValidationError as exc:
        err.print(f"{path}: {exc.errors(include_url=False)[0]['msg']}", markup=False)
        raise typer.Exit(2) from exc
    except SourceReadError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from exc
    report = scan_frame(frame, sample_rows=sample_rows)
    if output == "json":
        typer.echo(json.dumps(report.to_json_dict(), ensure_ascii=False, indent=2))
    else:
        table = Table(title=f"{path}: personal data by column", title_justify="left")
        for column in ("column", "kinds (rows)", "rows scanned"):
            table.add_column(column)
        for name, found in report.columns.items():
            kinds = ", ".join(f"{k} ({n})" for k, n in sorted(found.kinds.items())) or "-"
            table.add_row(name, kinds, str(found.rows_scanned))
        console.print(table)
        scope = (
            f"a sample of {report.rows_scanned} of {report.rows_total} rows"
            if report.sampled
            else "every row"
        )
        console.print(
            f"scanned {scope}; a kind in at least {report.min_detectable_fraction:.3%} of rows is found "
            "with 95% confidence"
        )
    if fail_on_find and not report.clean:
        raise typer.Exit(1)


@app.command()
def versions(
    source: Annotated[str, typer.Argument(help="Dataset (source name).")], lake: LakeOpt = "lake"
) -> None:
    """List a dataset's curated versions and which one is current; then its history of pointer moves."""
    from storage.curated import current_version, history, list_versions
    from storage.store import open_store

    store = open_store(lake)
    found = list_versions(store, source)
    if not found:
        err.print(f"no curated versions of '{source}' in {lake}", markup=False)
        raise typer.Exit(1)
    current = current_version(store, source)
    table = Table(title=f"{source}: curated versions", title_justify="left")
    for column in ("", "version", "created (UTC)", "rows", "contract", "run", "input sha256"):
        table.add_column(column)
    for v in found:
        table.add_row(
            "→" if current is not None and v.version == current.version else "",
            f"v{v.version}",
            v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            str(v.rows),
            f"{v.contract_id} {v.contract_version}",
            v.run_id,
            ", ".join(sha[:12] for sha in v.input_sha256),
        )
    console.print(table)
    for change in history(store, source):
        console.print(f"{change.at:%Y-%m-%d %H:%M:%S}  {change.describe()}", markup=False, highlight=False)


@app.command()
def rollback(
    source: Annotated[str, typer.Argument(help="Dataset (source name).")],
    to: Annotated[int, typer.Option("--to", help="Version to make current.", min=1)],
    lake: LakeOpt = "lake",
    reason: Annotated[str, typer.Option(help="Why; kept in the dataset's history.")] = "rollback",
) -> None:
    """Make an earlier (or later) version current again; versions themselves are never changed."""
    from storage import layout
    from storage.curated import current_version
    from storage.curated import rollback as move_current
    from storage.errors import UnknownVersion
    from storage.store import open_store
    from storage.warehouse import register_views

    store = open_store(lake)
    before = current_version(store, source)
    try:
        after = move_current(store, source, to, reason=reason)
    except UnknownVersion as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from exc
    register_views(layout.warehouse_path(lake), {source: store.uri(after.data_key)})
    was = f"v{before.version}" if before is not None else "none"
    console.print(f"{source}: current version {was} → v{after.version}; warehouse view updated")


if __name__ == "__main__":
    app()
