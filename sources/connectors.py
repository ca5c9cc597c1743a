"""File connectors: find a source's files next to the catalog and read them into one polars frame.

Reading is columnar (polars does the parsing); Python only streams bytes where polars cannot: to
transcode legacy encodings and, after polars has refused a file, to find the line to blame.
Errors name the file, the line and the kind of mistake, never the offending value: raw files hold
personal data, and error text ends up in logs, manifests and Prefect's UI.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import IO, TYPE_CHECKING, Any, Literal

import polars as pl

from sources.errors import SourceReadError
from sources.passport import (
    CsvConnector,
    CsvOptions,
    NdjsonConnector,
    ParquetConnector,
    PostgresConnector,
    S3Connector,
)
from sources.records import RaggedRecord, ragged_records

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sources.passport import Connector, S3Format

CHUNK_BYTES = 1024 * 1024
NATIVE_CODECS = frozenset({"utf-8", "utf-8-sig"})
UTF8_BOM = codecs.BOM_UTF8
_GLOB_CHARS = frozenset("*?[")


# --- finding files ---------------------------------------------------------------------------------


def resolve_files(spec: CsvConnector | ParquetConnector | NdjsonConnector, catalog_root: Path) -> list[Path]:
    """The files a connector names, sorted; refuses anything that resolves outside the catalog.

    The passport model already refuses absolute paths and '..'; the check here catches what a
    model cannot see: symlinks (of files or folders) that point out of the catalog folder.
    """
    root = catalog_root.absolute()
    real_root = root.resolve()
    pattern = spec.path
    if _GLOB_CHARS.isdisjoint(pattern):
        candidates = [root / pattern]
    else:
        # Editors' lock and swap files are hidden: a glob never picks them up.
        candidates = [p for p in root.glob(pattern) if not p.name.startswith(".")]
    files = sorted(p for p in candidates if p.is_file())
    if not files:
        raise SourceReadError(pattern, None, f"no file matches this path in catalog folder {root}")
    for path in files:
        if not path.resolve().is_relative_to(real_root):
            raise SourceReadError(
                path.relative_to(root), None, "resolves outside the catalog folder; refused"
            )
    return files


# --- reading ---------------------------------------------------------------------------------------


def read_frame(spec: Connector, paths: list[Path]) -> pl.DataFrame:
    """Read every file into one frame; files of one source must have the same columns.

    CSV columns all come back as strings: typing is the contract's job, and a reader that guesses
    types would silently turn ids like ``007`` into ``7``. A PostgreSQL source arrives as the Parquet
    file its extract wrote; an S3 source as the objects it downloaded, in their declared format.
    A CSV record with too few or too many fields raises, naming its file and line.
    """
    read = read_source(spec, paths)
    if read.malformed:
        first = read.malformed[0]
        raise SourceReadError(first.file, first.line, first.reason)
    return read.frame


@dataclass(frozen=True)
class MalformedRecord:
    """A CSV record whose field count is not the header's: where it starts, and its fields as read."""

    file: str
    line: int
    fields: int
    expected: int
    values: tuple[str, ...] = field(repr=False)  # for the quarantine only, never for messages

    @property
    def reason(self) -> str:
        return f"record has {self.fields} fields, the first record has {self.expected}"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class SourceFrame:
    """What reading a source's files gave: the rows, the malformed records left out, and the files
    that held no data row (a header-only CSV), named as the caller labelled them."""

    frame: pl.DataFrame
    malformed: list[MalformedRecord]
    files_without_rows: list[str]


def read_source(
    spec: Connector, paths: list[Path], labels: list[str] | None = None, *, workdir: Path | None = None
) -> SourceFrame:
    """`read_frame` that hands back malformed CSV records instead of raising, so that the caller's
    contract decides whether they block the source or are quarantined.

    `labels` name the files in what is returned (the raw layer's copies are read under their original
    names); by default each file's path. A file re-encoded to UTF-8 is written in `workdir` (the run's
    private working folder, see `storage.workdir`) when given.
    """
    if not paths:
        raise ValueError("read_frame needs at least one file")
    names = labels if labels is not None else [str(path) for path in paths]
    parts = [read_file(spec, path, name, workdir=workdir) for path, name in zip(paths, names, strict=True)]
    return combine_reads(spec, parts, paths)


