"""``lockgate versions`` and ``lockgate rollback``: a dataset's curated versions, and moving between them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import exit_on_failure, exit_with_error
from cli.options import DEFAULT_LAKE, FormatOption, LakeOption
from cli.output import OutputFormat, write

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import RenderableType

    from storage.curated import DatasetVersions
    from storage.warehouse import Rollback

commands = typer.Typer()

SourceArgument = Annotated[str, typer.Argument(help="Dataset (source name).")]


@commands.command()
def versions(
    source: SourceArgument, lake: LakeOption = DEFAULT_LAKE, output: FormatOption = OutputFormat.TEXT
) -> None:
    """List a dataset's curated versions (Delta table versions) with what made each and whether it can
    still be restored.

    Exits 1 after the listing when a file of the current version is missing or changed.
    """
    from storage.curated import lake_versions

    with exit_on_failure():
        found = lake_versions(lake, source)
    if not found.versions:
        exit_with_error(f"no curated versions of '{source}' in {lake}")
    write(found, _versions_text, output)
    if found.problem:
        exit_with_error(found.problem)


def _versions_text(found: DatasetVersions) -> Iterator[RenderableType]:
    table = Table(title=Text(f"{found.source}: curated versions"), title_justify="left")
    for column in (
        "",
        "version",
        "created (UTC)",
        "action",
        "rows",
        "release",
        "contract",
        "run",
        "restorable",
    ):
        table.add_column(column)
    for v in found.versions:
        table.add_row(
            "→" if v.version == found.current else "",
            f"v{v.version}",
            v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            Text(v.describe() if v.action in {"rollback", "erase"} else v.action),
            "" if v.rows is None else str(v.rows),
            Text(v.release_id or ""),
            Text(f"{v.contract_id} {v.contract_version}" if v.contract_id else ""),
            Text(v.run_id or ""),
            {True: "yes", False: "no (files erased or expired)", None: ""}[v.restorable],
        )
    yield table


@commands.command()
def rollback(
    source: SourceArgument,
    to: Annotated[int, typer.Option("--to", help="Version whose data becomes current again.", min=0)],
    lake: LakeOption = DEFAULT_LAKE,
    reason: Annotated[str, typer.Option(help="Why; kept in the version the rollback makes.")] = "rollback",
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Restore an earlier version's data as a new version, recording who did it and why."""
    from flows.settings import current_settings
    from storage.warehouse import rollback_dataset

    settings = current_settings()
    with exit_on_failure():
        moved = rollback_dataset(
            lake, source, to, by=settings.user, reason=reason, warehouse=settings.warehouse
        )
    write(moved, _rollback_text, output)


def _rollback_text(moved: Rollback) -> Iterator[str]:
    was = f"v{moved.before.version}" if moved.before is not None else "none"
    now = moved.after
    restored = f" (the data of v{now.restored_version})" if now.restored_version is not None else ""
    yield f"{moved.source}: current version {was} → v{now.version}{restored}"
