"""CSV records with too few or too many fields: found, with the line they start at, never padded.

polars pads a short record with nulls as if its missing fields were empty; these files hold records
that only a field count tells apart from complete ones, in the shapes that move line numbers (quoted
newlines, CRLF, a BOM, blank lines, transcoding) and the shapes that must not be mistaken for ragged
ones (escaped quotes, empty last fields, null tokens).
"""

from __future__ import annotations

import csv
import random
from typing import TYPE_CHECKING

import polars as pl
import pytest

from sources import records
from sources.connectors import SourceFrame, read_frame, read_source
from sources.errors import SourceReadError
from sources.passport import CsvConnector

if TYPE_CHECKING:
    from pathlib import Path

SECRET = "4276123412341234"  # a card-like value that must never appear in a message


def read(tmp_path: Path, data: bytes, **options: object) -> SourceFrame:
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    spec = CsvConnector.model_validate({"kind": "csv", "path": "x.csv", **options})
    return read_source(spec, [path], ["x.csv"])


def found(read: SourceFrame) -> list[tuple[int, int]]:
    return [(m.line, m.fields) for m in read.malformed]


def test_short_and_long_records_are_left_out_with_their_lines(tmp_path: Path) -> None:
    result = read(tmp_path, f"id,name,qty\n1,apple,3\n2,pear\n3,plum,\n4,fig,5,{SECRET}\n5,kiwi,1\n".encode())
    assert found(result) == [(3, 2), (5, 4)]
    assert [str(m) for m in result.malformed] == [
        "x.csv:3: record has 2 fields, the first record has 3",
        "x.csv:5: record has 4 fields, the first record has 3",
    ]
    assert result.malformed[1].values == ("4", "fig", "5", SECRET)  # kept for the quarantine only
    assert SECRET not in repr(result.malformed) + str(result.malformed[1])
    # The empty last field of a complete record is not a missing one.
    assert result.frame.rows() == [("1", "apple", "3"), ("3", "plum", None), ("5", "kiwi", "1")]


def test_read_frame_refuses_a_short_record_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"id,name,qty\n1,apple,3\n2,pear\n")
    with pytest.raises(SourceReadError) as info:
        read_frame(CsvConnector(kind="csv", path="x.csv"), [path])
    assert (info.value.file, info.value.line) == (str(path), 3)


def test_quoted_newlines_count_towards_the_line_a_record_starts_at(tmp_path: Path) -> None:
    data = b'id,note,qty\n1,"two\nlines",3\n2,"three\n\nlines, and ""quotes""",4\n3,short\n4,"x\ny"\n'
    result = read(tmp_path, data)
    assert found(result) == [(7, 2), (8, 2)]
    assert result.frame.rows() == [("1", "two\nlines", "3"), ("2", 'three\n\nlines, and "quotes"', "4")]


