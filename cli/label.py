"""``lockgate label dispatch|collect|status|invite``: the labeling flows from the command line.

Label Studio is found through ``LOCKGATE_LABEL_STUDIO_URL`` and ``LOCKGATE_LABEL_STUDIO_TOKEN`` (or the
Prefect Secret block ``lockgate-label-studio-token``); ``--studio-url`` overrides the URL and
``--local-studio`` starts a server for the command's duration. Output names plans, projects and counts;
annotators appear by Label Studio user id only.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import EXIT_INVALID, exit_on_failure
from cli.flow_runner import run_flow
from cli.options import DEFAULT_CATALOG, DEFAULT_LAKE, CatalogOption, FormatOption, LakeOption
from cli.output import OutputFormat, console, write

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prefect import Flow
    from rich.console import RenderableType

    from flows.results import CollectResult, DispatchResult, PlanStatus

R = TypeVar("R")

label_app = typer.Typer(help="Send curated samples to Label Studio and gate the labels that come back.")

PlanOption = Annotated[list[str] | None, typer.Option("--plan", "-p", help="Only this plan (repeatable).")]
StudioUrlOption = Annotated[
    str | None, typer.Option("--studio-url", help="Label Studio URL (default: $LOCKGATE_LABEL_STUDIO_URL).")
]
LocalStudioOption = Annotated[
    Path | None,
    typer.Option(
        "--local-studio",
        help="Start a Label Studio server on loopback from this data folder for the command's duration.",
    ),
]


@contextlib.contextmanager
def _studio_url(local_studio: Path | None, studio_url: str | None) -> Iterator[str | None]:
    """The Label Studio to talk to: one started here from `local_studio` (the demo's way), else the
    configured one. A local server keeps its admin credentials in its data folder and stops afterwards;
    its token reaches the flows' tasks through the settings in force, never through the environment."""
    if local_studio is None:
        yield studio_url
        return
    from flows.label import local_studio_server
    from flows.settings import current_settings, use_settings

    folder = local_studio.resolve()
    # On the port `make label-studio` serves (when free), so printed project links keep working there.
    with (
        console.status(f"starting Label Studio from {folder} (the first start takes a minute)…"),
        exit_on_failure(prefix="Label Studio did not start: "),
    ):
        server = local_studio_server(folder)
        server.start()
    try:
        with use_settings(current_settings().with_label_studio(server.url, server.token)):
            yield server.url
    finally:
        server.stop()


@label_app.command("dispatch")
def dispatch(
    catalog: CatalogOption = DEFAULT_CATALOG,
    lake: LakeOption = DEFAULT_LAKE,
    plan: PlanOption = None,
    studio_url: StudioUrlOption = None,
    local_studio: LocalStudioOption = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Sample each plan's dataset and import the sample into its Label Studio project (idempotent)."""
    from flows.label import label_dispatch

    activity = "dispatching samples to Label Studio"
    results = _run(label_dispatch, activity, catalog, lake, plan, studio_url, local_studio)
    write(results, _dispatch_text, output, columns=("plan",))


def _run(
    flow: Flow[..., R],
    activity: str,
    catalog: Path,
    lake: str,
    plan: list[str] | None,
    studio_url: str | None,
    local_studio: Path | None,
) -> R:
    """Run a labeling flow for the named plans against the Label Studio the options choose."""
    with _studio_url(local_studio, studio_url) as url, console.status(f"{activity} (Prefect)…"):
        return run_flow(
            flow, failure="labeling failed", catalog=str(catalog), lake=lake, plans=plan or [], studio_url=url
        )


def _dispatch_text(results: list[DispatchResult]) -> Iterator[RenderableType]:
    table = Table(title="Label Studio: tasks dispatched", title_justify="left")
    for column in ("plan", "dataset", "version", "sampled", "new", "already there", "gold"):
        table.add_column(column)
    for r in results:
        table.add_row(
            Text(r.plan),
            Text(r.dataset),
            f"v{r.curated_version}",
            str(r.sampled),
            str(r.created),
            str(r.skipped),
            str(r.gold_included),
        )
    yield table
    for r in results:
        yield f"{r.plan}: Label Studio project {r.project_id} → {r.project_url}"
        if r.gold_missing:
            yield Text(f"⚠ {r.plan}: {len(r.gold_missing)} gold item(s) not in the curated data", "yellow")


@label_app.command("collect")
def collect(
    catalog: CatalogOption = DEFAULT_CATALOG,
    lake: LakeOption = DEFAULT_LAKE,
    plan: PlanOption = None,
    studio_url: StudioUrlOption = None,
    local_studio: LocalStudioOption = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Pull annotations, compute agreement, publish accepted labels, send disagreements to review."""
    from flows.label import label_collect

    activity = "collecting annotations from Label Studio"
    results = _run(label_collect, activity, catalog, lake, plan, studio_url, local_studio)
    write(results, _collect_text, output, columns=("plan",))


def _collect_text(results: list[CollectResult]) -> Iterator[RenderableType]:
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
        table.add_row(
            Text(r.plan),
            str(r.annotations),
            f"{r.krippendorff_alpha:.3f}" if r.krippendorff_alpha is not None else "-",
            Text(r.verdict),
            *(str(r.items.get(decision, 0)) for decision in ("accepted", "review", "rejected", "pending")),
            Text(f"{r.labels_dataset} v{r.labels_version}") if r.labels_version is not None else "-",
        )
    yield table
    for r in results:
        for note in r.notes:
            yield Text(f"⚠ {r.plan}: {note}", "yellow")
        if r.review_created:
            yield f"{r.plan}: {r.review_created} item(s) sent to the review project"
        for annotator, score in sorted(r.gold.items()):
            accuracy = f"{score['accuracy']:.0%}" if score["accuracy"] is not None else "-"
            yield f"{r.plan}: gold accuracy of {annotator}: {accuracy} of {score['items']} item(s)"


@label_app.command("status")
def status(
    catalog: CatalogOption = DEFAULT_CATALOG,
    lake: LakeOption = DEFAULT_LAKE,
    plan: PlanOption = None,
    studio_url: StudioUrlOption = None,
    local_studio: LocalStudioOption = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """For each plan: its project's tasks and annotations so far, and the current labels version."""
    from flows.label import label_status

    with (
        exit_on_failure(problems_code=EXIT_INVALID, prefix="status failed: "),
        _studio_url(local_studio, studio_url) as url,
    ):
        rows = label_status(str(catalog), lake, plan or [], url)
    write(rows, _status_text, output, columns=("plan",))


def _status_text(rows: list[PlanStatus]) -> Iterator[Table]:
    table = Table(title="Labeling status", title_justify="left")
    for column in ("plan", "project", "tasks", "started", "complete", "annotations", "labels"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            Text(r.plan),
            str(r.project_id) if r.project_id is not None else "not dispatched",
            str(r.tasks),
            str(r.started),
            f"{r.complete} (overlap {r.overlap})",
            str(r.annotations),
            Text(f"{r.labels_dataset} v{r.labels_version}") if r.labels_version is not None else "-",
        )
    yield table


@label_app.command("invite")
def invite(
    studio_url: StudioUrlOption = None,
    local_studio: LocalStudioOption = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Print the organisation's sign-up link for annotators (hand it to them; do not post it publicly)."""
    from flows.label import studio_client

    with _studio_url(local_studio, studio_url) as url, exit_on_failure():
        link = studio_client(url).invite_link()
    write({"invite_link": link}, lambda found: [found["invite_link"]], output)
