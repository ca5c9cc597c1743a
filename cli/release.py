"""``lockgate release show|verify ID``: what a release id is made of, and whether the lake still agrees."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import EXIT_FAILED, exit_on_failure
from cli.options import DEFAULT_LAKE, FormatOption, LakeOption
from cli.output import OutputFormat, write

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import RenderableType

    from storage.release_check import ReleaseFound, ReleaseVerification

release_app = typer.Typer(help="Show and verify release ids of curated versions.", no_args_is_help=True)

ReleaseArgument = Annotated[str, typer.Argument(help="Release id (rel-…), as `lockgate versions` shows it.")]


@release_app.command()
def show(
    release: ReleaseArgument, lake: LakeOption = DEFAULT_LAKE, output: FormatOption = OutputFormat.TEXT
) -> None:
    """Print every part of a release id and the versions that carry it."""
    from storage.release_check import show_release

    with exit_on_failure():
        found = show_release(lake, release)
    write(found, _show_text, output)


def _show_text(found: ReleaseFound) -> Iterator[RenderableType]:
    parts = found.parts
    yield Text(found.release_id, style="bold")
    table = Table(show_header=False, box=None)
    rows = [
        ("contract", f"{parts.contract_id} {parts.contract_version} (sha256 {parts.contract_sha256[:16]}…)"),
        ("code", parts.code_version),
        ("inputs", "\n".join(parts.inputs) or "none"),
        ("masking keys", ", ".join(f"{c}={k}" for c, k in sorted(parts.key_ids.items())) or "none"),
        ("erasures", "\n".join(parts.erasures) or "none"),
        ("configuration", ", ".join(f"{k}={v}" for k, v in sorted(parts.config.items())) or "none"),
        ("versions", ", ".join(f"{v.source} v{v.version} ({v.action})" for v in found.versions)),
    ]
    for name, value in rows:
        table.add_row(name, Text(value))
    yield table


@release_app.command()
def verify(
    release: ReleaseArgument, lake: LakeOption = DEFAULT_LAKE, output: FormatOption = OutputFormat.TEXT
) -> None:
    """Recompute a release id from what the lake stores and re-hash its raw inputs; exit 1 on a mismatch."""
    from storage.release_check import verify_release

    with exit_on_failure():
        checked = verify_release(lake, release)
    write(checked, _verify_text, output)
    if not checked.ok:
        raise typer.Exit(EXIT_FAILED)


def _verify_text(checked: ReleaseVerification) -> Iterator[RenderableType]:
    same = checked.recomputed == checked.release_id
    yield Text(
        f"{checked.release_id}: parts hash to {checked.recomputed}" + ("" if same else " (MISMATCH)"),
        style="green" if same else "red",
    )
    for check in checked.inputs:
        where = f" ({check.key})" if check.key else ""
        style = {"verified": "green", "mismatch": "red"}.get(check.state, "yellow")
        yield Text(f"input {check.sha256[:16]}…: {check.state}{where}", style=style)
    yield Text(
        "release verified" if checked.ok else "release NOT verified", style="green" if checked.ok else "red"
    )
