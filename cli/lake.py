"""``lockgate lake check [--repair]``: what is broken in a lake's curated layer and warehouse, and the
safe repairs (see `storage.lake_check` for what counts as safe)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from cli.errors import EXIT_FAILED, exit_on_failure
from cli.options import DEFAULT_LAKE, FormatOption, LakeOption
from cli.output import OutputFormat, write

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import RenderableType

    from storage.lake_check import LakeCheck

lake_app = typer.Typer(
    help="Check a lake's integrity and repair what is safe to repair.", no_args_is_help=True
)


@lake_app.command()
def check(
    lake: LakeOption = DEFAULT_LAKE,
    repair: Annotated[
        bool,
        typer.Option("--repair", help="Remove leftovers of crashed runs and register stale views again."),
    ] = False,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Report leftovers, unreadable tables, missing or changed data files and stale views; exit 1 if any
    remain unrepaired."""
    from flows.settings import current_settings
    from storage.lake_check import check_lake

    with exit_on_failure():
        result = check_lake(lake, repair=repair, warehouse=current_settings().warehouse)
    write(result, _check_text, output)
    if not result.ok:
        raise typer.Exit(EXIT_FAILED)


def _check_text(result: LakeCheck) -> Iterator[RenderableType]:
    datasets = ", ".join(result.sources) or "none"
    yield f"{result.lake}: {len(result.sources)} curated dataset(s) checked ({datasets})"
    for finding in result.findings:
        yield Text(finding.describe(), style="green" if finding.repaired else "red")
    left = sum(1 for f in result.findings if not f.repaired)
    if not result.findings:
        yield Text("no problems found", style="green")
    elif left:
        hint = "" if result.repair else "; `lockgate lake check --repair` fixes what it safely can"
        yield Text(f"{left} problem(s) left{hint}", style="red")
    else:
        yield Text(f"{len(result.findings)} problem(s) repaired", style="green")
