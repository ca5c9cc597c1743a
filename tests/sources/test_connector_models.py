"""PostgreSQL and S3 connectors in passports: valid forms load, mistakes come back with positions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from testkit.catalog_files import PASSPORT, write_catalog

from contracts.errors import CatalogError
from sources.catalog import load_catalog
from sources.passport import CsvConnector, PostgresConnector, S3Connector

if TYPE_CHECKING:
    from pathlib import Path

HEAD = PASSPORT.split("connector:\n")[0] + "connector:\n"
CONNECTOR_LINE = HEAD.count("\n")  # the line of `connector:`; its fields start one line below


def with_connector(tmp_path: Path, block: str) -> Path:
    write_catalog(tmp_path, HEAD + block)
    return tmp_path / "sources" / "people.yaml"


def problems(tmp_path: Path, block: str) -> list[str]:
    path = with_connector(tmp_path, block)
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path)
    return [str(p).removeprefix(f"{path}:") for p in info.value.problems]


def connector(tmp_path: Path, block: str) -> object:
    with_connector(tmp_path, block)
    [source] = load_catalog(tmp_path).sources
    return source.passport.connector


def at(offset: int, column: int = 3) -> str:
    """`line:column:` of the connector's field `offset` lines below `connector:`."""
    return f"{CONNECTOR_LINE + offset}:{column}:"


# --- PostgreSQL ------------------------------------------------------------------------------------


def test_postgres_table_with_incremental_loads(tmp_path: Path) -> None:
    block = (
        "  kind: postgres\n  credentials: orders_db\n  table: public.orders\n"
        "  incremental:\n    column: updated_at\n    initial: 2024-01-01\n"
    )
    spec = connector(tmp_path, block)
    assert isinstance(spec, PostgresConnector)
    assert spec.table == "public.orders" and spec.query is None and spec.batch_rows == 100_000
    assert spec.incremental is not None and spec.incremental.initial == "2024-01-01"  # a YAML date, as text


def test_postgres_table_and_query_both_given(tmp_path: Path) -> None:
    block = "  kind: postgres\n  credentials: db\n  table: public.orders\n  query: SELECT 1\n"
    assert problems(tmp_path, block) == [f"{at(4)} connector.query: give either table or query, not both"]


def test_postgres_neither_table_nor_query(tmp_path: Path) -> None:
    assert problems(tmp_path, "  kind: postgres\n  credentials: db\n") == [
        f"{at(0, 1)} connector.query: give either table (e.g. public.orders) or query (a SELECT)"
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("table", "orders", "not a schema-qualified table name such as public.orders"),
        ("table", "public.orders; drop", "not a schema-qualified table name"),
        ("query", "DELETE FROM public.orders", "query must be a single SELECT (or WITH … SELECT) statement"),
        ("batch_rows", "0", "Input should be greater than or equal to 1"),
    ],
)
def test_postgres_field_rules(tmp_path: Path, field: str, value: str, message: str) -> None:
    block = f"  kind: postgres\n  credentials: db\n  {field}: {value}\n"
    if field not in ("table", "query"):
        block += "  table: public.t\n"
    [problem] = problems(tmp_path, block)
    assert problem.startswith(f"{at(3)} connector.{field}: ") and message in problem, problem


def test_connection_string_in_the_passport_is_refused_without_echo(tmp_path: Path) -> None:
    block = "  kind: postgres\n  credentials: postgresql://app:hunter2@db:5432/sales\n  table: public.t\n"
    [problem] = problems(tmp_path, block)
    assert problem.startswith(f"{at(2)} connector.credentials: must name a connection")
    assert "LOCKGATE_PG_<NAME>" in problem and "hunter2" not in problem


def test_postgres_incremental_rules(tmp_path: Path) -> None:
    block = (
        "  kind: postgres\n  credentials: db\n  table: public.t\n"
        "  incremental:\n    column: updated at\n    since: yesterday\n"
    )
    assert problems(tmp_path, block) == [
        f"{at(5, 5)} connector.incremental.column: not a column name: "
        "letters, digits, '_' or '$', at most 63",
        f"{at(6, 5)} connector.incremental.since: unknown field",
    ]


def test_query_is_trimmed_of_its_semicolon(tmp_path: Path) -> None:
    block = "  kind: postgres\n  credentials: db\n  query: |\n    SELECT id FROM public.t;\n"
    spec = connector(tmp_path, block)
    assert isinstance(spec, PostgresConnector) and spec.query == "SELECT id FROM public.t"


# --- S3 --------------------------------------------------------------------------------------------


def test_s3_csv_with_options_loads(tmp_path: Path) -> None:
    block = (
        "  kind: s3\n  url: s3://partner-drop/exports\n  pattern: '*.csv'\n  format: csv\n"
        "  delimiter: ';'\n  encoding: cp1251\n"
    )
    spec = connector(tmp_path, block)
    assert isinstance(spec, S3Connector)
    assert (spec.bucket, spec.prefix, spec.url) == ("partner-drop", "exports/", "s3://partner-drop/exports/")
    assert (spec.delimiter, spec.encoding, spec.header) == (";", "cp1251", True)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("url", "https://partner-drop/exports/", "not an S3 folder URL such as s3://bucket/prefix/"),
        ("url", "s3://Partner_Drop/", "not an S3 folder URL"),
        ("url", "s3://partner-drop//x/", "empty path segment"),
        ("format", "xlsx", "Input should be 'csv', 'ndjson' or 'parquet'"),
        ("pattern", "../*.csv", "must be a glob relative to the prefix"),
        ("encoding", "klingon", "unknown text encoding: use a codec name"),
    ],
)
def test_s3_field_rules(tmp_path: Path, field: str, value: str, message: str) -> None:
    fields = {"url": "s3://partner-drop/", "format": "csv", field: value}
    block = "  kind: s3\n" + "".join(f"  {k}: {v}\n" for k, v in fields.items())
    line = 2 + list(fields).index(field)
    [problem] = problems(tmp_path, block)
    assert problem.startswith(f"{at(line)} connector.{field}: ") and message in problem, problem


def test_s3_csv_options_with_another_format(tmp_path: Path) -> None:
    block = "  kind: s3\n  url: s3://partner-drop/\n  format: parquet\n  delimiter: ';'\n  header: false\n"
    assert problems(tmp_path, block) == [
        f"{at(0, 1)} connector: delimiter, header only apply to format: csv, not parquet"
    ]


def test_s3_needs_url_and_format(tmp_path: Path) -> None:
    assert problems(tmp_path, "  kind: s3\n") == [
        f"{at(0, 1)} connector: required field 'format' is missing",
        f"{at(0, 1)} connector: required field 'url' is missing",
    ]


def test_csv_connector_keeps_its_options(tmp_path: Path) -> None:
    spec = connector(tmp_path, "  kind: csv\n  path: data/people.csv\n  null_values: ['', 'NA']\n")
    assert isinstance(spec, CsvConnector) and spec.null_values == ["", "NA"]
