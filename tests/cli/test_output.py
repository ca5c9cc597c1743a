"""The shared writer and error exit: values print literally, JSON comes from the result itself."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer
from pydantic import BaseModel
from rich.table import Table
from rich.text import Text

from cli.errors import exit_on_failure, exit_with_error
from cli.output import OutputFormat, write
from storage.errors import UnknownVersion


class Report(BaseModel):
    name: str


class Custom:
    def to_json_dict(self) -> dict[str, Any]:
        return {"custom": True}


def test_text_prints_strings_literally(capsys: pytest.CaptureFixture[str]) -> None:
    write(Report(name="[bold]x[/bold]"), lambda r: [r.name, Text("styled", style="red")])
    assert capsys.readouterr().out.splitlines() == ["[bold]x[/bold]", "styled"]


def test_table_cells_print_markup_and_emoji_codes_literally(capsys: pytest.CaptureFixture[str]) -> None:
    """A value is data: ``[/b]`` must not crash Rich, brackets must stay, ``:x:`` is no emoji."""
    values = ["[/b]", "[red]x[/red]", "root:x:0", ":smile:"]

    def render(row: list[str]) -> list[Table]:
        table = Table()
        for name in ("a", "b", "c", "d"):
            table.add_column(name)
        table.add_row(*row)
        return [table]

    write(values, render)
    out = capsys.readouterr().out
    assert all(value in out for value in values)
    assert "❌" not in out


def test_json_is_the_model_or_its_own_json_dict(capsys: pytest.CaptureFixture[str]) -> None:
    write(Report(name="a"), lambda r: [], OutputFormat.JSON)
    assert json.loads(capsys.readouterr().out) == {"name": "a"}
    write(Custom(), lambda r: [], OutputFormat.JSON)
    assert json.loads(capsys.readouterr().out) == {"custom": True}


def test_error_exit_prints_the_message_literally(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as info:
        exit_with_error("no version [red]9[/red]", 3)
    assert info.value.exit_code == 3
    assert capsys.readouterr().err == "no version [red]9[/red]\n"


def test_only_expected_failures_become_exits(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as info, exit_on_failure(2, prefix="rollback failed: "):
        raise UnknownVersion("'x' has no version 9")
    assert info.value.exit_code == 2
    assert capsys.readouterr().err == "rollback failed: 'x' has no version 9\n"
    with pytest.raises(ZeroDivisionError), exit_on_failure():
        raise ZeroDivisionError  # a bug keeps its traceback
