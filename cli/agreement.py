"""``lockgate agreement FILE``: how far the annotators of a labeling batch agree.

Reads long-form annotations (``item_id, annotator, label`` as CSV, a JSON array or NDJSON) and prints
Krippendorff's α, Fleiss' κ and Cohen's κ where they apply, per-annotator and per-label agreement.
Exit 1 with the problem on stderr when the file cannot be used. The statistics stack (polars, numpy,
scikit-learn, statsmodels) is imported only when the command runs, so ``lockgate --help`` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path  # noqa: TC003 - Typer reads the annotations at runtime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import exit_on_failure
from cli.options import FormatOption  # noqa: TC001 - Typer reads annotations at runtime
from cli.output import OutputFormat, write

if TYPE_CHECKING:
    from collections.abc import Iterator

    from labeling.agreement import AgreementReport


commands = typer.Typer()


class MeasurementLevel(StrEnum):
    NOMINAL = "nominal"
    ORDINAL = "ordinal"
    INTERVAL = "interval"
    RATIO = "ratio"


@commands.command()
def agreement(
    file: Annotated[Path, typer.Argument(help="Annotations: CSV/TSV, JSON array or NDJSON.")],
    level: Annotated[
        MeasurementLevel, typer.Option("--level", help="Level of measurement of the labels.")
    ] = MeasurementLevel.NOMINAL,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Inter-annotator agreement of a file of annotations (item_id, annotator, label)."""
    from labeling.agreement import agreement as measure
    from labeling.agreement import load_annotations

    with exit_on_failure():
        report = measure(load_annotations(file, level=level.value), level.value)
    write(report, lambda found: _report_text(file, found), output)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _report_text(file: Path, report: AgreementReport) -> Iterator[Table | Text]:
    from labeling.agreement import alpha_band, kappa_band

    yield Text(
        f"{file}: {report.annotations} annotation(s) of {report.items} item(s) "
        f"by {report.annotators} annotator(s), level {report.level}"
    )
    summary = Table(title="Agreement", title_justify="left")
    for column in ("measure", "value", "reading"):
        summary.add_column(column)
    summary.add_row(
        "Krippendorff's α", _number(report.krippendorff_alpha), alpha_band(report.krippendorff_alpha)
    )
    summary.add_row("Fleiss' κ", _number(report.fleiss_kappa), kappa_band(report.fleiss_kappa))
    summary.add_row("Cohen's κ", _number(report.cohen_kappa), kappa_band(report.cohen_kappa))
    yield summary
    yield _annotator_table(report)
    yield _label_table(report)
    for note in report.notes:
        yield Text.assemble(("note:", "yellow"), f" {note}")


def _annotator_table(report: AgreementReport) -> Table:
    table = Table(title="Per annotator", title_justify="left")
    for column in ("annotator", "items", "paired", "agreement", "Cohen's κ with others"):
        table.add_column(column)
    for name, stats in report.per_annotator.items():
        kappas = ", ".join(f"{other} {_number(k)}" for other, k in stats.cohen_kappa.items()) or "-"
        table.add_row(
            Text(name), str(stats.items), str(stats.paired_items), _number(stats.agreement), Text(kappas)
        )
    return table


def _label_table(report: AgreementReport) -> Table:
    table = Table(title="Per label", title_justify="left")
    for column in ("label", "annotations", "majority items", "specific agreement"):
        table.add_column(column)
    for label, stats in report.per_label.items():
        table.add_row(
            Text(label), str(stats.annotations), str(stats.majority_items), _number(stats.specific_agreement)
        )
    return table
