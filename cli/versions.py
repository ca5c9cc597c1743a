"""``lockgate versions`` and ``lockgate rollback``: a dataset's curated versions, and moving between them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import exit_on_failure, exit_with_error
from cli.options import DEFAULT_LAKE, LakeOption
from cli.output import write

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import RenderableType

    from storage.curated import DatasetVersions
    from storage.warehouse import Rollback

commands = typer.Typer()

SourceArgument = Annotated[str, typer.Argument(help="Dataset (source name).")]


@commands.command()
def versions(source: SourceArgument, lake: LakeOption = DEFAULT_LAKE) -> None:
    """List a dataset's curated versions and which one is current; then its history of pointer moves.

    Exits 1 after the listing when the current version's data no longer matches its checksum.
    """
    from storage.curated import lake_versions

    with exit_on_failure():
        found = lake_versions(lake, source)
    if not found.versions:
        exit_with_error(f"no curated versions of '{source}' in {lake}")
    write(found, _versions_text)
    if found.problem:
        exit_with_error(found.problem)


def _versions_text(found: DatasetVersions) -> Iterator[RenderableType]:
    table = Table(title=Text(f"{found.source}: curated versions"), title_justify="left")
    for column in ("", "version", "created (UTC)", "rows", "contract", "run", "input sha256"):
        table.add_column(column)
    for v in found.versions:
        table.add_row(
            "→" if v.version == found.current else "",
            f"v{v.version}",
            v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            str(v.rows),
            Text(f"{v.contract_id} {v.contract_version}"),
            Text(v.run_id),
            ", ".join(sha[:12] for sha in v.input_sha256),
        )
    yield table
    for change in found.history:
        yield f"{change.at:%Y-%m-%d %H:%M:%S}  {change.describe()}"


@commands.command()
def rollback(
    source: SourceArgument,
    to: Annotated[int, typer.Option("--to", help="Version to make current.", min=1)],
    lake: LakeOption = DEFAULT_LAKE,
    reason: Annotated[str, typer.Option(help="Why; kept in the dataset's history.")] = "rollback",
) -> None:
    """Make an earlier (or later) version current again; versions themselves are never changed."""
    from flows.settings import current_settings
    from storage.warehouse import rollback_dataset

    with exit_on_failure():
        moved = rollback_dataset(lake, source, to, reason=reason, warehouse=current_settings().warehouse)
    write(moved, _rollback_text)


def _rollback_text(moved: Rollback) -> Iterator[str]:
    was = f"v{moved.before.version}" if moved.before is not None else "none"
    if moved.replaced_pointer:
        was = "an unreadable pointer"
    yield f"{moved.source}: current version {was} → v{moved.after.version}; warehouse view updated"
