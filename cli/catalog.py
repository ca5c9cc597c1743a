"""``lockgate validate`` and ``lockgate schema``: check a catalog, and write the JSON Schemas it uses."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from cli.errors import EXIT_FAILED, exit_on_failure
from cli.options import DEFAULT_CATALOG, CatalogOption, FormatOption
from cli.output import OutputFormat, write

if TYPE_CHECKING:
    from collections.abc import Iterator

    from contracts.diagnostics import Problem
    from labeling.catalog import CatalogCheck

PROBLEM_COLUMNS = ("file", "line", "column", "field", "message")

commands = typer.Typer()


@commands.command()
def validate(
    catalog: CatalogOption = DEFAULT_CATALOG,
    output: FormatOption = OutputFormat.TEXT,
    cache: Annotated[
        bool,
        typer.Option(
            "--cache/--no-cache",
            help="Reuse Great Expectations' verdicts on rules it has judged before (kept in "
            "$XDG_CACHE_HOME/lockgate); --no-cache asks it about every rule again (≈10 s slower).",
        ),
    ] = True,
) -> None:
    """Check every passport, contract and labeling plan; report all mistakes as file:line:column: message.

    Exits 0 when the catalog is valid, 1 when it has mistakes (with --format json or csv they are
    printed on stdout as records with file, line, column, field and message).
    """
    from contracts.errors import CatalogError
    from contracts.rule_verdicts import default_cache_dir
    from labeling.catalog import check_catalog

    summary: CatalogCheck | None = None
    problems: list[Problem] = []
    with exit_on_failure(EXIT_FAILED):
        try:
            summary = check_catalog(catalog, verdict_cache=default_cache_dir() if cache else None)
        except CatalogError as exc:
            if output is OutputFormat.TEXT:
                raise
            problems = list(exc.problems)
    if output is OutputFormat.CSV:
        write(problems, lambda _: (), output, columns=PROBLEM_COLUMNS)  # one row per problem
    else:
        write(ValidationReport(catalog, summary, problems), _report_text, output)
    if problems:
        raise typer.Exit(EXIT_FAILED)


@dataclass(frozen=True)
class ValidationReport:
    """What `lockgate validate --format json` prints: the catalog's counts when valid, else its problems."""

    root: Path
    summary: CatalogCheck | None
    problems: list[Problem]

    def to_json_dict(self) -> dict[str, Any]:
        counts = dataclasses.asdict(self.summary) if self.summary is not None else {}
        counts.pop("root", None)
        return {
            "catalog": str(self.root),
            "valid": not self.problems,
            **counts,  # sources, contracts, plans, ...: what the catalog holds, when valid
            "problems": [
                {name: _json_value(getattr(p, name)) for name in PROBLEM_COLUMNS} for p in self.problems
            ],
        }


def _json_value(value: object) -> object:
    return value if isinstance(value, int | str) else str(value)


def _report_text(report: ValidationReport) -> Iterator[Text]:
    if report.summary is not None:
        yield from _summary_text(report.summary)


def _summary_text(summary: CatalogCheck) -> Iterator[Text]:
    yield Text.assemble(
        ("ok", "green"),
        f": {summary.sources} source(s), {summary.contracts} contract(s), "
        f"{summary.plans} labeling plan(s) in {summary.root}",
    )


@commands.command()
def schema(
    out: Annotated[Path, typer.Option(help="Folder to write the JSON Schemas into.")] = Path("schemas"),
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Write JSON Schemas for passports, contracts and labeling plans (reference them from YAML)."""
    from labeling.catalog import write_catalog_schemas

    written = [{"path": str(path)} for path in write_catalog_schemas(out)]
    write(written, _written_text, output, columns=("path",))


def _written_text(written: list[dict[str, str]]) -> Iterator[str]:
    return (f"wrote {row['path']}" for row in written)
