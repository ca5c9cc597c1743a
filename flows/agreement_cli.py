"""``lockgate agreement FILE``: how far the annotators of a labeling batch agree.

Reads long-form annotations (``item_id, annotator, label`` as CSV, a JSON array or NDJSON) and prints
Krippendorff's α, Fleiss' κ and Cohen's κ where they apply, per-annotator and per-label agreement.
Exit 1 with the problem on stderr when the file cannot be used. The statistics stack (polars, numpy,
scikit-learn, statsmodels) is imported only when the command runs, so ``lockgate --help`` stays fast.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path  # noqa: TC003 - Typer reads the annotations at runtime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flows.contract_cli import OutputFormat

if TYPE_CHECKING:
    from labeling.agreement import AgreementReport

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class MeasurementLevel(StrEnum):
    NOMINAL = "nominal"
    ORDINAL = "ordinal"
    INTERVAL = "interval"
    RATIO = "ratio"


def agreement(
    file: Annotated[Path, typer.Argument(help="Annotations: CSV/TSV, JSON array or NDJSON.")],
    level: Annotated[
        MeasurementLevel, typer.Option("--level", help="Level of measurement of the labels.")
    ] = MeasurementLevel.NOMINAL,
    output: Annotated[OutputFormat, typer.Option("--format", help="text or json.")] = OutputFormat.TEXT,
) -> None:
    """Inter-annotator agreement of a file of annotations (item_id, annotator, label)."""
    from labeling.agreement import agreement as measure
    from labeling.agreement import load_annotations
    from labeling.errors import AnnotationsError

    try:
        report = measure(load_annotations(file, level=level.value), level.value)
    except AnnotationsError as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(1) from exc
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        _print_text(file, report)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _print_text(file: Path, report: AgreementReport) -> None:
    from labeling.agreement import alpha_band, kappa_band

    console.print(
        f"{escape(str(file))}: {report.annotations} annotation(s) of {report.items} item(s) "
        f"by {report.annotators} annotator(s), level {report.level}",
        highlight=False,
    )
    summary = Table(title="Agreement", title_justify="left")
    for column in ("measure", "value", "reading"):
        summary.add_column(column)
    summary.add_row(
        "Krippendorff's α", _number(report.krippendorff_alpha), alpha_band(report.krippendorff_alpha)
    )
    summary.add_row("Fleiss' κ", _number(report.fleiss_kappa), kappa_band(report.fleiss_kappa))
    summary.add_row("Cohen's κ", _number(report.cohen_kappa), kappa_band(report.cohen_kappa))
    console.print(summary)
    console.print(_annotator_table(report))
    console.print(_label_table(report))
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)


def _annotator_table(report: AgreementReport) -> Table:
    table = Table(title="Per annotator", title_justify="left")
    for column in ("annotator", "items", "paired", "agreement", "Cohen's κ with others"):
        table.add_column(column)
    for name, stats in report.per_annotator.items():
        kappas = ", ".join(f"{escape(o)} {_number(k)}" for o, k in stats.cohen_kappa.items()) or "-"
        table.add_row(
            escape(name), str(stats.items), str(stats.paired_items), _number(stats.agreement), kappas
        )
    return table


def _label_table(report: AgreementReport) -> Table:
    table = Table(title="Per label", title_justify="left")
    for column in ("label", "annotations", "majority items", "specific agreement"):
        table.add_column(column)
    for label, stats in report.per_label.items():
        table.add_row(
            escape(label),
            str(stats.annotations),
            str(stats.majority_items),
            _number(stats.specific_agreement),
        )
    return table
