"""``lockgate erase --source S --where COLUMN=VALUE [--dry-run]``: erasure on request (`flows.erase`).

The value is the one place a subject's data is typed in clear; it is never printed back. ``--where
COLUMN=-`` reads the value from standard input instead, keeping it out of the shell's history and the
process list.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import EXIT_FAILED, exit_on_failure, exit_with_error
from cli.options import DEFAULT_CATALOG, DEFAULT_LAKE, CatalogOption, FormatOption, LakeOption
from cli.output import OutputFormat, write

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import RenderableType

    from storage.erasure import ErasureReceipt

commands = typer.Typer()

FROM_STDIN = "-"


@commands.command()
def erase(
    source: Annotated[str, typer.Option("--source", "-s", help="The source to erase the subject from.")],
    where: Annotated[
        str,
        typer.Option(
            "--where",
            help="COLUMN=VALUE naming the subject, the value in clear; COLUMN=- reads the value from stdin.",
        ),
    ],
    catalog: CatalogOption = DEFAULT_CATALOG,
    lake: LakeOption = DEFAULT_LAKE,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Find and count everything that would go; change nothing.")
    ] = False,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Erase one subject from a source: raw, quarantine, curated history and Label Studio, then keep them
    out of later runs. Prints the receipt; exits 1 when the subject is found nowhere, or when some layer
    could not be searched (the notes say which)."""
    from flows.erase import erase as erase_subject
    from flows.erase import parse_where

    with exit_on_failure():
        request = parse_where(where)
        if request.value == FROM_STDIN:
            value = sys.stdin.readline().rstrip("\r\n")
            if not value.strip():
                exit_with_error("--where COLUMN=- expects the value on standard input; none was given")
            request = parse_where(f"{request.column}={value}")
        receipt = erase_subject(str(catalog), lake, source, request, dry_run=dry_run)
    write(receipt, _receipt_text, output)
    if not receipt.complete:
        raise typer.Exit(EXIT_FAILED)


def _receipt_text(receipt: ErasureReceipt) -> Iterator[RenderableType]:
    dry = receipt.status == "dry-run"
    yield Text(
        f"erasure {receipt.erasure_id} of {receipt.source} by {receipt.column}"
        + (": dry run, nothing changed" if dry else ""),
        style="yellow" if dry else "green",
    )
    yield f"subject (keyed hash, key {receipt.key_id}): {receipt.subject_hash}"
    verb = "would remove" if dry else "removed"
    yield f"rows {verb}: " + ", ".join(f"{layer} {count}" for layer, count in receipt.rows.items())
    if receipt.objects:
        table = Table(title=Text("objects"), title_justify="left")
        for column in ("layer", "change", "key", "now at", "rows"):
            table.add_column(column)
        for touched in receipt.objects:
            table.add_row(
                touched.layer,
                touched.change,
                Text(touched.key),
                Text(touched.new_key or ""),
                "" if touched.rows_removed is None else str(touched.rows_removed),
            )
        yield table
    for table_erased in receipt.curated:
        gone = ", ".join(f"v{v}" for v in table_erased.unrestorable_versions) or "none"
        version = f" (now v{table_erased.version})" if table_erased.version is not None else ""
        yield (
            f"curated {table_erased.dataset}{version}: {table_erased.rows} row(s) by {table_erased.column}, "
            f"{len(table_erased.removed_files)} file(s) vacuumed; versions no longer restorable: {gone}"
        )
    for tasks in receipt.label_studio:
        yield f"Label Studio {tasks.project} ({tasks.project_id}): {len(tasks.task_ids)} task(s) {verb}"
    if receipt.suppression:
        yield f"suppression list: {receipt.suppression}"
    if not dry:
        yield f"receipt: {receipt.key}"
    for note in receipt.notes:
        yield Text(note, style="red" if note.startswith("not erased:") else "yellow")
