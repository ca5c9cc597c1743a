"""Reading a source too large for memory: its files become a staged batch, a window of rows at a time.

`read_source` parses a source into one frame; that frame, and every step's copy of it, grows with the
source. A source whose files are larger than the run allows to hold (a quarter of its memory limit,
`flows.pipeline.RunContext`) is instead read into a
`storage.staging.Staged` batch: polars' streaming engine parses each CSV file straight into a Parquet
copy (row groups of one window), the field-count check runs over that copy in streaming passes
(`sources.records.proven_clean`), and the copy becomes the stage's part, read back a row group at a
time; when null tokens or blank lines make the rows delivered differ from the text read, its windows
are rewritten with the tokens applied and the blank lines left out, exactly as `read_source` delivers
them. Parquet files (PostgreSQL
extracts among them) are staged a window of row groups at a time.

A CSV file whose records cannot be proven to have the header's field count (a short or long record,
a quote polars refuses) is not staged: `stage_source` says so, and the caller reads the source whole,
which finds, names and quarantines those records. NDJSON files, whose types are inferred from every
line of the file, are read whole too.
"""

from __future__ import annotations

import codecs
import contextlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

import polars as pl
import pyarrow.parquet as pq

from sources.connectors import (
    NATIVE_CODECS,
    check_header,
    csv_options,
    file_format,
    finish_text,
    transcode_to_utf8,
)
from sources.errors import SourceReadError
from sources.passport import CsvOptions
from sources.records import proven_clean

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from sources.passport import Connector
    from storage.staging import Staged

STAGEABLE_FORMATS = frozenset({"csv", "parquet"})


@dataclass
class StagedRead:
    """What staging a source's files gave (its rows are in the stage), as `SourceFrame` says it."""

    files_without_rows: list[str] = field(default_factory=list)


def can_stage(spec: Connector) -> bool:
    """Whether the connector's files can be staged (CSV and Parquet; NDJSON is read whole)."""
    return file_format(spec) in STAGEABLE_FORMATS


SAMPLE_BYTES = 2**20
MIN_WINDOW_ROWS = 1_000


def window_rows(spec: Connector, path: Path, window_bytes: int) -> int:
    """Rows of `path` that hold about `window_bytes` of its data: estimated from its first MiB (CSV), or
    from its row groups' uncompressed size (Parquet)."""
    if file_format(spec) == "parquet":
        meta = pq.ParquetFile(path).metadata
        size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        per_row = size / max(1, meta.num_rows)
    else:
        with path.open("rb") as raw:
            sample = raw.read(SAMPLE_BYTES)
        per_row = len(sample) / max(1, sample.count(b"\n"))
    return max(MIN_WINDOW_ROWS, int(window_bytes / max(per_row, 1.0)))


def stage_source(
    spec: Connector,
    paths: Sequence[Path],
    labels: Sequence[str],
    stage: Staged,
    *,
    window_rows: int,
    workdir: Path | None = None,
) -> StagedRead | None:
    """Stage every file of the source into `stage`, in file order, `window_rows` rows at a time.

    None when a file must be read whole instead (see the module docstring); the stage is then emptied.
    Every file must have the first file's columns, as `read_source` requires.
    """
    read = StagedRead()
    for path, label in zip(paths, labels, strict=True):
        if not path.is_file():
            raise SourceReadError(path, None, "file not found")
        if path.stat().st_size == 0:
            raise SourceReadError(path, None, "file is empty")
        before = stage.rows
        staged = (
            _stage_csv(spec, path, stage, window_rows, workdir, labels[0])
            if isinstance(spec, CsvOptions) and file_format(spec) == "csv"
            else _stage_parquet(path, stage, window_rows, labels[0], label)
        )
        if not staged:
            stage.remove()
            return None
        if stage.rows == before:
            read.files_without_rows.append(label)
    return read


def _stage_csv(
    spec: CsvOptions, path: Path, stage: Staged, window_rows: int, workdir: Path | None, first: str
) -> bool:
    codec = codecs.lookup(spec.encoding).name
    if codec in NATIVE_CODECS:
        return _stage_utf8_csv(spec, path, path, stage, window_rows, first)
    with tempfile.TemporaryDirectory(prefix="lockgate-transcode-", dir=workdir) as tmp:
        utf8 = Path(tmp) / "utf8.csv"
        transcode_to_utf8(path, codec, utf8)
        return _stage_utf8_csv(spec, utf8, path, stage, window_rows, first)