def read_file(spec: Connector, path: Path, label: str, *, workdir: Path | None = None) -> SourceFrame:
    """One file of a source as `read_source` reads it, named `label`: a partition of a multi-file source,
    which `combine_reads` joins back into what `read_source` returns for all of them."""
    frame, ragged = _read_one(spec, path, workdir)
    malformed = [MalformedRecord(label, r.line, r.fields, frame.width, r.values) for r in ragged]
    return SourceFrame(frame, malformed, [label] if frame.height == 0 else [])


def combine_reads(spec: Connector, parts: Sequence[SourceFrame], files: Sequence[Path | str]) -> SourceFrame:
    """The files' `read_file` results, in file order, as one: frames stacked after checking each has the
    first file's columns (errors name `files`), malformed records and empty files listed in that order."""
    frames = [part.frame for part in parts]
    malformed = [record for part in parts for record in part.malformed]
    empty = [name for part in parts for name in part.files_without_rows]
    return SourceFrame(_concat(spec, files, frames), malformed, empty)


def _read_one(
    spec: Connector, path: Path, workdir: Path | None = None
) -> tuple[pl.DataFrame, list[RaggedRecord]]:
    if not path.is_file():
        raise SourceReadError(path, None, "file not found")
    if path.stat().st_size == 0:
        raise SourceReadError(path, None, "file is empty")
    match file_format(spec):
        case "csv":
            assert isinstance(spec, CsvOptions)
            return _read_csv(spec, path, workdir)
        case "ndjson":
            return _read_ndjson(path), []
        case "parquet":
            return _read_parquet(path), []


def file_format(spec: Connector) -> S3Format:
    """What the files handed to `read_frame` hold, whatever kind of connector delivered them."""
    if isinstance(spec, CsvConnector):
        return "csv"
    if isinstance(spec, NdjsonConnector):
        return "ndjson"
    if isinstance(spec, ParquetConnector | PostgresConnector):
        return "parquet"
    if isinstance(spec, S3Connector):
        return spec.format
    raise TypeError(f"unsupported connector kind: {type(spec).__name__}")


