"""File connectors on real files: encodings, dialects, globs, and errors that never echo data."""

from __future__ import annotations

import pickle
from pathlib import Path

import polars as pl
import pytest

from sources.connectors import CHUNK_BYTES, read_frame, resolve_files
from sources.errors import SourceReadError
from sources.passport import CsvConnector, NdjsonConnector, ParquetConnector

SECRET = "4276123412341234"  # a card-like value that must never appear in an error message


def csv_spec(path: str = "data/x.csv", **options: object) -> CsvConnector:
    return CsvConnector.model_validate({"kind": "csv", "path": path, **options})


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def read_csv_bytes(tmp_path: Path, data: bytes, **options: object) -> pl.DataFrame:
    path = write(tmp_path / "data" / "x.csv", data)
    return read_frame(csv_spec(**options), [path])


def read_error(spec: CsvConnector | NdjsonConnector | ParquetConnector, path: Path) -> SourceReadError:
    with pytest.raises(SourceReadError) as info:
        read_frame(spec, [path])
    error = info.value
    # Nothing polars or the codec said (they quote data) is attached to the error.
    assert error.__cause__ is None
    assert error.__context__ is None
    return error


# --- CSV: encodings ------------------------------------------------------------------------------


def test_utf8_with_bom_reads_clean_header_and_values(tmp_path: Path) -> None:
    frame = read_csv_bytes(tmp_path, "\ufeffid,name\n1,Анна\n2,Bob\n".encode())
    assert frame.columns == ["id", "name"]
    assert frame.rows() == [("1", "Анна"), ("2", "Bob")]


def test_utf8_bom_is_stripped_without_header_too(tmp_path: Path) -> None:
    frame = read_csv_bytes(tmp_path, "\ufeff1,Анна\n".encode(), header=False)
    assert frame.rows() == [("1", "Анна")]


def test_every_csv_column_is_a_string(tmp_path: Path) -> None:
    frame = read_csv_bytes(tmp_path, b"id,amount,flag,day\n007,1.50,true,2024-01-02\n")
    assert frame.schema == pl.Schema(dict.fromkeys(["id", "amount", "flag", "day"], pl.String))
    assert frame.row(0) == ("007", "1.50", "true", "2024-01-02")


def test_cp1251_round_trip(tmp_path: Path) -> None:
    text = 'id;город;название\n1;Москва;Магазин «Берёзка» № 5\n2;Ёлкино;"Продукты ""Уют"""\n'
    frame = read_csv_bytes(tmp_path, text.encode("cp1251"), delimiter=";", encoding="cp1251")
    assert frame.columns == ["id", "город", "название"]
    assert frame.rows() == [("1", "Москва", "Магазин «Берёзка» № 5"), ("2", "Ёлкино", 'Продукты "Уют"')]


def test_transcoding_streams_multibyte_characters_across_chunk_boundaries(tmp_path: Path) -> None:
    # gb18030 mixes 1- and 2-byte characters; the header is padded until a 1 MiB chunk edge
    # falls inside a character, the case an incremental decoder exists for.
    rows = [f"{i},Щука-{i},x{'й' * (i % 7)}" for i in range(80_000)]
    body = ("\n".join(rows) + "\n").encode("gb18030")
    for pad in range(2):
        data = f"id,name,tail{' ' * pad}\n".encode() + body
        try:
            data[:CHUNK_BYTES].decode("gb18030")
        except UnicodeDecodeError:
            break
    assert len(data) > 2 * CHUNK_BYTES
    with pytest.raises(UnicodeDecodeError):
        data[:CHUNK_BYTES].decode("gb18030")
    frame = read_csv_bytes(tmp_path, data, encoding="gb18030")
    assert frame.height == 80_000
    assert frame.row(79_999)[1:] == ("Щука-79999", "x" + "й" * (79_999 % 7))
    assert frame["name"].str.starts_with("Щука-").all()


def test_invalid_utf8_names_line_and_offset_not_bytes(tmp_path: Path) -> None:
    path = write(tmp_path / "data" / "x.csv", b"id,card\n1,ok\n2," + SECRET.encode() + b"\xff\n")
    error = read_error(csv_spec(), path)
    assert error.line == 3
    assert error.message == "invalid utf-8 byte sequence at byte offset 31"
    assert str(error) == f"{path}:3: invalid utf-8 byte sequence at byte offset 31"
    assert SECRET not in str(error)


