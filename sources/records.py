"""Field counts of CSV records: finding the records polars padded (too few fields) or cut (too many).

polars fills the fields a short record lacks with nulls, exactly as it reads empty fields, so the frame
alone cannot tell ``2,pear,`` from ``2,pear``. Re-parsing in Python would triple the read time; instead
the file's bytes are compared with the frame. A record spans the bytes between two newlines that are not
inside quotes; without escaped quotes (``""``) its span is its values' bytes, its quote characters and
one delimiter fewer than it has fields. So ``span - value bytes - quotes + 1`` is the record's field
count, computed column-wise by polars over a memory map of the file; a clean file is proven clean before
that by a balance of its byte counts, read a slice at a time. Records where that sum is not the
expected count (escaped quotes, odd quoting, a CR before the newline) are parsed again one by one with
Python's csv module, which decides. When the records of the bytes do not line up with the rows polars
read, the whole file is counted by Python instead.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

import polars as pl
import pyarrow as pa

if TYPE_CHECKING:
    from _csv import Reader
    from pathlib import Path

    from sources.passport import CsvOptions

# polars indexes a Series with 32-bit positions: the balance check reads any file in slices of
# `READ_BYTES`, and only a larger file's record-by-record check (when the balance fails) goes through
# Python.
MAX_SCANNED_BYTES = 2**32 - 1
READ_BYTES = 64 * 2**20
_NEWLINE, _CR = 10, 13


@dataclass(frozen=True)
class RaggedRecord:
    """A record whose field count differs from the header's; ``row`` is its index in the frame read."""

    row: int
    line: int  # where the record starts, counting the lines of multi-line quoted fields
    fields: int
    values: tuple[str, ...] = field(repr=False)  # as read, for the quarantine only: never in messages


def may_hold_padding(frame: pl.DataFrame, empty_is_null: bool) -> bool:
    """Whether a short record could hide in the frame: polars pads the last column of one with null
    (or "" when empty strings are kept). Null counts are metadata, so a clean file costs nothing."""
    if frame.width <= 1:  # a record with no field at all is a blank line
        return False
    last = frame.get_column(frame.columns[-1])
    return last.null_count() > 0 or (not empty_is_null and bool((last == "").any()))


def ragged_records(
    spec: CsvOptions, path: Path, frame: pl.DataFrame, *, strict: bool
) -> list[RaggedRecord] | None:
    """Every record of `path` whose field count is not ``frame.width``, by the frame row it became.

    `frame` is what polars read from `path` (blank lines still in, null tokens not yet applied, so its
    values are the file's text); `strict` says polars read it without cutting long records, so none
    has more fields than the header. None when the file's records cannot be matched with the rows.
    """
    if strict and not may_hold_padding(frame, "" in spec.null_values):
        return []
    size = path.stat().st_size
    ascii_only = ord(spec.delimiter) < 128 and (spec.quote_char is None or ord(spec.quote_char) < 128)
    if not ascii_only:
        return _counted_by_python(spec, path, frame)
    if strict and _balanced(spec, path, frame):
        return []
    if size >= MAX_SCANNED_BYTES:
        return _counted_by_python(spec, path, frame)
    buffer = pa.memory_map(str(path)).read_buffer()
    data = _bytes_series(buffer)
    return _by_record(spec, path, frame, data, buffer, strict=strict)


def proven_clean(spec: CsvOptions, path: Path, text: pl.LazyFrame) -> bool:
    """Whether every record of `path` has the header's field count, given `text`, a lazy scan of what
    polars read from it without cutting records (blank lines still in, null tokens not applied).

    False means only that the file is not proven clean: reading it whole finds its malformed records.
    """
    last = pl.col(text.collect_schema().names()[-1])
    padded = last.is_null().any() | (pl.lit(value=False) if "" in spec.null_values else (last == "").any())
    if len(text.collect_schema()) <= 1 or not text.select(padded).collect(engine="streaming").item():
        return True
    ascii_only = ord(spec.delimiter) < 128 and (spec.quote_char is None or ord(spec.quote_char) < 128)
    return ascii_only and _balanced(spec, path, text)


def _bytes_series(buffer: pa.Buffer) -> pl.Series:
    """The bytes of `buffer` as a polars series of uint8, without a copy."""
    return pl.Series("b", pa.Array.from_buffers(pa.uint8(), buffer.size, [None, buffer]))


