"""Rewriting a raw file without one subject's records, in the file's own format.

Erasure must take a person out of the raw layer without changing anything else in it. So each format is
rewritten as close to the bytes received as it allows:

- CSV and NDJSON: every record that is not the subject's is copied byte for byte (quotes, line endings,
  encoding, a BOM, blank lines), and the subject's records are left out. CSV records are read with
  Python's csv module from the file's own lines, so a record spanning several lines (a quoted newline)
  goes or stays whole. The encoding must keep ``\\n`` a single byte that nothing else contains (UTF-8,
  the Windows and ISO code pages, ...); UTF-16 and UTF-32 files are refused.
- Parquet: rows cannot be cut out of compressed pages, so the file is written again from the rows kept,
  with the same schema and compression.

Which records are the subject's is decided by the caller (`matches`, given a batch of the column's
values as text, says which are), so this module knows nothing of normal forms or keys. Values are read
as the pipeline reads them: a CSV field as its text (null tokens are no value), an NDJSON or Parquet
value as its text form. What the removed records held in the `capture` columns is returned, to find
their rows elsewhere (primary keys, Label Studio task keys): it is personal data, kept in memory only.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import json
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import polars as pl
from pydantic import TypeAdapter, ValidationError

from sources.connectors import file_format
from sources.errors import SourceReadError
from sources.passport import Connector, CsvOptions

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    Matcher = Callable[[Sequence[str | None]], list[bool]]

_CONNECTOR: TypeAdapter[Connector] = TypeAdapter(Connector)
BATCH_RECORDS = 50_000  # records matched at once: a column-wise call per batch, bounded memory
_UTF8_BOM = codecs.BOM_UTF8


@dataclass
class FilteredFile:
    """What filtering one file found: records read and removed, and the removed records' captured values."""

    records: int = 0
    removed: int = 0
    column_found: bool = True  # False: the file has no such column (nothing could match)
    unreadable_lines: int = 0  # NDJSON lines that are not JSON objects: kept, and not searched
    matched: list[dict[str, str | None]] = field(default_factory=list, repr=False)  # personal data


def filter_file(
    spec: Connector,
    path: Path,
    out: Path | None,
    *,
    column: str,
    matches: Matcher,
    capture: Sequence[str] = (),
    label: str | None = None,
) -> FilteredFile:
    """Copy `path` to `out` without the records whose `column` value `matches`; with `out` None, only count.

    `label` names the file in errors (its lake key); errors give its line, never a value.
    """
    name = label or str(path)
    fmt = file_format(spec)
    if fmt == "csv":
        assert isinstance(spec, CsvOptions)
        return _filter_csv(spec, path, out, name, column, matches, capture)
    if fmt == "ndjson":
        return _filter_ndjson(path, out, name, column, matches, capture)
    return _filter_parquet(path, out, name, column, matches, capture)


def landing_connector(passport: dict[str, Any], current: Connector) -> Connector:
    """The connector a landing was read with (its manifest's passport), else the source's current one:
    an owner may have changed the delimiter or encoding since older files landed."""
    try:
        return _CONNECTOR.validate_python(passport.get("connector"))
    except ValidationError:
        return current


@contextlib.contextmanager
def _sink(out: Path | None) -> Iterator[IO[bytes] | None]:
    if out is None:
        yield None
        return
    with out.open("wb") as stream:
        yield stream


class _Batches:
    """Records waiting for their match decision: their bytes, and the values the decision needs."""

    def __init__(self, sink: IO[bytes] | None, matches: Matcher, result: FilteredFile) -> None:
        self.sink, self.matches, self.result = sink, matches, result
        self.chunks: list[bytes] = []
        self.values: list[str | None] = []
        self.captured: list[dict[str, str | None]] = []
        self.searched: list[bool] = []  # False for blank lines and unreadable ones: always kept
        self.first = True  # the file's first bytes are still to be written (a dropped first line's BOM)

    def keep(self, chunk: bytes) -> None:
        self.add(chunk, None, {}, searched=False)

    def add(
        self, chunk: bytes, value: str | None, captured: dict[str, str | None], *, searched: bool = True
    ) -> None:
        self.chunks.append(chunk)
        self.values.append(value)
        self.captured.append(captured)
        self.searched.append(searched)
        if len(self.chunks) >= BATCH_RECORDS:
            self.flush()

    def flush(self) -> None:
        if not self.chunks:
            return
        # Only records are asked about: headers, blank and unreadable lines always stay.
        asked = iter(self.matches([v for v, s in zip(self.values, self.searched, strict=True) if s]))
        flags = [next(asked) if searched else False for searched in self.searched]
        for chunk, hit, searched, captured in zip(
            self.chunks, flags, self.searched, self.captured, strict=True
        ):
            if searched:
                self.result.records += 1
            if searched and hit:
                self.result.removed += 1
                self.result.matched.append(captured)
                if self.first and chunk.startswith(_UTF8_BOM):
                    self._write(_UTF8_BOM)  # the BOM belongs to the file, not to the record
            else:
                self._write(chunk)
            self.first = False
        self.chunks, self.values, self.captured, self.searched = [], [], [], []

    def _write(self, data: bytes) -> None:
        if self.sink is not None:
            self.sink.write(data)


# --- CSV -------------------------------------------------------------------------------------------


def _ascii_safe(codec: str) -> bool:
    """Whether the codec writes ASCII as ASCII, so b'\\n' ends a line and nothing else contains it."""
    probe = 'a,;"\r\n'
    try:
        return probe.encode(codec) == probe.encode("ascii")
    except (UnicodeError, LookupError):
        return False


