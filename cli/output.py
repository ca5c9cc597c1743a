"""Where commands write: one console per stream, the ``--format`` choice and the writer they share.

Values reach the terminal as `rich.text.Text`, never as markup: a contract message, a file name or a
query result may hold ``[brackets]`` that Rich would otherwise read as styles and swallow.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from rich.console import RenderableType

    from contracts.diagnostics import Problem

# No markup, emoji codes or highlighting in any string, a table cell included: styles come from `Text`
# objects only, so a value such as ``[/b]`` or ``root:x:0`` prints as it is.
console = Console(soft_wrap=True, markup=False, emoji=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)

R = TypeVar("R")
PIPED_WIDTH = 10_000


class OutputFormat(StrEnum):
    """``--format``: tables and notes for people, one JSON document for tools, or CSV rows for sheets."""

    TEXT = "text"
    JSON = "json"
    CSV = "csv"
    TABLE = "table"  # another name for text, read as TEXT by the option (`cli.options.FormatOption`)


@runtime_checkable
class JsonReport(Protocol):
    """A result that decides its own JSON shape (rather than a plain pydantic dump)."""

    def to_json_dict(self) -> dict[str, Any]: ...


def write(
    result: R,
    render: Callable[[R], Iterable[RenderableType]],
    output: OutputFormat = OutputFormat.TEXT,
    *,
    columns: Sequence[str] = (),
) -> None:
    """Print a command's result: `render`'s tables and lines, or the result itself as JSON or CSV.

    Plain strings from `render` print literally; style belongs in `Text` objects. `columns` is the CSV
    header when the result may be an empty list (there is then no row to take it from).
    """
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(_json_dict(result), ensure_ascii=False, indent=2))
        return
    if output is OutputFormat.CSV:
        typer.echo(to_csv(_json_dict(result), columns), nl=False)
        return
    if not console.is_terminal:  # print(width=...) cannot go past the console's own width: set that
        console.width = piped_width()
    for item in render(result):
        console.print(Text(item) if isinstance(item, str) else item)


def piped_width() -> int:
    """How wide text output is when stdout is not a terminal: ``$COLUMNS`` when set, else wide enough
    that no table cell (a run id, a path, a key) is wrapped or cut for a script or a file to read.

    Rich would otherwise take 80 columns, or the width of whatever terminal stderr is on.
    """
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else PIPED_WIDTH


def _json_dict(result: object) -> Any:
    """The JSON form of a result: its own, a pydantic dump, a dataclass's fields, or a list of those."""
    from pydantic import BaseModel, RootModel  # not at import time: `lockgate --help` stays fast

    if isinstance(result, JsonReport):
        return result.to_json_dict()
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    if isinstance(result, list | tuple):
        return [_json_dict(item) for item in result]
    if isinstance(result, dict):  # rows already made of plain values (paths, dates, decimals allowed)
        return RootModel[Any](result).model_dump(mode="json")
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return RootModel[Any](dataclasses.asdict(result)).model_dump(mode="json")
    raise TypeError(f"{type(result).__name__} has no JSON form")


def to_csv(data: Any, columns: Sequence[str] = ()) -> str:
    """CSV of a result's JSON form: a list is one row per item, anything else a single row.

    The header is `columns`, then every other field in the order first seen. Cells are the JSON values:
    nested lists and objects as JSON text, ``true``/``false`` for booleans, empty for null. A result
    without any field (an empty list, an empty object) prints nothing but the header, if given.
    """
    rows = [
        row if isinstance(row, dict) else {"value": row}
        for row in (data if isinstance(data, list) else [data])
    ]
    header = list(dict.fromkeys([*columns, *(name for row in rows for name in row)]))
    if not header:
        return ""
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180; with "\n" a lone "\r" went unquoted
    out.writerow(header)
    out.writerows([_csv_cell(row.get(name)) for name in header] for row in rows)
    return buffer.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def print_problems(problems: Sequence[Problem]) -> None:
    """Catalog problems as ``file:line:column: message``, one a line, then how many (on stderr)."""
    for problem in problems:
        err.print(Text(str(problem)))
    err.print(Text(f"{len(problems)} problem(s) found", style="red"))
