"""``lockgate sql``: query the curated datasets through the lake's DuckDB warehouse (read-only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import exit_on_failure
from cli.options import DEFAULT_LAKE, FormatOption, LakeOption
from cli.output import OutputFormat, write

if TYPE_CHECKING:
    from collections.abc import Iterator

    import polars as pl

commands = typer.Typer()


@commands.command()
def sql(
    query: Annotated[str, typer.Argument(help="SQL to run against the warehouse (read-only).")],
    lake: LakeOption = DEFAULT_LAKE,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Query the curated datasets through the DuckDB warehouse, once their data is verified intact.

    --format json prints a list of row objects, csv a header and one line per row.
    """
    from flows.settings import current_settings
    from storage.warehouse import query_lake

    with exit_on_failure():
        frame = query_lake(lake, query, warehouse=current_settings().warehouse)
    if output is OutputFormat.TEXT:
        write(frame, _frame_text)
    else:  # dates, decimals and the like as their JSON text; the header even when no row came back
        write(frame.to_dicts(), lambda _: (), output, columns=frame.columns)


def _frame_text(frame: pl.DataFrame) -> Iterator[Table]:
    table = Table()
    for name in frame.columns:
        table.add_column(Text(name), overflow="fold")
    for row in frame.iter_rows():
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    yield table
