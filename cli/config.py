"""``lockgate config show``: every setting, its value and where it came from; secrets never shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import EXIT_INVALID, exit_on_failure
from cli.options import FormatOption  # noqa: TC001 - Typer reads annotations at runtime
from cli.output import OutputFormat, write

if TYPE_CHECKING:
    from collections.abc import Iterator

    from flows.settings import SettingShown

config_app = typer.Typer(help="Lockgate's settings (LOCKGATE_* variables).")


@config_app.command("show")
def show(output: FormatOption = OutputFormat.TEXT) -> None:
    """Print each LOCKGATE_* setting in force: value (secrets as **********) and origin."""
    from flows.settings import current_settings, describe

    with exit_on_failure(EXIT_INVALID):
        rows = describe(current_settings())
    write(rows, _settings_text, output)


def _settings_text(rows: list[SettingShown]) -> Iterator[Table]:
    table = Table(title="Lockgate settings", title_justify="left")
    for column in ("variable", "value", "origin"):
        table.add_column(column)
    for row in rows:
        table.add_row(Text(row.variable), Text(row.value), Text(row.origin))
    yield table
