"""Rewriting raw files without one subject's records: every other record's bytes stay exactly as received.

Each test reads the rewritten file back with the pipeline's own reader (`read_source`), so "the same rows
minus the subject's" is checked as the pipeline would see it, and compares bytes where the format keeps
them (CSV, NDJSON).
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sources.connectors import read_source
from sources.erase import filter_file, landing_connector
from sources.errors import SourceReadError
from sources.passport import CsvConnector, NdjsonConnector, ParquetConnector

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path


def _equals(target: str) -> object:
    def matches(values: Sequence[str | None]) -> list[bool]:
        return [v == target for v in values]

    return matches


def _csv(**options: object) -> CsvConnector:
    return CsvConnector.model_validate({"kind": "csv", "path": "data.csv", **options})


CSV_BYTES = (
    b"id,name,email,note\r\n"
    b'1,Ann,ann@example.org,"two\nlines, and a comma"\r\n'
    b"2,Bob,bob@example.org,plain\r\n"
    b"\r\n"
    b'3,Ann again,ann@example.org,"quoted ""word"""\r\n'
    b"4,Cid,cid@example.org,last without newline"
)


def test_csv_keeps_every_other_record_byte_for_byte(tmp_path: Path) -> None:
    path, out = tmp_path / "in.csv", tmp_path / "out.csv"
    path.write_bytes(CSV_BYTES)
    found = filter_file(
        _csv(),
        path,
        out,
        column="email",
        matches=_equals("ann@example.org"),
        capture=["id", "email"],  # type: ignore[arg-type]
    )
    assert (found.records, found.removed, found.column_found) == (4, 2, True)
    assert found.matched == [{"id": "1", "email": "ann@example.org"}, {"id": "3", "email": "ann@example.org"}]
    assert out.read_bytes() == (
        b"id,name,email,note\r\n2,Bob,bob@example.org,plain\r\n\r\n4,Cid,cid@example.org,last without newline"
    )
    assert read_source(_csv(), [out]).frame["id"].to_list() == ["2", "4"]


def test_csv_in_a_legacy_encoding_with_bom_and_no_header(tmp_path: Path) -> None:
    spec = _csv(delimiter=";", encoding="cp1251", header=False)
    rows = ["Иванов;ivanov@example.org;1", "Петров;petrov@example.org;2", "Иванов;ivanov@example.org;3"]
    path, out = tmp_path / "in.csv", tmp_path / "out.csv"
    path.write_bytes("\n".join(rows).encode("cp1251") + b"\n")
    found = filter_file(spec, path, out, column="column_1", matches=_equals("Иванов"), capture=["column_3"])  # type: ignore[arg-type]
    assert found.removed == 2 and [m["column_3"] for m in found.matched] == ["1", "3"]
    assert out.read_bytes() == (rows[1] + "\n").encode("cp1251")

    utf8 = _csv()
    path.write_bytes(b"\xef\xbb\xbfid,email\n1,a@example.org\n")
    found = filter_file(utf8, path, out, column="id", matches=_equals("1"))  # type: ignore[arg-type]
    assert found.removed == 1 and out.read_bytes() == b"\xef\xbb\xbfid,email\n"  # the header keeps the BOM


def test_csv_null_tokens_are_no_value_and_a_missing_column_is_said(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"id,email\n1,NULL\n2,\n")
    spec = _csv(null_values=["", "NULL"])
    seen: list[str | None] = []

    def matches(values: Sequence[str | None]) -> list[bool]:
        seen.extend(values)
        return [False] * len(values)

    filter_file(spec, path, None, column="email", matches=matches)
    assert seen == [None, None]  # null tokens are no value: the matcher never sees "NULL" or ""
    missing = filter_file(spec, path, None, column="phone", matches=_equals("x"))  # type: ignore[arg-type]
    assert missing.column_found is False and missing.removed == 0


