"""``lockgate contract diff OLD NEW``: is a change to a contract safe for the people who read the data?

Meant for a data owner's CI: compare the contract on the main branch with the one in a pull request,
list every change with whether it breaks consumers, and fail when a breaking change comes without a
major version bump. Exit codes: 0 fine, 1 a breaking change under an unchanged major version (0.x:
minor), 2 a file that cannot be read or is not a valid contract. ``--against REV`` compares each file
given with its version at a git revision instead: the pre-commit hook (``.pre-commit-hooks.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import EXIT_INVALID, exit_on_failure, exit_with_error
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
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="OLD NEW | FILE...",
            help="The contract as consumers know it (e.g. from main) and the proposed one; with "
            "--against, the contract files to compare with their committed versions.",
        ),
    ],
    output: FormatOption = OutputFormat.TEXT,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="Also build every rule with Great Expectations, as `lockgate validate` does (slower).",
        ),
    ] = False,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            metavar="REV",
            help="Compare each FILE with its version at this git revision (e.g. HEAD: what a "
            "pre-commit hook checks); files new since then are skipped.",
        ),
    ] = None,
) -> None:
    """Classify every change from OLD to NEW as breaking for consumers or not.

    Exits 1 when a breaking change comes without a major version bump (under 0.x: a minor bump),
    0 otherwise, 2 when a file is not a valid contract (or, with --against, not readable from git).
    """
    from sources.contract_diff import diff_against_revision, diff_contract_files

    if against is None:
        if len(files) != 2:
            exit_with_error(
                "give two contract files, OLD and NEW (or FILE... with --against REV)", EXIT_INVALID
            )
        old, new = files
        with exit_on_failure(EXIT_INVALID):
            result = diff_contract_files(old, new, check=check)
        write(result, lambda found: _diff_text(found, old, new), output)
        if not result.version_bump_ok:
            raise typer.Exit(EXIT_BREAKING)
        return
    compared: list[FileDiff] = []
    with exit_on_failure(EXIT_INVALID):
        for path in files:
            found = diff_against_revision(path, against, check=check)
            if found is not None:
                compared.append(FileDiff(path, against, found))
    write(compared, _file_diffs_text, output, columns=("file", "against"))
    if not all(c.diff.version_bump_ok for c in compared):
        raise typer.Exit(EXIT_BREAKING)


@dataclass(frozen=True)
class FileDiff:
    """One contract file compared with its version at a git revision."""

    file: Path
    against: str
    diff: ContractDiff

    def to_json_dict(self) -> dict[str, Any]:
        return {"file": str(self.file), "against": self.against, **self.diff.to_json_dict()}


def _file_diffs_text(compared: list[FileDiff]) -> Iterator[Table | Text]:
    for c in compared:
        yield from _diff_text(c.diff, Path(f"{c.file}@{c.against}"), c.file)


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
