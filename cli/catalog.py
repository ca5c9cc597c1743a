"""``lockgate validate`` and ``lockgate schema``: check a catalog, and write the JSON Schemas it uses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from cli.errors import EXIT_FAILED, exit_on_failure
from cli.options import DEFAULT_CATALOG, CatalogOption
from cli.output import write

if TYPE_CHECKING:
    from collections.abc import Iterator

    from labeling.catalog import CatalogCheck

commands = typer.Typer()


@commands.command()
def validate(catalog: CatalogOption = DEFAULT_CATALOG) -> None:
    """Check every passport, contract and labeling plan; report all mistakes as file:line:column: message."""
    from labeling.catalog import check_catalog

    with exit_on_failure(EXIT_FAILED):
        summary = check_catalog(catalog)
    write(summary, _summary_text)


def _summary_text(summary: CatalogCheck) -> Iterator[Text]:
    yield Text.assemble(
        ("ok", "green"),
        f": {summary.sources} source(s), {summary.contracts} contract(s), "
        f"{summary.plans} labeling plan(s) in {summary.root}",
    )


@commands.command()
def schema(
    out: Annotated[Path, typer.Option(help="Folder to write the JSON Schemas into.")] = Path("schemas"),
) -> None:
    """Write JSON Schemas for passports, contracts and labeling plans (reference them from YAML)."""
    from labeling.catalog import write_catalog_schemas

    write(write_catalog_schemas(out), _written_text)


def _written_text(paths: list[Path]) -> Iterator[str]:
    return (f"wrote {path}" for path in paths)