def test_crlf_bom_and_blank_lines_keep_line_numbers(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbfid,name,qty\r\n1,a,\r\n\r\n2,b\r\n3,,\r\n"
    result = read(tmp_path, data)
    assert found(result) == [(4, 2)]
    assert result.frame.rows() == [("1", "a", None), ("3", None, None)]


def test_blank_lines_an_editor_left_at_the_end_hide_no_short_record(tmp_path: Path) -> None:
    assert found(read(tmp_path, b"id,name,qty\n1,a,\n2,b\n\n\n")) == [(3, 2)]
    assert found(read(tmp_path, b"id,name,qty\r\n1,a,\r\n2,b,c\r\n\r\n")) == []


def test_escaped_quotes_and_null_tokens_are_not_taken_for_missing_fields(tmp_path: Path) -> None:
    data = b'id,name,qty\n1,"a ""b"" c",\n2,NULL,\n3,"""",NULL\n4,NULL\n'
    result = read(tmp_path, data, null_values=["", "NULL"])
    assert found(result) == [(5, 2)]
    assert result.frame.rows() == [("1", 'a "b" c', None), ("2", None, None), ("3", '"', None)]


def test_transcoded_file_reports_lines_of_the_original(tmp_path: Path) -> None:
    data = 'код;имя;кол\n1;"много\nстрок";3\n2;груша\n'.encode("cp1251")
    result = read(tmp_path, data, delimiter=";", encoding="cp1251")
    assert found(result) == [(4, 2)]
    assert result.malformed[0].values == ("2", "груша")


def test_file_without_header_counts_against_its_first_record(tmp_path: Path) -> None:
    result = read(tmp_path, b"1,a,x\n2,b\n3,c,z\n", header=False)
    assert [str(m) for m in result.malformed] == ["x.csv:2: record has 2 fields, the first record has 3"]
    assert result.frame.get_column("column_1").to_list() == ["1", "3"]


def test_many_records_with_one_short_one_is_found_among_empty_last_fields(tmp_path: Path) -> None:
    rows = [f'{i},"name, {i}",' if i % 3 else f"{i},plain,{i}" for i in range(5000)]
    rows[4321] = "4321,cut"
    result = read(tmp_path, ("id,name,note\n" + "\n".join(rows) + "\n").encode())
    assert found(result) == [(4323, 2)]
    assert result.frame.height == 4999


def test_header_only_file_says_it_has_no_rows(tmp_path: Path) -> None:
    result = read(tmp_path, b"id,name,qty\n")
    assert result.files_without_rows == ["x.csv"]
    assert result.frame.columns == ["id", "name", "qty"]
    assert result.frame.height == 0
    assert not result.malformed


def test_clean_file_has_no_malformed_records(tmp_path: Path) -> None:
    rows = [f'{i},"x, {i}",' for i in range(1000)]
    result = read(tmp_path, ("id,name,note\n" + "\n".join(rows)).encode())
    assert result.malformed == []
    assert result.frame.height == 1000
    assert result.frame.get_column("note").null_count() == 1000
    assert result.frame.schema == pl.Schema({"id": pl.String, "name": pl.String, "note": pl.String})


def test_random_files_agree_with_pythons_csv_module(tmp_path: Path) -> None:
    """Seeded random files (quotes, escapes, newlines and CRs in values, blank lines, CRLF, a BOM):
    the records found are exactly those Python's csv module counts wrong, with the same lines."""
    rng = random.Random(14)
    pieces = ["a", "bc", "", "x y", 'q"q', "n\nl", "c,d", "r\r\ns", "é"]

    def field() -> str:
        value = rng.choice(pieces)
        if any(c in value for c in ',"\r\n') or (value and rng.random() < 0.2):
            return '"' + value.replace('"', '""') + '"'
        return value

    checked = 0
    for case in range(300):
        width = rng.randint(1, 4)
        eol = rng.choice(["\n", "\r\n"])
        records = [",".join(f"h{i}" for i in range(width))]
        for _ in range(rng.randint(0, 12)):
            if rng.random() < 0.1:
                records.append("")
                continue
            count = width if rng.random() < 0.7 else rng.randint(1, width + 2)
            records.append(",".join(field() for _ in range(count)))
        text = eol.join(records) + (eol if rng.random() < 0.8 else "")
        data = (b"\xef\xbb\xbf" if case % 7 == 0 else b"") + text.encode()
        path = tmp_path / f"{case}.csv"
        path.write_bytes(data)
        expected = []
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            start = 1
            for number, record in enumerate(reader):
                if record and number and len(record) != width:
                    expected.append((start, len(record)))
                start = reader.line_num + 1
        try:
            result = read_source(CsvConnector(kind="csv", path="x.csv"), [path])
        except SourceReadError:
            continue  # a record polars cannot parse at all (not a field-count question)
        assert found(result) == expected, text
        checked += 1
    assert checked > 250


@pytest.mark.parametrize("slice_bytes", [7, 64, 1000])
def test_a_file_larger_than_one_polars_slice_is_balanced_slice_by_slice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slice_bytes: int
) -> None:
    """Files are balanced a slice at a time, and files past polars' 32-bit positions (4 GiB) are not read
    again by Python: the sizes are lowered so that small files take the same path (slices that split a
    CRLF or a quoted value included)."""
    monkeypatch.setattr(records, "READ_BYTES", slice_bytes)
    monkeypatch.setattr(records, "MAX_SCANNED_BYTES", slice_bytes)
    rows = [f'{i},"x, ""{i}""",' if i % 2 else f"{i},plain,{i}" for i in range(2000)]
    data = ("\ufeffid,name,note\r\n" + "\r\n".join(rows) + "\r\n").encode()

    def no_python(*args: object) -> None:
        pytest.fail("a balanced file was counted again by Python's csv module")

    with monkeypatch.context() as python_forbidden:
        python_forbidden.setattr(records, "_counted_by_python", no_python)
        clean = read(tmp_path, data)
    assert clean.malformed == [] and clean.frame.height == 2000
    assert clean.frame.row(1) == ("1", 'x, "1"', None)

    rows[1234] = "1234,cut"  # a short record: the balance fails, and the file is checked record by record
    result = read(tmp_path, ("\ufeffid,name,note\r\n" + "\r\n".join(rows) + "\r\n").encode())
    assert found(result) == [(1236, 2)]
    assert result.frame.height == 1999