def test_invalid_cp1251_byte_after_the_first_chunk_has_exact_offset_and_line(tmp_path: Path) -> None:
    line = "1;Магазин «Ромашка»\n".encode("cp1251")
    body = line * (CHUNK_BYTES // len(line) + 10)
    data = b"id;name\n" + body + b"2;\x98\n"  # 0x98 is the one byte cp1251 leaves undefined
    path = write(tmp_path / "data" / "x.csv", data)
    error = read_error(csv_spec(delimiter=";", encoding="cp1251"), path)
    assert error.line == 1 + body.count(b"\n") + 1
    assert error.message == f"invalid cp1251 byte sequence at byte offset {len(data) - 2}"


def test_utf16_is_transcoded_and_a_truncated_final_unit_is_reported(tmp_path: Path) -> None:
    text = "id,name\n" + "1,Ж\n" * 300_000
    frame = read_csv_bytes(tmp_path, text.encode("utf-16"), encoding="utf-16")
    assert frame.height == 300_000
    path = write(tmp_path / "data" / "odd.csv", text.encode("utf-16") + b"\x00")
    error = read_error(csv_spec(encoding="utf-16"), path)
    assert error.line == 300_002
    assert "utf-16" in error.message


# --- CSV: dialect options ------------------------------------------------------------------------


def test_no_header_gives_numbered_columns(tmp_path: Path) -> None:
    frame = read_csv_bytes(tmp_path, b"1,a,x\n2,b,y\n", header=False)
    assert frame.columns == ["column_1", "column_2", "column_3"]
    assert frame.height == 2


def test_custom_delimiter_and_quote_char(tmp_path: Path) -> None:
    data = b"id|note\n1|'a|b'\n2|'it''s'\n3|\"plain\"\n"
    frame = read_csv_bytes(tmp_path, data, delimiter="|", quote_char="'")
    assert frame.rows() == [("1", "a|b"), ("2", "it's"), ("3", '"plain"')]


def test_quoting_can_be_switched_off(tmp_path: Path) -> None:
    frame = read_csv_bytes(tmp_path, b'id\tnote\n1\t"raw"\n', delimiter="\t", quote_char=None)
    assert frame.row(0) == ("1", '"raw"')


def test_quoted_fields_may_span_lines(tmp_path: Path) -> None:
    frame = read_csv_bytes(tmp_path, b'id,note\n1,"two\nlines"\n2,x\n')
    assert frame.rows() == [("1", "two\nlines"), ("2", "x")]


def test_null_values_are_honoured(tmp_path: Path) -> None:
    frame = read_csv_bytes(tmp_path, b"a,b\nNA,1\n,2\nn/a,3\n", null_values=["NA", "", "n/a"])
    assert frame["a"].to_list() == [None, None, None]


def test_without_empty_string_in_null_values_empty_fields_stay_empty(tmp_path: Path) -> None:
    frame = read_csv_bytes(tmp_path, b"a,b\nNA,1\n,2\n", null_values=["NA"])
    assert frame["a"].to_list() == [None, ""]
    frame = read_csv_bytes(tmp_path, b"a,b\nNA,1\n,2\n", null_values=[])
    assert frame["a"].to_list() == ["NA", ""]


def test_blank_lines_are_not_records(tmp_path: Path) -> None:
    frame = read_csv_bytes(tmp_path, b"a,b\r\n1,2\r\n\r\n3,4\r\n\r\n")
    assert frame.rows() == [("1", "2"), ("3", "4")]


def test_short_rows_are_refused_not_padded_with_nulls(tmp_path: Path) -> None:
    path = write(tmp_path / "data" / "x.csv", b"a,b,c\n1,2,3\n4,5\n")
    assert str(read_error(csv_spec(), path)) == f"{path}:3: record has 2 fields, the first record has 3"


# --- CSV: malformed files ------------------------------------------------------------------------


def test_row_with_extra_fields_reports_line_without_content(tmp_path: Path) -> None:
    data = f"id,card\n1,x\n2,y\n3,{SECRET},{SECRET}\n4,z\n".encode()
    path = write(tmp_path / "data" / "x.csv", data)
    error = read_error(csv_spec(), path)
    assert error.line == 4
    assert str(error) == f"{path}:4: record has 3 fields, the first record has 2"
    assert SECRET not in str(error)
    assert SECRET not in repr(error)
    assert SECRET not in str(pickle.loads(pickle.dumps(error)))


def test_line_numbers_count_physical_lines_after_multiline_fields(tmp_path: Path) -> None:
    data = f'id,note\n1,"a\nb\nc"\n2,{SECRET},extra\n'.encode()
    error = read_error(csv_spec(), write(tmp_path / "data" / "x.csv", data))
    assert error.line == 5
    assert SECRET not in str(error)


def test_unbalanced_quote_reports_the_record_start(tmp_path: Path) -> None:
    data = f'id,card\n1,x\n2,"{SECRET}\n3,y\n'.encode()
    error = read_error(csv_spec(), write(tmp_path / "data" / "x.csv", data))
    assert error.line == 3
    assert "quote" in error.message
    assert SECRET not in str(error)


def test_transcoded_file_errors_name_the_original_file(tmp_path: Path) -> None:
    data = f"id;имя\n1;Иван\n2;{SECRET};лишнее\n".encode("cp1251")
    path = write(tmp_path / "data" / "legacy.csv", data)
    error = read_error(csv_spec(delimiter=";", encoding="cp1251"), path)
    assert error.file == str(path)
    assert error.line == 3
    assert SECRET not in str(error)


def test_duplicate_header_names_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "data" / "x.csv", b"id,email,email\n1,a,b\n")
    error = read_error(csv_spec(), path)
    assert (error.line, error.message) == (1, "header names a column more than once: email")


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "data" / "x.csv", b"")
    assert read_error(csv_spec(), path).message == "file is empty"


