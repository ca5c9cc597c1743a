"""A local file read by its suffix (what `lockgate pii scan` looks at), with the connectors' own errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pytest

from sources.errors import SourceReadError
from sources.local_file import read_local_file, scan_local_file

if TYPE_CHECKING:
    from pathlib import Path

FRAME = pl.DataFrame({"id": ["007", "8"], "contact": ["anna.petrova@example.com", "boris@example.org"]})


def test_csv_columns_stay_strings(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    FRAME.write_csv(path)
    assert read_local_file(path).equals(FRAME)


def test_delimiter_and_encoding_apply_to_csv(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes("id;name\n1;Пётр\n".encode("cp1251"))
    frame = read_local_file(path, delimiter=";", encoding="cp1251")
    assert frame.to_dicts() == [{"id": "1", "name": "Пётр"}]


def test_tsv_is_always_tab_delimited(tmp_path: Path) -> None:
    path = tmp_path / "contacts.tsv"
    FRAME.write_csv(path, separator="\t")
    assert read_local_file(path, delimiter=";").equals(FRAME)


def test_parquet_and_ndjson(tmp_path: Path) -> None:
    FRAME.write_parquet(tmp_path / "contacts.parquet")
    FRAME.write_ndjson(tmp_path / "contacts.JSONL")
    assert read_local_file(tmp_path / "contacts.parquet").equals(FRAME)
    assert read_local_file(tmp_path / "contacts.JSONL").equals(FRAME)


def test_unknown_suffix_names_the_readable_ones(tmp_path: Path) -> None:
    path = tmp_path / "contacts.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(
        SourceReadError, match=r"contacts\.xlsx: unknown file type '\.xlsx'; use one of \.csv"
    ):
        read_local_file(path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"delimiter": ";;"}, "at most 1 character"),
        ({"encoding": "klingon"}, "unknown text encoding: use a codec name"),
    ],
)
def test_options_the_connector_refuses(tmp_path: Path, options: dict[str, str], message: str) -> None:
    path = tmp_path / "contacts.csv"
    FRAME.write_csv(path)
    with pytest.raises(SourceReadError, match=message) as info:
        read_local_file(path, **options)
    assert info.value.file == str(path)
    assert info.value.__cause__ is None


def test_scan_reports_kinds_and_counts_never_values(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    FRAME.write_csv(path)
    report = scan_local_file(path, sample_rows=1)
    assert report.sampled
    assert report.rows_scanned == 1
    assert report.columns["contact"].kinds == {"email": 1}
    assert "example" not in report.model_dump_json()
