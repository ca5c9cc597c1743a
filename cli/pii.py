"""``lockgate pii scan``: find personal data in a local file before anyone writes a passport for it."""

from __future__ import annotations

from pathlib import Path  # noqa: TC003 - Typer reads the annotations at runtime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import EXIT_FAILED, EXIT_INVALID, exit_on_failure
from cli.options import FormatOption  # noqa: TC001 - Typer reads annotations at runtime
from cli.output import OutputFormat, write

if TYPE_CHECKING:
    from collections.abc import Iterator

    from contracts.pii import ScanReport

pii_app = typer.Typer(help="Find personal data in files.", no_args_is_help=True)


@pii_app.command("scan")
def scan(
    path: Annotated[Path, typer.Argument(help="A CSV, Parquet or NDJSON file.", exists=True, dir_okay=False)],
    output: FormatOption = OutputFormat.TEXT,
    delimiter: Annotated[str, typer.Option(help="CSV delimiter.")] = ",",
    encoding: Annotated[str, typer.Option(help="CSV text encoding, e.g. cp1251.")] = "utf-8",
    sample_rows: Annotated[
        int | None,
        typer.Option(help="Scan a uniform sample of this many rows instead of every row (faster).", min=1),
    ] = None,
    fail_on_find: Annotated[bool, typer.Option(help="Exit 1 when anything is found (for CI).")] = False,
) -> None:
    """Report which columns hold which kinds of personal data, with row counts; never the values."""
    from sources.local_file import scan_local_file

    with exit_on_failure(EXIT_INVALID):
        report = scan_local_file(path, delimiter=delimiter, encoding=encoding, sample_rows=sample_rows)
    write(report, lambda found: _report_text(path, found), output)
    if fail_on_find and not report.clean:
        raise typer.Exit(EXIT_FAILED)


def _report_text(path: Path, report: ScanReport) -> Iterator[Table | Text]:
    table = Table(title=Text(f"{path}: personal data by column"), title_justify="left")
    for column in ("column", "kinds (rows)", "rows scanned"):
        table.add_column(column)
    for name, found in report.columns.items():
        kinds = ", ".join(f"{k} ({n})" for k, n in sorted(found.kinds.items())) or "-"
        table.add_row(Text(name), kinds, str(found.rows_scanned))
    yield table
    if report.sampled:
        yield Text(
            f"scanned a sample of {report.rows_scanned} of {report.rows_total} rows; a kind in at least "
            f"{report.min_detectable_fraction:.3%} of rows is found with 95% confidence"
        )
    else:
        yield Text(f"scanned every row ({report.rows_total})")
    for name, found in report.columns.items():
        if found.ner_rows is not None:
            yield Text(
                f"{name}: person names read on a sample of {found.ner_rows} of {found.ner_candidates} rows"
            )
