"""``lockgate label dispatch|collect|status``: the labeling flows from the command line.

Label Studio is found through ``LOCKGATE_LABEL_STUDIO_URL`` and ``LOCKGATE_LABEL_STUDIO_TOKEN`` (or the
Prefect Secret block ``lockgate-label-studio-token``); ``--studio-url`` overrides the URL. Output names
plans, projects and counts; annotators appear by Label Studio user id only.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from contracts.errors import CatalogError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from flows.results import CollectResult, DispatchResult

label_app = typer.Typer(help="Send curated samples to Label Studio and gate the labels that come back.")
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

CatalogOpt = Annotated[Path, typer.Option("--catalog", "-c", help="Catalog folder (with labeling/).")]
LakeOpt = Annotated[str, typer.Option("--lake", "-l", help="Lake location.", envvar="LOCKGATE_LAKE")]
PlanOpt = Annotated[list[str] | None, typer.Option("--plan", "-p", help="Only this plan (repeatable).")]
StudioOpt = Annotated[
    str | None, typer.Option("--studio-url", help="Label Studio URL (default: $LOCKGATE_LABEL_STUDIO_URL).")
]
LocalOpt = Annotated[
    Path | None,
    typer.Option(
        "--local-studio",
        help="Start a Label Studio server on loopback from this data folder for the command's duration.",
    ),
]


@contextlib.contextmanager
def _local_studio(data_dir: Path | None, studio_url: str | None) -> Iterator[str | None]:
    """Run against a Label Studio started here (the demo's way), or against the configured one.

    The local server keeps its admin credentials in ``credentials.json`` inside its data folder (made
    once, mode 0600); its token reaches this process's tasks through the environment only.
    """
    if data_dir is None:
        yield studio_url
        return
    from labeling.errors import LabelStudioServerError
    from labeling.server import TOKEN_ENV, local_server

    folder = data_dir.resolve()
    # On the port `make label-studio` serves (when free), so printed project links keep working there.
    server = local_server(folder)
    with console.status(f"starting Label Studio from {folder} (the first start takes a minute)…"):
        try:
            server.start()
        except LabelStudioServerError as exc:
            err.print(f"Label Studio did not start: {exc}", markup=False, style="red")
            raise typer.Exit(1) from exc
    previous = os.environ.get(TOKEN_ENV)
    os.environ[TOKEN_ENV] = server.token
    try:
        yield server.url
    finally:
        server.stop()
        if previous is None:
            os.environ.pop(TOKEN_ENV, None)
        else:
            os.environ[TOKEN_ENV] = previous


def _run_flow(flow_fn: object, **params: object) -> object:
    """Run a flow and turn its failure into a clear message and exit code, never a traceback."""
    state = flow_fn(**params, return_state=True)  # type: ignore[operator]
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, CatalogError):
        for problem in outcome.problems:
            err.print(str(problem), markup=False, highlight=False)
        err.print(f"[red]{len(outcome.problems)} problem(s) found[/red]")
        raise typer.Exit(2)
    if isinstance(outcome, BaseException):
        err.print(f"labeling failed: {outcome}", markup=False, style="red")
        raise typer.Exit(1)
    return outcome


def _dispatch_table(results: list[DispatchResult]) -> Table:
    table = Table(title="Label Studio: tasks dispatched", title_justify="left")
    for column in ("plan", "dataset", "version", "sampled", "new", "already there", "gold"):
        table.add_column(column)
    for r in results:
        table.add_row(
            r.plan,
            r.dataset,
            f"v{r.curated_version}",
            str(r.sampled),
            str(r.created),
            str(r.skipped),
            str(r.gold_included),
        )
    return table


@label_app.command("dispatch")
def dispatch(
    catalog: CatalogOpt = Path("catalog"),
    lake: LakeOpt = "lake",
    plan: PlanOpt = None,
    studio_url: StudioOpt = None,
    local_studio: LocalOpt = None,
) -> None:
    """Sample each plan's dataset and import the sample into its Label Studio project (idempotent)."""
    from flows.labeling import label_dispatch

    with _local_studio(local_studio, studio_url) as url:
        with console.status("dispatching samples to Label Studio (Prefect)…"):
            results = _run_flow(
                label_dispatch, catalog=str(catalog), lake=lake, plans=plan or [], studio_url=url
            )
        console.print(_dispatch_table(results))  # type: ignore[arg-type]
    for r in results:  # type: ignore[attr-defined]
        console.print(f"{r.plan}: Label Studio project {r.project_id} → {r.project_url}", highlight=False)
        if r.gold_missing:
            console.print(
                f"[yellow]⚠ {r.plan}: {len(r.gold_missing)} gold item(s) not in the curated data[/]"
            )


def _collect_table(results: list[CollectResult]) -> Table:
    table = Table(title="Labeling: agreement and gate", title_justify="left")
    for column in (
        "plan",
        "annotations",
        "α",
        "verdict",
        "accepted",
        "review",
        "rejected",
        "pending",
        "labels",
    ):
        table.add_column(column)
    for r in results:
        alpha = f"{r.krippendorff_alpha:.3f}" if r.krippendorff_alpha is not None else "-"
        table.add_row(
            r.plan,
            str(r.annotations),
            alpha,
            r.verdict,
            str(r.items.get("accepted", 0)),
            str(r.items.get("review", 0)),
            str(r.items.get("rejected", 0)),
            str(r.items.get("pending", 0)),
            f"{r.labels_dataset} v{r.labels_version}" if r.labels_version else "-",
        )
    return table


@label_app.command("collect")
def collect(
    catalog: CatalogOpt = Path("catalog"),
    lake: LakeOpt = "lake",
    plan: PlanOpt = None,
    studio_url: StudioOpt = None,
    local_studio: LocalOpt = None,
) -> None:
    """Pull annotations, compute agreement, publish accepted labels, send disagreements to review."""
    from flows.labeling import label_collect

    with (
        _local_studio(local_studio, studio_url) as url,
        console.status("collecting annotations from Label Studio (Prefect)…"),
    ):
        results = _run_flow(label_collect, catalog=str(catalog), lake=lake, plans=plan or [], studio_url=url)
    console.print(_collect_table(results))  # type: ignore[arg-type]
    for r in results:  # type: ignore[attr-defined]
        for note in r.notes:
            console.print(f"[yellow]⚠ {r.plan}: {note}[/]", highlight=False)
        if r.review_created:
            console.print(f"{r.plan}: {r.review_created} item(s) sent to the review project")
        for annotator, score in sorted(r.gold.items()):
            accuracy = f"{score['accuracy']:.0%}" if score["accuracy"] is not None else "-"
            console.print(f"{r.plan}: gold accuracy of {annotator}: {accuracy} of {score['items']} item(s)")


@label_app.command("status")
def status(
    catalog: CatalogOpt = Path("catalog"),
    lake: LakeOpt = "lake",
    plan: PlanOpt = None,
    studio_url: StudioOpt = None,
    local_studio: LocalOpt = None,
) -> None:
    """For each plan: its project's tasks and annotations so far, and the current labels version."""
    from flows.labeling import label_status

    try:
        with _local_studio(local_studio, studio_url) as url:
            rows = label_status(str(catalog), lake, plan or [], url)
    except CatalogError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False)
        raise typer.Exit(2) from exc
    except Exception as exc:
        err.print(f"status failed: {exc}", markup=False, style="red")
        raise typer.Exit(1) from exc
    table = Table(title="Labeling status", title_justify="left")
    for column in ("plan", "project", "tasks", "started", "complete", "annotations", "labels"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r.plan,
            str(r.project_id) if r.project_id is not None else "not dispatched",
            str(r.tasks),
            str(r.started),
            f"{r.complete} (overlap {r.overlap})",
            str(r.annotations),
            f"{r.labels_dataset} v{r.labels_version}" if r.labels_version else "-",
        )
    console.print(table)


@label_app.command("invite")
def invite(studio_url: StudioOpt = None, local_studio: LocalOpt = None) -> None:
    """Print the organisation's sign-up link for annotators (hand it to them; do not post it publicly)."""
    from labeling.errors import StudioError
    from labeling.studio import Studio

    with _local_studio(local_studio, studio_url) as url:
        from labeling.server import settings_from_env

        try:
            typer.echo(Studio.from_settings(settings_from_env(url)).invite_link())
        except StudioError as exc:
            err.print(str(exc), markup=False, style="red")
            raise typer.Exit(1) from exc