def test_header_only_file_is_zero_rows(tmp_path: Path) -> None:
    frame = read_csv_bytes(tmp_path, b"id,name\n")
    assert (frame.columns, frame.height) == (["id", "name"], 0)


# --- several files ---------------------------------------------------------------------------------


def test_glob_reads_matching_files_sorted_and_concatenated(tmp_path: Path) -> None:
    write(tmp_path / "data" / "part-2.csv", b"id,name\n3,c\n")
    write(tmp_path / "data" / "part-1.csv", b"id,name\n1,a\n2,b\n")
    write(tmp_path / "data" / "part-3.csv", b"name,id\nd,4\n")  # same columns, other order
    write(tmp_path / "data" / "other.csv", b"x\n1\n")
    write(tmp_path / "data" / ".~lock.part-9.csv", b"junk")
    spec = csv_spec("data/part-*.csv")
    files = resolve_files(spec, tmp_path)
    assert [f.name for f in files] == ["part-1.csv", "part-2.csv", "part-3.csv"]
    assert all(f.is_absolute() for f in files)
    frame = read_frame(spec, files)
    assert frame.columns == ["id", "name"]
    assert frame.rows() == [("1", "a"), ("2", "b"), ("3", "c"), ("4", "d")]


def test_recursive_glob(tmp_path: Path) -> None:
    write(tmp_path / "data" / "2024" / "01.csv", b"id\n1\n")
    write(tmp_path / "data" / "2025" / "01.csv", b"id\n2\n")
    spec = csv_spec("data/**/*.csv")
    assert read_frame(spec, resolve_files(spec, tmp_path))["id"].to_list() == ["1", "2"]


def test_files_with_different_columns_are_refused_naming_the_file(tmp_path: Path) -> None:
    write(tmp_path / "data" / "a.csv", b"id,name\n1,a\n")
    bad = write(tmp_path / "data" / "b.csv", b"id,full_name,extra\n2,b,c\n")
    spec = csv_spec("data/*.csv")
    with pytest.raises(SourceReadError) as info:
        read_frame(spec, resolve_files(spec, tmp_path))
    assert info.value.file == str(bad)
    assert info.value.message == "columns differ from a.csv: missing name; unexpected full_name, extra"


# --- NDJSON and Parquet ----------------------------------------------------------------------------


def test_ndjson_infers_types_from_every_line(tmp_path: Path) -> None:
    lines = [f'{{"id": {i}, "score": null}}' for i in range(500)] + ['{"id": 500, "score": 4.5, "tag": "x"}']
    path = write(tmp_path / "data" / "t.ndjson", ("\n".join(lines) + "\n").encode())
    frame = read_frame(NdjsonConnector(kind="ndjson", path="data/t.ndjson"), [path])
    assert frame.height == 501
    assert frame.schema["score"] == pl.Float64
    assert frame["tag"].to_list()[-1] == "x"


def test_ndjson_with_bom_and_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "data" / "t.ndjson", '\ufeff{"a": "Я"}\n\n{"a": "b"}\n'.encode())
    frame = read_frame(NdjsonConnector(kind="ndjson", path="data/t.ndjson"), [path])
    assert frame["a"].to_list() == ["Я", "b"]


def test_ndjson_files_whose_inferred_types_differ_are_combined(tmp_path: Path) -> None:
    write(tmp_path / "data" / "1.ndjson", b'{"id": 1, "csat": null}\n')
    write(tmp_path / "data" / "2.ndjson", b'{"id": 2, "csat": 5}\n')
    spec = NdjsonConnector(kind="ndjson", path="data/*.ndjson")
    frame = read_frame(spec, resolve_files(spec, tmp_path))
    assert frame["csat"].to_list() == [None, 5]


