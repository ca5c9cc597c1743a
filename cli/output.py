"""Where commands write: one console per stream, the ``--format`` choice and the writer they share.

Values reach the terminal as `rich.text.Text`, never as markup: a contract message, a file name or a
query result may hold ``[brackets]`` that Rich would otherwise read as styles and swallow.
"""

from __future__ import annotations

import dataclasses
import json
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


class OutputFormat(StrEnum):
    """``--format``: tables and notes for people, or one JSON document for tools."""

    TEXT = "text"
    JSON = "json"


@runtime_checkable
class JsonReport(Protocol):
    """A result that decides its own JSON shape (rather than a plain pydantic dump)."""

    def to_json_dict(self) -> dict[str, Any]: ...


def write(
    result: R,
    render: Callable[[R], Iterable[RenderableType]],
    output: OutputFormat = OutputFormat.TEXT,
) -> None:
    """Print a command's result: `render`'s tables and lines, or the result itself as JSON.

    Plain strings from `render` print literally; style belongs in `Text` objects.
    """
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(_json_dict(result), ensure_ascii=False, indent=2))
        return
    for item in render(result):
        console.print(Text(item) if isinstance(item, str) else item)


def _json_dict(result: object) -> Any:
    """The JSON form of a result: its own, a pydantic dump, a dataclass's fields, or a list of those."""
    from pydantic import BaseModel, RootModel  # not at import time: `lockgate --help` stays fast

    if isinstance(result, JsonReport):
        return result.to_json_dict()
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    if isinstance(result, list | tuple):
        return [_json_dict(item) for item in result]
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return RootModel[Any](dataclasses.asdict(result)).model_dump(mode="json")
    raise TypeError(f"{type(result).__name__} has no JSON form")


def print_problems(problems: Sequence[Problem]) -> None:
    """Catalog problems as ``file:line:column: message``, one a line, then how many (on stderr)."""
    for problem in problems:
        err.print(Text(str(problem)))
    err.print(Text(f"{len(problems)} problem(s) found", style="red"))