def _byte_counts(path: Path, quote: str | None) -> tuple[int, int]:
    """How many CR and quote bytes the file holds, read a slice at a time into one reused buffer.

    Read rather than memory-mapped: the pages of a map count in the process's resident set until it is
    closed, and the whole file was mapped while polars' frame of it was already in memory (measured on
    the 5M-row benchmark CSV, 1.27 GB, read alone: peak 4,135 → 2,574 MB).
    """
    crs = quotes = 0
    chunk = bytearray(READ_BYTES)
    view = memoryview(chunk)
    with path.open("rb", buffering=0) as raw:
        while size := raw.readinto(chunk):
            part = _bytes_series(pa.py_buffer(view[:size]))
            counts = part.to_frame().select(
                crs=pl.col("b").eq(_CR).sum(),
                quotes=pl.col("b").eq(ord(quote)).sum() if quote is not None else pl.lit(0),
            )
            cr, qu = (int(v) for v in counts.row(0))
            crs, quotes = crs + cr, quotes + qu
            del part, counts  # the series refers to the buffer, which is read into again
    return crs, quotes


def _value_bytes(frame: pl.DataFrame | pl.LazyFrame) -> int:
    """The bytes of every value, column by column (one column's lengths in memory at a time), in 64 bits:
    polars counts bytes per value in 32 bits, and a file past 4 GiB holds more than that."""
    if isinstance(frame, pl.LazyFrame):  # a staged file: one streaming pass sums every column
        sums = frame.select(pl.all().str.len_bytes().cast(pl.UInt64).sum()).collect(engine="streaming")
        return sum(int(value or 0) for value in sums.row(0))
    return sum(
        int(frame.get_column(name).str.len_bytes().cast(pl.UInt64).sum() or 0) for name in frame.columns
    )


def _quotes_in_values(frame: pl.DataFrame | pl.LazyFrame, quote: str) -> int:
    counted = frame.select(pl.all().str.count_matches(quote, literal=True).cast(pl.UInt64).sum())
    row = (counted.collect(engine="streaming") if isinstance(counted, pl.LazyFrame) else counted).row(0)
    return sum(int(value or 0) for value in row)


def _edges(path: Path) -> tuple[bytes, bytes]:
    """The file's first bytes (a BOM) and its last 4 KiB (trailing newlines)."""
    with path.open("rb") as raw:
        head = raw.read(len(codecs.BOM_UTF8))
        raw.seek(max(0, path.stat().st_size - 4096))
        return head, raw.read()


def _balanced(spec: CsvOptions, path: Path, frame: pl.DataFrame | pl.LazyFrame) -> bool:
    """Whether the file's bytes prove that no record is short (one pass, counting two byte values).

    A record of k fields is its values' bytes, k - 1 delimiters, its quotes and one newline: k bytes of
    structure besides values and quotes (one less for a last record without a newline). So the file's
    size less its values, quote characters and CRs is the number of fields, or less when a CR or an
    escaped quote sits inside a value; it cannot be more than width × records, as polars read the file
    without cutting records. Equality therefore proves every record full. When it falls short and the
    file holds quotes, the quote characters inside values are counted and the sum tried again; what
    is still short (a short record, a blank line before the end, a CR inside a value) is checked
    record by record. Blank lines an editor left at the end count one (empty) field each.

    `frame` is the file as polars read it, in memory or staged (a lazy scan of its Parquet copy: every
    sum is then one streaming pass).
    """
    quote = spec.quote_char
    crs, quotes = _byte_counts(path, quote)
    value_bytes = _value_bytes(frame)
    header = _header(spec, path) if spec.header else []
    value_bytes += sum(len(name.encode()) for name in header)
    if isinstance(frame, pl.LazyFrame):
        height = int(frame.select(pl.len()).collect(engine="streaming").item())
        width = len(frame.collect_schema())
    else:
        height, width = frame.height, frame.width
    records = height + (1 if spec.header else 0)
    head, tail = _edges(path)
    bom = head == codecs.BOM_UTF8
    size = path.stat().st_size
    unterminated = size > 0 and not tail.endswith(bytes([_NEWLINE]))
    blank = _trailing_blank_lines(frame, tail, height)
    expected = width * (records - blank) + blank
    fields = size - len(codecs.BOM_UTF8) * bom - crs - quotes - value_bytes + unterminated
    if fields < expected and quote is not None and quotes:
        fields += _quotes_in_values(frame, quote) + sum(name.count(quote) for name in header)
    return fields == expected


def _trailing_blank_lines(frame: pl.DataFrame | pl.LazyFrame, end: bytes, height: int) -> int:
    """How many records at the end are blank lines: empty lines ending the file (`end`: its last bytes),
    read as all-null rows."""
    tail = end.replace(b"\r\n", b"\n")
    count = min(len(tail) - len(tail.rstrip(b"\n")) - 1, height)
    if count <= 0:
        return 0
    last = frame.tail(count).select(pl.all_horizontal(pl.all().is_null()).all())
    if (last.collect() if isinstance(last, pl.LazyFrame) else last).item() is not True:
        return 0
    return count


def _header(spec: CsvOptions, path: Path) -> list[str]:
    """The header's names as the file holds them (unquoted)."""
    with path.open(encoding="utf-8-sig", newline="", errors="replace") as text:
        return next(_reader(spec, text), [])