def test_bad_ndjson_line_reports_line_without_content(tmp_path: Path) -> None:
    data = f'{{"id": 1}}\n{{"id": 2, "card": {SECRET}x}}\n'.encode()
    path = write(tmp_path / "data" / "t.ndjson", data)
    error = read_error(NdjsonConnector(kind="ndjson", path="data/t.ndjson"), path)
    assert (error.line, error.message) == (2, "line is not valid JSON")
    assert SECRET not in str(error)


def test_ndjson_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path / "data" / "t.ndjson", b'{"id": 1}\n[1, 2]\n')
    error = read_error(NdjsonConnector(kind="ndjson", path="data/t.ndjson"), path)
    assert (error.line, error.message) == (2, "line holds a JSON list, not an object")


def test_parquet_round_trip_keeps_types(tmp_path: Path) -> None:
    source = pl.DataFrame({"id": [1, 2], "amount": [1.5, None], "name": ["Анна", "Bob"]})
    path = tmp_path / "data" / "p.parquet"
    path.parent.mkdir()
    source.write_parquet(path)
    spec = ParquetConnector(kind="parquet", path="data/*.parquet")
    frame = read_frame(spec, resolve_files(spec, tmp_path))
    assert frame.equals(source)


def test_parquet_files_with_different_types_are_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    pl.DataFrame({"id": [1]}).write_parquet(tmp_path / "data" / "a.parquet")
    pl.DataFrame({"id": ["1"]}).write_parquet(tmp_path / "data" / "b.parquet")
    spec = ParquetConnector(kind="parquet", path="data/*.parquet")
    with pytest.raises(SourceReadError) as info:
        read_frame(spec, resolve_files(spec, tmp_path))
    assert info.value.file.endswith("b.parquet")
    assert info.value.message == "column types differ from a.parquet: id"


def test_corrupt_parquet_is_a_clean_error(tmp_path: Path) -> None:
    path = write(tmp_path / "data" / "p.parquet", b"PAR1 not really parquet")
    error = read_error(ParquetConnector(kind="parquet", path="data/p.parquet"), path)
    assert error.message.startswith("not a readable Parquet file")


# --- finding files ---------------------------------------------------------------------------------


def test_no_match_names_pattern_and_folder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with pytest.raises(SourceReadError) as info:
        resolve_files(csv_spec("data/*.csv"), tmp_path)
    assert info.value.file == "data/*.csv"
    assert str(tmp_path) in info.value.message


def test_missing_file_names_path_and_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceReadError) as info:
        resolve_files(csv_spec("data/missing.csv"), tmp_path)
    assert str(info.value).startswith("data/missing.csv: no file matches")


def test_folders_matching_a_glob_are_not_files(tmp_path: Path) -> None:
    (tmp_path / "data" / "dir.csv").mkdir(parents=True)
    with pytest.raises(SourceReadError):
        resolve_files(csv_spec("data/*.csv"), tmp_path)


def test_read_frame_refuses_a_file_that_disappeared(tmp_path: Path) -> None:
    with pytest.raises(SourceReadError) as info:
        read_frame(csv_spec(), [tmp_path / "gone.csv"])
    assert info.value.message == "file not found"


def test_symlinked_file_pointing_outside_the_catalog_is_refused(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside" / "secret.csv", b"id\n1\n")
    catalog = tmp_path / "catalog"
    (catalog / "data").mkdir(parents=True)
    (catalog / "data" / "x.csv").symlink_to(outside)
    for pattern in ("data/x.csv", "data/*.csv"):
        with pytest.raises(SourceReadError) as info:
            resolve_files(csv_spec(pattern), catalog)
        assert "outside the catalog" in info.value.message


def test_symlinked_folder_pointing_outside_the_catalog_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "outside" / "x.csv", b"id\n1\n")
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "data").symlink_to(tmp_path / "outside", target_is_directory=True)
    with pytest.raises(SourceReadError) as info:
        resolve_files(csv_spec("data/x.csv"), catalog)
    assert "outside the catalog" in info.value.message


def test_symlink_inside_the_catalog_is_fine(tmp_path: Path) -> None:
    real = write(tmp_path / "data" / "2025-01.csv", b"id\n1\n")
    (tmp_path / "data" / "current.csv").symlink_to(real)
    assert [p.name for p in resolve_files(csv_spec("data/current.csv"), tmp_path)] == ["current.csv"]


def test_the_passport_refuses_dot_dot_and_absolute_paths() -> None:
    for bad in ("../x.csv", "/etc/passwd", "data/../../x.csv"):
        with pytest.raises(ValueError, match="relative to the catalog"):
            csv_spec(bad)


def test_source_read_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(SourceReadError(Path("data/x.csv"), 17, "bad")))
    assert (error.file, error.line, error.message, str(error)) == (
        "data/x.csv",
        17,
        "bad",
        "data/x.csv:17: bad",
    )
