"""``lockgate retention apply [--dry-run]``: enforce each passport's ``retention_days`` on the lake and
print what it freed, per source and layer (objects and bytes); keys and counts only, never data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.flow_runner import run_flow
from cli.options import DEFAULT_CATALOG, DEFAULT_LAKE, CatalogOption, FormatOption, LakeOption
from cli.output import OutputFormat, write

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import RenderableType

    from storage.retention import RetentionReport

retention_app = typer.Typer(
    help="Remove what each source's passport no longer allows the lake to keep.", no_args_is_help=True
)


@retention_app.command()
def apply(
    catalog: CatalogOption = DEFAULT_CATALOG,
    lake: LakeOption = DEFAULT_LAKE,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be removed (audited as a dry run).")
    ] = False,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Remove raw landings, quarantined rows, Data Docs and curated history older than each source's
    retention_days (never the current curated version), audit every removal, print what it freed.

    Exits 1 when some layer could not be removed (what was removed is audited), 2 for catalog mistakes.
    """
    from flows.retention import retention

    report = run_flow(retention, failure="retention failed", catalog=str(catalog), lake=lake, dry_run=dry_run)
    write(report, _report_text, output)


def _size(count: int) -> str:
    """Bytes for people, in powers of 1024."""
    if count < 1024:
        return f"{count} B"
    value, units = count / 1024, ["KiB", "MiB", "GiB", "TiB"]
    while value >= 1024 and len(units) > 1:
        value, units = value / 1024, units[1:]
    return f"{value:.1f} {units[0]}"


def _report_text(report: RetentionReport) -> Iterator[RenderableType]:
    verb = "would free" if report.dry_run else "freed"
    title = f"Retention{' (dry run)' if report.dry_run else ''} as of {report.now:%Y-%m-%d %H:%M:%S} UTC"
    table = Table(title=title, title_justify="left")
    for column in ("source", "layer", "days", "objects", "bytes", "kept"):
        table.add_column(
            column, no_wrap=True, justify="right" if column in ("objects", "bytes", "kept") else "left"
        )
    for layer in report.layers:
        table.add_row(
            Text(layer.source),
            layer.layer,
            str(layer.retention_days),
            str(layer.objects),
            _size(layer.bytes),
            str(len(layer.kept)) if layer.kept else "-",
        )
    yield table
    for layer in report.layers:
        for kept in layer.kept:
            yield Text(f"kept {kept.key}: {kept.reason}", style="yellow")
    yield f"{verb} {report.objects} object(s), {_size(report.bytes)}"