def _concat(spec: Connector, paths: Sequence[Path | str], frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Stack frames of several files, after checking that each has the first file's columns."""
    first = frames[0]
    if len(frames) == 1:
        return first
    first_name = PurePath(str(paths[0])).name
    aligned = [first]
    for path, frame in zip(paths[1:], frames[1:], strict=True):
        missing = [c for c in first.columns if c not in frame.columns]
        extra = [c for c in frame.columns if c not in first.columns]
        if missing or extra:
            parts = [f"missing {', '.join(missing)}"] if missing else []
            if extra:
                parts.append(f"unexpected {', '.join(extra)}")
            raise SourceReadError(path, None, f"columns differ from {first_name}: {'; '.join(parts)}")
        aligned.append(frame.select(first.columns))
    # NDJSON types are inferred per file (a column that is all null in one file is Null there), so
    # its files may widen to a common type; CSV is all strings and Parquet types are declared.
    how: Literal["vertical", "vertical_relaxed"] = (
        "vertical_relaxed" if file_format(spec) == "ndjson" else "vertical"
    )
    try:
        return pl.concat(aligned, how=how)
    except pl.exceptions.PolarsError:
        pass  # raised below, naming the file; polars' own message is not chained
    for path, frame in zip(paths[1:], aligned[1:], strict=True):
        differing = [c for c in first.columns if frame.schema[c] != first.schema[c]]
        if differing:
            raise SourceReadError(
                path, None, f"column types differ from {first_name}: {', '.join(differing)}"
            )
    raise SourceReadError(paths[0], None, "files could not be combined")


# --- CSV -------------------------------------------------------------------------------------------


def _read_csv(
    spec: CsvOptions, path: Path, workdir: Path | None = None
) -> tuple[pl.DataFrame, list[RaggedRecord]]:
    codec = codecs.lookup(spec.encoding).name
    if codec in NATIVE_CODECS:
        return _polars_csv(spec, path, origin=path)
    with tempfile.TemporaryDirectory(prefix="lockgate-transcode-", dir=workdir) as tmp:
        utf8 = Path(tmp) / "utf8.csv"
        transcode_to_utf8(path, codec, utf8)
        return _polars_csv(spec, utf8, origin=path)


def transcode_to_utf8(source: Path, codec: str, target: Path) -> None:
    """Re-encode a file to UTF-8 in 1 MiB chunks, so file size never becomes memory size.

    polars parses UTF-8 only. Newlines are copied as they are, so line numbers in later errors still
    match the original file.
    """
    with target.open("w", encoding="utf-8", newline="") as out:
        _decode_stream(source, codec, out)


def find_invalid_bytes(path: Path, codec: str = "utf-8") -> SourceReadError | None:
    """The first undecodable position in a file, found by streaming; None when the file decodes."""
    try:
        _decode_stream(path, codec, None)
    except SourceReadError as exc:
        return exc
    return None


def _decode_stream(path: Path, codec: str, out: IO[str] | None) -> None:
    """Decode a file chunk by chunk, writing the text to `out`; bad bytes raise with their position."""
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    offset = 0
    newlines = 0
    with path.open("rb") as raw:
        while True:
            chunk = raw.read(CHUNK_BYTES)
            final = not chunk
            pending = len(decoder.getstate()[0])
            error: SourceReadError | None = None
            try:
                text = decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                error = _encoding_error(path, codec, exc, offset - pending, newlines)
            if error is not None:
                # Raised outside the handler: the decode error holds the raw chunk and is not chained.
                raise error
            if out is not None:
                out.write(text)
            newlines += text.count("\n")
            offset += len(chunk)
            if final:
                return


def _encoding_error(
    path: Path, codec: str, exc: UnicodeDecodeError, data_offset: int, newlines_before: int
) -> SourceReadError:
    """Where undecodable bytes start: byte offset and line (the bytes themselves are not shown)."""
    valid = bytes(exc.object[: exc.start]).decode(codec, errors="replace")
    line = newlines_before + valid.count("\n") + 1
    return SourceReadError(
        path, line, f"invalid {codec} byte sequence at byte offset {data_offset + exc.start}"
    )


def _polars_csv(spec: CsvOptions, path: Path, origin: Path) -> tuple[pl.DataFrame, list[RaggedRecord]]:
    """Parse a UTF-8 file with polars; `origin` is the file named in errors (before transcoding).

    Records with too few or too many fields are returned apart (their rows are not in the frame): polars
    would pad the first with nulls and refuses the second, so a file it refuses is read again with
    long records cut, and `sources.records` finds which records were padded or cut.
    """
    null_values = list(spec.null_values)
    empty_is_null = "" in null_values
    # Null tokens are applied after the field counts are checked: they need the text the file holds.
    frame = _parse_csv(spec, path, empty_is_null, truncate=False)
    strict = frame is not None
    if frame is None:
        frame = _parse_csv(spec, path, empty_is_null, truncate=True)
    if frame is None:
        raise _csv_error(spec, path, origin)
    check_header(spec, frame.columns, origin)
    ragged = ragged_records(spec, path, frame, strict=strict)
    if ragged is None or not (strict or ragged):  # polars refused the file for another reason
        raise _csv_error(spec, path, origin)
    if ragged:
        frame = frame.filter(~pl.int_range(pl.len()).is_in([r.row for r in ragged]))
    return finish_text(spec, frame), ragged


def check_header(spec: CsvOptions, columns: list[str], origin: Path) -> None:
    duplicated = [c for c in columns if "_duplicated_" in c]
    if spec.header and duplicated:
        names = sorted({c.split("_duplicated_")[0] for c in duplicated})
        raise SourceReadError(origin, 1, f"header names a column more than once: {', '.join(names)}")


def finish_text(spec: CsvOptions, frame: pl.DataFrame) -> pl.DataFrame:
    """Rows of a CSV file as a source delivers them: null tokens applied, blank lines left out.

    Applied after the field counts are checked (they need the text the file holds), to the whole file
    or to each window of a staged one.
    """
    tokens = [value for value in spec.null_values if value]
    if tokens:
        frame = frame.with_columns(
            pl.when(pl.col(c).is_in(tokens)).then(None).otherwise(pl.col(c)).alias(c) for c in frame.columns
        )
    # Like Python's csv module and pandas, a blank line is not a record; polars 2.1 yields an all-null
    # row for it (typically a trailing empty line left by an editor). Filtering copies every column,
    # so the frame is filtered only when it holds such a row (measured: a second copy of the whole
    # 5M-row benchmark table, ≈1.5 GB, for nothing).
    blank = frame.select(pl.all_horizontal(pl.all().is_null()).alias("blank")).to_series()
    return frame.filter(~blank) if blank.any() else frame


def _parse_csv(spec: CsvOptions, path: Path, empty_is_null: bool, *, truncate: bool) -> pl.DataFrame | None:
    """polars' reading, or None when it fails: its message quotes the offending field, so it is neither
    shown nor chained; the caller re-scans the file for a clean reason instead."""
    with contextlib.suppress(pl.exceptions.PolarsError):
        return pl.read_csv(path, encoding="utf8", **csv_options(spec, empty_is_null, truncate=truncate))
    return None


def csv_options(spec: CsvOptions, empty_is_null: bool, *, truncate: bool) -> dict[str, Any]:
    """polars' CSV options for a source's files, the same for a whole read and a staged scan."""
    return {
        "has_header": spec.header,
        "separator": spec.delimiter,
        "quote_char": spec.quote_char,
        "empty_string_is_null": empty_is_null,
        "infer_schema": False,
        "glob": False,
        "truncate_ragged_lines": truncate,
        "with_column_names": None if spec.header else _numbered_columns,
    }


def _numbered_columns(names: list[str]) -> list[str]:
    """Header-less files get column_1..column_n, counted from one as people count columns."""
    return [f"column_{i}" for i in range(1, len(names) + 1)]


def _csv_error(spec: CsvOptions, path: Path, origin: Path) -> SourceReadError:
    """Turn a polars parse failure into file:line: reason, by re-scanning the file in Python.

    polars' messages quote the offending field and carry no line number; this slow path runs only
    after a failure and reports the first record Python's csv module also finds wrong.
    """
    invalid = find_invalid_bytes(path)
    if invalid is not None:
        return SourceReadError(origin, invalid.line, invalid.message)
    line, reason = _locate_csv_problem(spec, path)
    return SourceReadError(origin, line, reason)


def _locate_csv_problem(spec: CsvOptions, path: Path) -> tuple[int | None, str]:
    expected: int | None = None
    start = 1
    with path.open(encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(
            text,
            delimiter=spec.delimiter,
            quotechar=spec.quote_char,
            quoting=csv.QUOTE_MINIMAL if spec.quote_char else csv.QUOTE_NONE,
            strict=True,
        )
        try:
            for row in reader:
                if row:
                    if expected is None:
                        expected = len(row)
                    elif len(row) > expected:
                        return start, f"record has {len(row)} fields, the first record has {expected}"
                start = reader.line_num + 1
        except csv.Error:
            return start, "malformed record (unbalanced or misplaced quote, or oversized field)"
    return None, "could not be parsed as CSV with the declared delimiter and quote character"


# --- NDJSON and Parquet ----------------------------------------------------------------------------


def _read_ndjson(path: Path) -> pl.DataFrame:
    """One JSON object per line; types are inferred from every line, not just the first hundred."""
    try:
        return _polars_ndjson(path)
    except pl.exceptions.PolarsError:
        pass  # polars' message quotes the data; the file is re-scanned below for a clean one
    invalid = find_invalid_bytes(path)
    if invalid is not None:
        raise invalid
    line, reason = _locate_ndjson_problem(path)
    raise SourceReadError(path, line, reason)


def _polars_ndjson(path: Path) -> pl.DataFrame:
    with path.open("rb") as raw:
        has_bom = raw.read(len(UTF8_BOM)) == UTF8_BOM
        if has_bom or not _GLOB_CHARS.isdisjoint(str(path)):
            # polars refuses a BOM and would expand glob characters in a path: hand it the bytes.
            raw.seek(len(UTF8_BOM) if has_bom else 0)
            return pl.read_ndjson(raw, infer_schema_length=None)
    return pl.read_ndjson(path, infer_schema_length=None)


def _locate_ndjson_problem(path: Path) -> tuple[int | None, str]:
    saw_object = False
    with path.open(encoding="utf-8-sig") as text:
        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError:
                return number, "line is not valid JSON"
            if not isinstance(value, dict):
                return number, f"line holds a JSON {type(value).__name__}, not an object"
            saw_object = True
    if not saw_object:
        return None, "file holds no JSON objects"
    return None, "could not be read as NDJSON (types that cannot be combined across lines?)"


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path, glob=False)
    except pl.exceptions.PolarsError as exc:
        kind = type(exc).__name__
    raise SourceReadError(path, None, f"not a readable Parquet file ({kind})")