def _by_record(
    spec: CsvOptions, path: Path, frame: pl.DataFrame, data: pl.Series, buffer: pa.Buffer, *, strict: bool
) -> list[RaggedRecord] | None:
    """Each record's field count from its span, and Python's count where that cannot be trusted."""
    size = len(data)
    quote = ord(spec.quote_char) if spec.quote_char else None
    marks = data.eq(_NEWLINE) if quote is None else data.eq(_NEWLINE) | data.eq(quote)
    positions = marks.arg_true().cast(pl.Int64)
    if quote is None:
        is_quote = pl.repeat(False, len(positions), eager=True)
    else:
        is_quote = data.gather(positions).eq(quote)
    quotes_before = is_quote.cast(pl.Int64).cum_sum() - is_quote.cast(pl.Int64)
    newlines = positions.filter(~is_quote)
    quotes_at_newline = quotes_before.filter(~is_quote)
    ends_record = quotes_at_newline % 2 == 0  # a newline outside quotes ends a record
    ends = newlines.filter(ends_record)
    quotes_at_end = quotes_at_newline.filter(ends_record)
    if not len(ends) or int(ends[-1]) < size - 1:  # a last record without a final newline
        ends = ends.append(pl.Series([size], dtype=pl.Int64))
        quotes_at_end = quotes_at_end.append(pl.Series([int(is_quote.sum())], dtype=pl.Int64))
    first_row = 1 if spec.header else 0
    if len(ends) != frame.height + first_row:
        return _counted_by_python(spec, path, frame)
    starts = pl.concat([pl.Series([0], dtype=pl.Int64), ends.head(-1) + 1])
    quotes = quotes_at_end - pl.concat([pl.Series([0], dtype=pl.Int64), quotes_at_end.head(-1)])
    spans = ends - starts
    ends_with_cr = spans.gt(0) & data.gather((ends - 1).clip(lower_bound=0)).eq(_CR)
    spans = spans - ends_with_cr.cast(pl.Int64)
    value_bytes = frame.select(pl.sum_horizontal(pl.all().str.len_bytes().fill_null(0))).to_series()
    rows = pl.DataFrame(
        {
            "span": spans.slice(first_row),
            "quotes": quotes.slice(first_row),
            "start": starts.slice(first_row),
            "end": ends.slice(first_row),
            "value_bytes": value_bytes.cast(pl.Int64),
        }
    ).with_row_index("row")
    # Without escaped quotes this is the field count; escapes only lower it, so a record counted full
    # is full when polars cut nothing. After a cut, escapes could hide one: records with quotes are
    # then counted by Python too.
    counted = pl.col("span") - pl.col("value_bytes") - pl.col("quotes") + 1
    doubtful = (counted != frame.width) if strict else (counted != frame.width) | (pl.col("quotes") > 0)
    suspects = rows.filter((pl.col("span") > 0) & doubtful)
    lines = newlines.search_sorted(suspects.get_column("start"), side="left") + 1
    ragged: list[RaggedRecord] = []
    where = suspects.select("row", "start", "end").iter_rows()
    for (row, start, end), line in zip(where, lines, strict=True):
        values = _parse_record(spec, buffer.slice(start, end - start).to_pybytes(), first=start == 0)
        if values is not None and len(values) != frame.width:
            ragged.append(RaggedRecord(row=row, line=int(line), fields=len(values), values=values))
    return ragged


def _parse_record(spec: CsvOptions, raw: bytes, *, first: bool) -> tuple[str, ...] | None:
    """One record's fields as Python's csv module reads them; None for a blank record."""
    decoded = raw.decode("utf-8-sig" if first else "utf-8", errors="replace")
    row = next(_reader(spec, io.StringIO(decoded, newline="")), [])
    return tuple(row) if row else None


def _reader(spec: CsvOptions, text: IO[str]) -> Reader:
    return csv.reader(
        text,
        delimiter=spec.delimiter,
        quotechar=spec.quote_char,
        quoting=csv.QUOTE_MINIMAL if spec.quote_char else csv.QUOTE_NONE,
    )


def _counted_by_python(spec: CsvOptions, path: Path, frame: pl.DataFrame) -> list[RaggedRecord] | None:
    """The slow, exact way: every record through Python's csv module (its records match polars' rows,
    blank lines included); None when they do not."""
    ragged: list[RaggedRecord] = []
    first_row = 1 if spec.header else 0
    records = 0
    with path.open(encoding="utf-8-sig", newline="", errors="replace") as text:
        reader = _reader(spec, text)
        start = 1
        try:
            for record in reader:
                if record and records >= first_row and len(record) != frame.width:
                    row = records - first_row
                    ragged.append(RaggedRecord(row, line=start, fields=len(record), values=tuple(record)))
                records += 1
                start = reader.line_num + 1
        except csv.Error:
            return None
    return ragged if records == frame.height + first_row else None
