"""``lockgate contract diff OLD NEW``: is a change to a contract safe for the people who read the data?

Meant for a data owner's CI: compare the contract on the main branch with the one in a pull request,
list every change with whether it breaks consumers, and fail when a breaking change comes without a
major version bump. Exit codes: 0 fine, 1 a breaking change under an unchanged major version (0.x:
minor), 2 a file that cannot be read or is not a valid contract.
"""

from __future__ import annotations

from pathlib import Path  # noqa: TC003 - Typer reads the annotations at runtime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import EXIT_INVALID, exit_on_failure
from cli.options import FormatOption  # noqa: TC001 - Typer reads annotations at runtime
from cli.output import OutputFormat, write

if TYPE_CHECKING:
    from collections.abc import Iterator

    from contracts.diff import ContractDiff

EXIT_BREAKING = 1

contract_app = typer.Typer(
    help="Work with single contract files: compare two versions of one.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@contract_app.command("diff")
def diff(
    old: Annotated[
        Path, typer.Argument(metavar="OLD", help="The contract as consumers know it (e.g. from main).")
    ],
    new: Annotated[Path, typer.Argument(metavar="NEW", help="The proposed contract.")],
    output: FormatOption = OutputFormat.TEXT,
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
    from sources.contract_diff import diff_contract_files

    with exit_on_failure(EXIT_INVALID):
        result = diff_contract_files(old, new, check=check)
    write(result, lambda found: _diff_text(found, old, new), output)
    if not result.version_bump_ok:
        raise typer.Exit(EXIT_BREAKING)


def _diff_text(result: ContractDiff, old: Path, new: Path) -> Iterator[Table | Text]:
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
                Text(change.message),  # messages quote values like [REDACTED]
            )
        yield table
    colour = "red" if not result.version_bump_ok else "yellow" if result.breaking else "green"
    yield Text(result.verdict(), style=colour)
