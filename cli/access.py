"""``lockgate query --as ROLE`` and ``lockgate access build|show|policy``: who can see what, and seeing it.

A role reads its own output only (built from the catalog's ``access.yaml`` after every ingest run); the
user comes from the ``LOCKGATE_USER`` setting or the OS login and must hold the role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import exit_on_failure
from cli.options import DEFAULT_CATALOG, DEFAULT_LAKE, CatalogOption, FormatOption, LakeOption
from cli.output import OutputFormat, write

if TYPE_CHECKING:
    from collections.abc import Iterator

    import polars as pl
    from rich.console import RenderableType

    from flows.access import RoleBuild
    from sources.access import RoleAccess

commands = typer.Typer()
access_app = typer.Typer(
    help="Roles and what they may read: build their outputs, show them, print S3 policies.",
    no_args_is_help=True,
)

RoleOption = Annotated[str, typer.Option("--role", help="A role defined in the catalog's access.yaml.")]


@commands.command("query")
def query(
    sql: Annotated[str, typer.Argument(help="One SELECT over the role's datasets.")],
    role: Annotated[str, typer.Option("--as", help="The role to query as (access.yaml).")],
    lake: LakeOption = DEFAULT_LAKE,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Query as a role: its own datasets and columns only, in a locked read-only session; audited."""
    from flows.role_session import query_as
    from flows.settings import current_settings

    with exit_on_failure():
        result = query_as(lake, role, sql, warehouse=current_settings().warehouse)
    write(_Rows(result.frame), _frame_text, output, columns=result.frame.columns)


@dataclass(frozen=True)
class _Rows:
    """A result frame as rows: one JSON object, or one CSV row, per row."""

    frame: pl.DataFrame

    def to_json_dict(self) -> Any:
        from pydantic import RootModel

        return [RootModel[dict[str, Any]](row).model_dump(mode="json") for row in self.frame.to_dicts()]


def _frame_text(rows: _Rows) -> Iterator[RenderableType]:
    table = Table()
    for name in rows.frame.columns:
        table.add_column(Text(name))
    for row in rows.frame.iter_rows():
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    yield table
    yield f"{rows.frame.height} row(s)"


@access_app.command()
def build(
    catalog: CatalogOption = DEFAULT_CATALOG,
    lake: LakeOption = DEFAULT_LAKE,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Build every role's output from the current curated data (ingest runs do this after publishing)."""
    from flows.access import build_role_outputs
    from flows.settings import current_settings
    from storage.integrity import open_existing

    with exit_on_failure():
        open_existing(lake)
        builds = build_role_outputs(catalog, lake, warehouse=current_settings().warehouse)
    write(builds, _builds_text, output, columns=("role", "datasets", "written", "removed", "database"))


def _builds_text(builds: list[RoleBuild]) -> Iterator[RenderableType]:
    if not builds:
        yield "the catalog defines no roles (no access.yaml): no role outputs"
    for b in builds:
        yield Text(
            f"{b.role}: {', '.join(b.datasets) or 'no dataset'} "
            f"({b.written} object(s) written, {b.removed} removed) → {b.database}"
        )


@dataclass(frozen=True)
class _ShownColumn:
    role: str
    dataset: str
    column: str
    shown: str  # clear | masked | decrypted | none | dataset denied
    reason: str


@access_app.command()
def show(
    catalog: CatalogOption = DEFAULT_CATALOG,
    role: Annotated[str | None, typer.Option("--role", help="Only this role.")] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """What each role sees of each dataset and column, and why, as access.yaml decides."""
    from contracts.errors import UnknownNameError
    from labeling.access import catalog_access
    from sources.catalog import load_catalog

    with exit_on_failure():
        granted = catalog_access(load_catalog(catalog)) or []
        if role is not None:
            granted = [a for a in granted if a.role == role]
            if not granted:
                raise UnknownNameError(f"access.yaml in {catalog} defines no role {role!r}")
    write(_shown(granted), _shown_text, output, columns=tuple(_ShownColumn.__dataclass_fields__))


def _shown(granted: list[RoleAccess]) -> list[_ShownColumn]:
    rows = []
    for access in granted:
        for dataset in access.datasets:
            if not dataset.readable:
                rows.append(_ShownColumn(access.role, dataset.dataset, "*", "denied", dataset.reason))
                continue
            for column in dataset.columns:
                shown = "decrypted" if column.decrypt_key else column.visibility.value
                rows.append(_ShownColumn(access.role, dataset.dataset, column.name, shown, column.reason))
    return rows


def _shown_text(rows: list[_ShownColumn]) -> Iterator[RenderableType]:
    if not rows:
        yield "the catalog defines no roles (no access.yaml)"
        return
    table = Table()
    for name in ("role", "dataset", "column", "shown", "why"):
        table.add_column(name)
    style = {"clear": "green", "decrypted": "yellow", "masked": "cyan", "none": "red", "denied": "red"}
    for r in rows:
        table.add_row(r.role, r.dataset, Text(r.column), Text(r.shown, style=style[r.shown]), Text(r.reason))
    yield table


@dataclass(frozen=True)
class _Policy:
    document: dict[str, Any]

    def to_json_dict(self) -> dict[str, Any]:
        return self.document


@access_app.command()
def policy(
    role: RoleOption, lake: LakeOption = DEFAULT_LAKE, output: FormatOption = OutputFormat.TEXT
) -> None:
    """An IAM policy for a role on an S3 lake: its own prefix only; raw and quarantine denied."""
    from storage.roles import iam_policy

    with exit_on_failure():
        document = iam_policy(lake, role)
    write(_Policy(document), lambda p: [json.dumps(p.document, indent=2)], output)