def _filter_csv(
    spec: CsvOptions,
    path: Path,
    out: Path | None,
    name: str,
    column: str,
    matches: Matcher,
    capture: Sequence[str],
) -> FilteredFile:
    codec = codecs.lookup(spec.encoding).name
    if not _ascii_safe(codec):
        raise SourceReadError(name, None, f"cannot rewrite a {codec} file record by record for erasure")
    result = FilteredFile()
    nulls = set(spec.null_values)
    pending: list[bytes] = []
    line_number = 0

    def lines(stream: IO[bytes]) -> Iterator[str]:
        nonlocal line_number
        for raw in stream:
            pending.append(raw)
            line_number += 1
            try:
                text = raw.decode(codec)
            except UnicodeDecodeError:
                raise SourceReadError(name, line_number, f"invalid {codec} byte sequence") from None
            yield text.removeprefix("\ufeff") if line_number == 1 else text

    with path.open("rb") as stream, _sink(out) as sink:
        batches = _Batches(sink, matches, result)
        reader = csv.reader(
            lines(stream),
            delimiter=spec.delimiter,
            quotechar=spec.quote_char,
            quoting=csv.QUOTE_MINIMAL if spec.quote_char else csv.QUOTE_NONE,
        )
        names: list[str] | None = None
        try:
            if spec.header:
                names = next(reader, None) or []
                batches.keep(b"".join(pending))
                pending.clear()
            for fields in reader:
                chunk = b"".join(pending)
                pending.clear()
                if not fields:  # a blank line is not a record
                    batches.keep(chunk)
                    continue
                if names is None:
                    names = [f"column_{i}" for i in range(1, len(fields) + 1)]
                batches.add(
                    chunk, _field(fields, names, column, nulls), _captured(fields, names, capture, nulls)
                )
        except csv.Error:
            raise SourceReadError(
                name, line_number, "malformed CSV record; cannot rewrite this file"
            ) from None
        if pending:  # what the reader read past its last record (nothing, for a well-formed file)
            batches.keep(b"".join(pending))
        batches.flush()
    result.column_found = names is None or column in names
    return result


def _field(fields: list[str], names: list[str], column: str, nulls: set[str]) -> str | None:
    """The record's value in `column` (by the header's position), None when absent or a null token."""
    try:
        index = names.index(column)
    except ValueError:
        return None
    value = fields[index] if index < len(fields) else None
    return None if value is None or value in nulls else value


def _captured(
    fields: list[str], names: list[str], capture: Sequence[str], nulls: set[str]
) -> dict[str, str | None]:
    return {name: _field(fields, names, name, nulls) for name in capture}


# --- NDJSON ----------------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A JSON value's text form, as polars casts it to a string: true/false, numbers, strings as they are."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _filter_ndjson(
    path: Path, out: Path | None, name: str, column: str, matches: Matcher, capture: Sequence[str]
) -> FilteredFile:
    result = FilteredFile(column_found=False)
    with path.open("rb") as stream, _sink(out) as sink:
        batches = _Batches(sink, matches, result)
        for number, raw in enumerate(stream, start=1):
            text = raw.removeprefix(_UTF8_BOM) if number == 1 else raw
            if not text.strip():
                batches.keep(raw)
                continue
            try:
                record = json.loads(text)
            except (ValueError, UnicodeDecodeError):
                record = None
            if not isinstance(record, dict):
                result.unreadable_lines += 1
                batches.keep(raw)
                continue
            result.column_found = result.column_found or column in record
            batches.add(raw, _text(record.get(column)), {c: _text(record.get(c)) for c in capture})
        batches.flush()
    return result


# --- Parquet ---------------------------------------------------------------------------------------


def _filter_parquet(
    path: Path, out: Path | None, name: str, column: str, matches: Matcher, capture: Sequence[str]
) -> FilteredFile:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        table = parquet.read()
    except (OSError, pa.ArrowException) as exc:
        raise SourceReadError(name, None, f"not a readable Parquet file ({type(exc).__name__})") from None
    result = FilteredFile(records=table.num_rows, column_found=column in table.column_names)
    if not result.column_found or table.num_rows == 0:
        if out is not None:
            out.write_bytes(path.read_bytes())
        return result
    values = _as_text(table, column)
    flags = matches(values)
    result.removed = sum(flags)
    texts = {c: _as_text(table, c) for c in capture if c in table.column_names}
    result.matched = [
        {c: texts[c][i] if c in texts else None for c in capture} for i, hit in enumerate(flags) if hit
    ]
    if out is not None:
        if result.removed:
            compression = "zstd"
            if parquet.metadata.num_row_groups and parquet.metadata.num_columns:
                compression = str(parquet.metadata.row_group(0).column(0).compression).lower()
            kept = table.filter(pa.array([not hit for hit in flags], type=pa.bool_()))
            pq.write_table(kept, out, compression=None if compression == "uncompressed" else compression)
        else:
            out.write_bytes(path.read_bytes())
    return result


def _as_text(table: Any, column: str) -> list[str | None]:
    """A Parquet column as polars casts it to text (what the pipeline conforms and hashes)."""
    series = pl.from_arrow(table.column(column))
    assert isinstance(series, pl.Series)
    if series.dtype.is_nested():
        return [None if v is None else json.dumps(v, default=str) for v in series.to_list()]
    return series.cast(pl.String).to_list()


__all__ = ["BATCH_RECORDS", "FilteredFile", "filter_file", "landing_connector"]
