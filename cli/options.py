"""Options several command groups share, so each is spelled, defaulted and documented once."""

from __future__ import annotations

from enum import StrEnum
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


def _table_is_text(value: OutputFormat) -> OutputFormat:
    return OutputFormat.TEXT if value is OutputFormat.TABLE else value


FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        help="text or table (tables for people), json (for tools) or csv (for sheets).",
        callback=_table_is_text,
    ),
]


class TaskRunner(StrEnum):
    """Where the per-file work of a source with several files runs (`flows.partitions`)."""

    THREAD = "thread"
    DASK = "dask"


TaskRunnerOption = Annotated[
    TaskRunner,
    typer.Option(
        "--task-runner",
        help="Where sources with several files are read file by file (and on Dask masked in slices): "
        "thread (threads of this process) or dask (the scheduler LOCKGATE_DASK_ADDRESS names, else a "
        "local cluster).",
    ),
]
MemoryLimitOption = Annotated[
    str | None,
    typer.Option(
        "--memory-limit",
        help="Memory a source's rows may take (2GiB, 512MB, bytes; default LOCKGATE_MEMORY_LIMIT, else "
        "2GiB): a source whose files are larger than a quarter of it is staged on disk and worked a "
        "window at a time.",
        show_default=False,
    ),
]
DaskWorkersOption = Annotated[
    int | None,
    typer.Option(
        "--dask-workers",
        min=1,
        help="Worker processes of the local Dask cluster (default: one per core); with "
        "LOCKGATE_DASK_ADDRESS the cluster's own workers are used.",
    ),
]
