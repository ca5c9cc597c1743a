"""``lockgate status [--plot [FILE]]``: every source's owner, last run, curated version, freshness and
quality trend, read from the catalog and the lake (no Prefect server needed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import EXIT_INVALID, exit_on_failure, exit_with_error
from cli.options import DEFAULT_CATALOG, DEFAULT_LAKE, CatalogOption, FormatOption, LakeOption
from cli.output import OutputFormat, err, write

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from rich.console import RenderableType

    from flows.status import SourceStatusRow

DEFAULT_PLOT = Path("lockgate-status.html")
FRESHNESS_STYLE = {"fresh": "green", "late": "red", "never run": "yellow"}

commands = typer.Typer()


@commands.command()
def status(
    catalog: CatalogOption = DEFAULT_CATALOG,
    lake: LakeOption = DEFAULT_LAKE,
    sources: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Only this source (repeatable).")
    ] = None,
    runs: Annotated[
        int, typer.Option("--runs", min=1, max=1000, help="Recent runs per source for the trend and plot.")
    ] = 10,
    grace: Annotated[
        int,
        typer.Option(
            "--grace",
            min=0,
            help="Minutes past a due time before a source counts as late (at most a period).",
        ),
    ] = 60,
    plot: Annotated[
        bool,
        typer.Option("--plot", help="Also write quality and volume over time to a self-contained HTML page."),
    ] = False,
    plot_file: Annotated[
        Path | None,
        typer.Argument(
            metavar="[FILE]",
            help=f"Where --plot writes the page (default {DEFAULT_PLOT}).",
            show_default=False,
        ),
    ] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Show each source's owner, last run and its state, current curated version and release, freshness
    against its passport's update_frequency (fresh, late, never run) and the quality trend of recent runs.

    Exits 0 whatever the sources' state; 2 for catalog mistakes, 1 when the lake cannot be read.
    """
    from datetime import timedelta

    from flows.status import catalog_status, status_columns
    from flows.status_page import write_status_page

    if plot_file is not None and not plot:
        exit_with_error(f"{plot_file} is where --plot writes its page: add --plot", EXIT_INVALID)
    with exit_on_failure(problems_code=EXIT_INVALID):
        rows = catalog_status(catalog, lake, sources=sources, last=runs, grace=timedelta(minutes=grace))
    if plot:
        written = write_status_page(rows, plot_file or DEFAULT_PLOT)
        err.print(Text(f"wrote {written} (quality and volume over time, opens offline)"))
    write(rows, _status_text, output, columns=status_columns())


def _time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _status_text(rows: list[SourceStatusRow]) -> Iterator[RenderableType]:
    table = Table(title="Sources (times in UTC)", title_justify="left")
    for column in (
        "source",
        "owner",
        "last run",
        "state",
        "version",
        "release",
        "freshness",
        "due",
        "quality",
    ):
        table.add_column(column, no_wrap=column not in ("owner", "release"))
    for row in rows:
        quality = "-" if row.quality is None else f"{row.quality:.1%}"
        table.add_row(
            Text(row.source),
            Text(row.owner),
            _time(row.last_run_at),
            Text(row.last_state or "-"),
            "-" if row.curated_version is None else str(row.curated_version),
            Text(row.release_id or "-"),
            Text(row.freshness.value, style=FRESHNESS_STYLE[row.freshness.value]),
            _time(row.due_at),
            f"{quality} {row.quality_trend.value}" if row.quality is not None else "-",
        )
    yield table
    late = [row.source for row in rows if row.freshness.value == "late"]
    if late:
        yield Text(f"late: {', '.join(late)}", style="red")
