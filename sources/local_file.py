"""One local file, read by its suffix rather than through a passport: for looking at a file before a
data owner has written one (``lockgate pii scan``), or from a notebook.

The file goes through the same connector readers a source does, so encodings, CSV quirks and error
messages (which name the file and line, never a value) are the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from sources.connectors import read_frame
from sources.errors import SourceReadError
from sources.passport import CsvConnector, NdjsonConnector, ParquetConnector

if TYPE_CHECKING:
    from pathlib import Path

    import polars as pl

    from contracts.pii import ScanReport

# Suffix → connector kind; .tsv is CSV with a tab delimiter.
FILE_KINDS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}


def local_connector(
    path: Path, *, delimiter: str = ",", encoding: str = "utf-8"
) -> CsvConnector | ParquetConnector | NdjsonConnector:
    """The connector a passport would declare for `path`, chosen by its suffix.

    `delimiter` and `encoding` apply to delimited text only (a ``.tsv`` is always tab-delimited).
    Raises `SourceReadError` for a suffix Lockgate cannot read or an option the connector refuses.
    """
    suffix = path.suffix.lower()
    kind = FILE_KINDS.get(suffix)
    try:
        if kind == "csv":
            return CsvConnector.model_validate(
                {
                    "kind": kind,
                    "path": path.name,
                    "delimiter": "\t" if suffix == ".tsv" else delimiter,
                    "encoding": encoding,
                }
            )
        if kind == "parquet":
            return ParquetConnector.model_validate({"kind": kind, "path": path.name})
        if kind == "ndjson":
            return NdjsonConnector.model_validate({"kind": kind, "path": path.name})
    except ValidationError as exc:
        raise SourceReadError(path, None, exc.errors(include_url=False)[0]["msg"]) from None
    known = ", ".join(FILE_KINDS)
    raise SourceReadError(path, None, f"unknown file type '{path.suffix}'; use one of {known}")


def read_local_file(path: Path, *, delimiter: str = ",", encoding: str = "utf-8") -> pl.DataFrame:
    """Read a CSV/TSV, Parquet or NDJSON file into one frame (CSV columns as strings)."""
    return read_frame(local_connector(path, delimiter=delimiter, encoding=encoding), [path])


def scan_local_file(
    path: Path, *, delimiter: str = ",", encoding: str = "utf-8", sample_rows: int | None = None
) -> ScanReport:
    """Which columns of a local file hold which kinds of personal data, with row counts; never values.

    Every row is read unless `sample_rows` asks for a uniform sample of that many (faster on a large
    file, at the cost of missing rare kinds: the report says how rare).
    """
    from contracts.pii import scan_frame

    frame = read_local_file(path, delimiter=delimiter, encoding=encoding)
    return scan_frame(frame, sample_rows=sample_rows)
