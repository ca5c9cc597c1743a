"""Options several command groups share, so each is spelled, defaulted and documented once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.output import OutputFormat

DEFAULT_CATALOG = Path("catalog")
DEFAULT_LAKE = "lake"

CatalogOption = Annotated[
    Path, typer.Option("--catalog", "-c", help="Catalog folder (with sources/, contracts/, labeling/).")
]
LakeOption = Annotated[
    str,
    typer.Option(
        "--lake",
        "-l",
        help="Lake location: a local folder (relative to the current directory) or s3://bucket/prefix "
        "(whose DuckDB warehouse file LOCKGATE_WAREHOUSE names).",
        envvar="LOCKGATE_LAKE",
    ),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", help="text (tables for people), json (for tools) or csv (for sheets)."),
]
