"""`lockgate contract ...`: commands about one contract file rather than a whole catalog.

``lockgate contract diff OLD NEW`` is meant for a data owner's CI: compare the contract on the main
branch with the one in a pull request, list every change with whether it breaks consumers, and fail
when a breaking change comes without a major version bump. Exit codes: 0 fine, 1 a breaking change
under an unchanged major version (0.x: minor), 2 a file that cannot be read or is not a valid contract.

Mounted by `flows.cli` as ``app.add_typer(contract_app, name="contract")``. This module does not import
`flows.cli` (which imports it), so it keeps its own consoles.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path  # noqa: TC003 - Typer reads the annotations at runtime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from contracts.diagnostics import Problem
    from contracts.diff import ContractDiff
    from contracts.model import Contract

contract_app = typer.Typer(
    help="Work with single contract files: compare two versions of one.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

EXIT_BREAKING = 1
EXIT_INVALID = 2


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def _load(paths: list[Path], check: bool) -> list[Contract]:
    """Both contracts, or every problem in both files (as ``lockgate validate`` prints them) and exit 2."""
    from contracts.expectations import check_contract
    from sources.catalog import load_contract

    contracts: list[Contract] = []
    problems: list[Problem] = []
    for path in paths:
        contract, found = load_contract(path, check_contract if check else None)
        problems.extend(sorted(found))
        if contract is not None:
            contracts.append(contract)
    if problems:
        for problem in problems:
            err.print(str(problem), markup=False, highlight=False)
        err.print(f"[red]{len(problems)} problem(s) found[/red]")
        raise typer.Exit(EXIT_INVALID)
    return contracts


def _print_text(result: ContractDiff, old: Path, new: Path) -> None:
    if result.changes:
        table = Table(title=Text(f"{old} → {new}"), title_justify="left")
        table.add_column("change", no_wrap=True)
        table.add_column("path", overflow="fold")  # paths are what reviewers search for: never cut
        table.add_column("breaking", no_wrap=True)
        table.add_column("message")
        for change in result.changes:
            table.add_row(
                change.kind,
                Text(change.path),
                Text("yes", style="red bold") if change.breaking else Text("no"),
                Text(change.message),  # Text, not markup: messages quote values like [REDACTED]
            )
        console.print(table)
    colour = "red" if not result.version_bump_ok else "yellow" if result.breaking else "green"
    console.print(Text(result.verdict(), style=colour))


@contract_app.command("diff")
def diff(
    old: Annotated[
        Path, typer.Argument(metavar="OLD", help="The contract as consumers know it (e.g. from main).")
    ],
    new: Annotated[Path, typer.Argument(metavar="NEW", help="The proposed contract.")],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="A table for people, or JSON for tools.")
    ] = OutputFormat.TEXT,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="Also build every rule with Great Expectations, as `lockgate validate` does (slower).",
        ),
    ] = False,
) -> None:
    """Classify every change from OLD to NEW as breaking for consumers or not.

    Exits 1 when a breaking change comes without a major version bump (under 0.x: a minor bump),
    0 otherwise, 2 when a file is not a valid contract.
    """
    from contracts.diff import diff_contracts

    old_contract, new_contract = _load([old, new], check)
    result = diff_contracts(old_contract, new_contract)
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(result.to_json_dict(), ensure_ascii=False, indent=2))
    else:
        _print_text(result, old, new)
    if not result.version_bump_ok:
        raise typer.Exit(EXIT_BREAKING)