def _stage_utf8_csv(
    spec: CsvOptions, path: Path, origin: Path, stage: Staged, window_rows: int, first: str
) -> bool:
    """Parse `path` into a Parquet copy of its text, prove its records whole, then stage its windows."""
    empty_is_null = "" in spec.null_values
    text = stage.folder / f"text-{len(stage.parts):05d}.parquet"
    try:
        # low_memory: polars' reader then holds smaller chunks of the file (measured on 1.27 GB: peak
        # 842 → 485 MB with row groups of 100,000 rows; time unchanged).
        scan = pl.scan_csv(path, low_memory=True, **csv_options(spec, empty_is_null, truncate=False))
        scan.sink_parquet(text, compression="lz4", row_group_size=window_rows, statistics=False)
    except pl.exceptions.PolarsError:
        # polars' message quotes the data; the whole read finds the record to blame, and says why.
        return False
    adopted = False
    try:
        copy = pl.scan_parquet(text)
        check_header(spec, copy.collect_schema().names(), origin)
        if not proven_clean(spec, path, copy):
            return False
        schema = copy.collect_schema()
        if _delivered_as_read(spec, copy) and _check_columns(stage, schema, origin, first):
            stage.adopt(text)  # the copy holds the rows as delivered: it is the part, not rewritten
            adopted = True
            return True
        for window in _windows(text, window_rows):
            _add(stage, finish_text(spec, window), origin, first)
        return True
    finally:
        if not adopted:
            text.unlink(missing_ok=True)


def _delivered_as_read(spec: CsvOptions, copy: pl.LazyFrame) -> bool:
    """Whether `finish_text` would change nothing: no null token but the empty field (which polars
    already read as null) and no blank line (one streaming pass)."""
    if any(spec.null_values):
        return False
    blank = copy.select(pl.all_horizontal(pl.all().is_null()).any()).collect(engine="streaming").item()
    return not blank


def _stage_parquet(path: Path, stage: Staged, window_rows: int, first: str, label: str) -> bool:
    try:
        for window in _windows(path, window_rows):
            _add(stage, window, label, first)
    except (pl.exceptions.PolarsError, OSError) as exc:
        if isinstance(exc, SourceReadError):
            raise
        raise SourceReadError(path, None, f"not a readable Parquet file ({type(exc).__name__})") from None
    return True


def _windows(path: Path, window_rows: int) -> Iterator[pl.DataFrame]:
    """The rows of a Parquet file, `window_rows` at a time (a row group's worth of memory each)."""
    file = pq.ParquetFile(path)
    try:
        for batch in file.iter_batches(batch_size=window_rows):
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            yield frame
    finally:
        with contextlib.suppress(OSError):
            file.close()


def _add(stage: Staged, window: pl.DataFrame, origin: Path | str, first: str) -> None:
    """Add a window, after checking it has the columns (and, for Parquet, the types) staged so far."""
    if not _check_columns(stage, window.schema, origin, first):
        window = window.select(list(stage.schema or {}))
    stage.add(window)


def _check_columns(stage: Staged, schema: pl.Schema, origin: Path | str, first: str) -> bool:
    """Whether `schema` is the stage's as it is; True too for the stage's first part. Columns in
    another order are accepted (False: select them in the stage's order); others raise, naming the file."""
    if stage.schema is None or schema == stage.schema:
        return True
    expected = list(stage.schema)
    missing = [c for c in expected if c not in schema]
    extra = [c for c in schema if c not in expected]
    name = PurePath(first).name
    if missing or extra:
        parts = [f"missing {', '.join(missing)}"] if missing else []
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        raise SourceReadError(origin, None, f"columns differ from {name}: {'; '.join(parts)}")
    differing = [c for c in expected if schema[c] != stage.schema[c]]
    if differing:
        raise SourceReadError(origin, None, f"column types differ from {name}: {', '.join(differing)}")
    return False
