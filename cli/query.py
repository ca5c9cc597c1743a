"""``lockgate sql``: query the curated datasets through the lake's DuckDB warehouse (read-only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import exit_on_failure
from cli.options import DEFAULT_LAKE, LakeOption
from cli.output import write

if TYPE_CHECKING:
    from collections.abc import Iterator

    import polars as pl

commands = typer.Typer()


@commands.command()
def sql(
    query: Annotated[str, typer.Argument(help="SQL to run against the warehouse (read-only).")],
    lake: LakeOption = DEFAULT_LAKE,
) -> None:
    """Query the curated datasets through the DuckDB warehouse, once their data is verified intact."""
    from flows.settings import current_settings
    from storage.warehouse import query_lake

    with exit_on_failure():
        result = query_lake(lake, query, warehouse=current_settings().warehouse)
    write(result, _frame_text)


def _frame_text(frame: pl.DataFrame) -> Iterator[Table]:
    table = Table()
    for name in frame.columns:
        table.add_column(Text(name))
    for row in frame.iter_rows():
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    yield table