def test_utf16_csv_is_refused_rather_than_mangled(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes("id\n1\n".encode("utf-16"))
    with pytest.raises(SourceReadError, match="utf-16"):
        filter_file(
            _csv(encoding="utf-16"), path, None, column="id", matches=_equals("1"), label="raw/x/in.csv"
        )  # type: ignore[arg-type]


_cells = st.text(alphabet=st.sampled_from('ab,"\n\r é;'), max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(_cells, _cells), min_size=1, max_size=12), pick=st.integers(0, 11))
def test_csv_rewrite_equals_writing_the_kept_rows(
    tmp_path: Path, rows: list[tuple[str, str]], pick: int
) -> None:
    """Any quoting, commas, CR and LF inside values: the rewrite is the same file written without the
    subject's rows, and the pipeline reads the rows left."""
    target = rows[pick % len(rows)][0]

    def written(items: list[tuple[str, str]]) -> bytes:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(["key", "other"])
        writer.writerows(items)
        return buffer.getvalue().encode()

    path, out = tmp_path / "in.csv", tmp_path / "out.csv"
    path.write_bytes(written(rows))
    found = filter_file(_csv(null_values=[]), path, out, column="key", matches=_equals(target))  # type: ignore[arg-type]
    kept = [row for row in rows if row[0] != target]
    assert found.removed == len(rows) - len(kept)
    assert out.read_bytes() == written(kept)


def test_ndjson_keeps_lines_and_matches_typed_values(tmp_path: Path) -> None:
    lines = [
        b'\xef\xbb\xbf{"id": 1007, "body": "mine"}\n',
        b'{"id":1008,"body":"yours"}\r\n',
        b"\n",
        b"not json at all\n",
        b'{"id": 1007.0, "body": "float form"}\n',
        b'{"id": "1007", "body": "text form"}',
    ]
    path, out = tmp_path / "in.ndjson", tmp_path / "out.ndjson"
    path.write_bytes(b"".join(lines))
    spec = NdjsonConnector(kind="ndjson", path="x.ndjson")
    found = filter_file(spec, path, out, column="id", matches=_equals("1007"), capture=["body"])  # type: ignore[arg-type]
    assert found.removed == 2 and [m["body"] for m in found.matched] == ["mine", "text form"]
    assert found.unreadable_lines == 1
    # The BOM belongs to the file: it stays when the first line goes.
    assert out.read_bytes() == b"\xef\xbb\xbf" + b"".join(lines[1:5])


def test_parquet_is_written_again_without_the_rows(tmp_path: Path) -> None:
    path, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    frame = pl.DataFrame({"id": [1, 2, 3], "email": ["a@x.org", "b@x.org", "a@x.org"], "n": [1.5, None, 3.0]})
    frame.write_parquet(path, compression="snappy")
    spec = ParquetConnector(kind="parquet", path="x.parquet")
    found = filter_file(spec, path, out, column="email", matches=_equals("a@x.org"), capture=["id"])  # type: ignore[arg-type]
    assert found.removed == 2 and found.matched == [{"id": "1"}, {"id": "3"}]
    rewritten = pl.read_parquet(out)
    assert rewritten.schema == frame.schema and rewritten.to_dicts() == [
        {"id": 2, "email": "b@x.org", "n": None}
    ]
    import pyarrow.parquet as pq

    assert pq.ParquetFile(out).metadata.row_group(0).column(0).compression == "SNAPPY"


def test_a_landing_is_read_with_the_connector_it_landed_with() -> None:
    current = _csv(delimiter=";")
    landed = {"connector": {"kind": "csv", "path": "data.csv", "delimiter": "|", "encoding": "cp1251"}}
    connector = landing_connector(landed, current)
    assert isinstance(connector, CsvConnector) and connector.delimiter == "|"
    assert landing_connector({"connector": {"kind": "nonsense"}}, current) is current
    assert landing_connector({}, current) is current
    assert json.dumps(landed)  # plain JSON, as manifests store it
