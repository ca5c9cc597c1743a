"""PostgreSQL sources against a real server: types, query mode, incremental loads, credentials, errors."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow.parquet as pq
import pytest

from flows.settings import Settings
from sources.connectors import read_frame
from sources.errors import SourceReadError
from sources.extract import extract
from sources.passport import PostgresConnector

if TYPE_CHECKING:
    from pathlib import Path

    import psycopg

    from sources.extraction import Extraction

UNREACHABLE_API = "http://127.0.0.1:9/api"  # nothing listens on the discard port
SECRET_VALUE = "4276123412341234"  # a card-like value that must never appear in an error message


@pytest.fixture(autouse=True)
def credentials(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Connection 'src' points at the test database; nothing else is configured."""
    monkeypatch.setenv("LOCKGATE_PG_SRC", pg_dsn)
    monkeypatch.delenv("LOCKGATE_PG_NOWHERE", raising=False)


def spec(**fields: Any) -> PostgresConnector:
    return PostgresConnector.model_validate({"kind": "postgres", "credentials": "src", **fields})


def run(connector: PostgresConnector, tmp_path: Path, state: dict | None = None) -> Extraction:
    return extract(connector, tmp_path, state, tmp_path / "work", postgres=Settings().postgres)


def load(
    connector: PostgresConnector, tmp_path: Path, state: dict | None = None
) -> tuple[Extraction, pl.DataFrame]:
    extraction = run(connector, tmp_path, state)
    return extraction, read_frame(connector, extraction.files)


def extract_error(connector: PostgresConnector, tmp_path: Path, state: dict | None = None) -> str:
    with pytest.raises(SourceReadError) as info:
        run(connector, tmp_path, state)
    assert info.value.__cause__ is None and info.value.__context__ is None
    return str(info.value)


# --- full loads ------------------------------------------------------------------------------------


def test_full_load_keeps_values_and_types(pg: psycopg.Connection, pg_schema: str, tmp_path: Path) -> None:
    pg.execute(
        f"""
        CREATE TABLE {pg_schema}.orders (
            id int4 PRIMARY KEY, big int8, small int2, amount numeric(12, 2), ratio float8, computed numeric,
            name text, code varchar(8), day date, at timestamptz, local_at timestamp, paid bool,
            doc jsonb, tags text[], blob bytea
        );
        INSERT INTO {pg_schema}.orders VALUES
            (1, 9000000000, 7, 1234.50, 0.25, 0.1000000001, 'Анна Щукина', 'A-1', '2024-02-29',
             '2024-03-01 12:30:00.123456+03', '2024-03-01 12:30:00', true,
             '{{"b": 1, "a": [1, 2]}}', ARRAY['x', 'y'], '\\x00ff'),
            (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        """
    )
    connector = spec(table=f"{pg_schema}.orders")
    extraction, frame = load(connector, tmp_path)

    assert extraction.description == f"full load: 2 row(s) from {pg_schema}.orders"
    assert extraction.state is None and not extraction.empty
    assert [p.name for p in extraction.files] == [f"{pg_schema}.orders.parquet"]
    assert dict(frame.schema) == {
        "id": pl.Int32,
        "big": pl.Int64,
        "small": pl.Int16,
        "amount": pl.Decimal(12, 2),
        "ratio": pl.Float64,
        "computed": pl.String,
        "name": pl.String,
        "code": pl.String,
        "day": pl.Date,
        "at": pl.Datetime("us", "UTC"),
        "local_at": pl.Datetime("us"),
        "paid": pl.Boolean,
        "doc": pl.String,
        "tags": pl.String,
        "blob": pl.Binary,
    }
    first, second = frame.sort("id").rows(named=True)
    assert first == {
        "id": 1,
        "big": 9_000_000_000,
        "small": 7,
        "amount": Decimal("1234.50"),
        "ratio": 0.25,
        "computed": "0.1000000001",
        "name": "Анна Щукина",
        "code": "A-1",
        "day": date(2024, 2, 29),
        "at": datetime(2024, 3, 1, 9, 30, 0, 123456, tzinfo=UTC),
        "local_at": datetime(2024, 3, 1, 12, 30),
        "paid": True,
        "doc": '{"a": [1, 2], "b": 1}',
        "tags": "{x,y}",
        "blob": b"\x00\xff",
    }
    assert second == {name: (2 if name == "id" else None) for name in frame.columns}
    types = {f.name: f.metadata[b"postgres_type"].decode() for f in pq.read_schema(extraction.files[0])}
    assert types["amount"] == "numeric(12,2)" and types["doc"] == "jsonb" and types["tags"] == "text[]"


def test_query_mode_with_percent_signs_comment_and_semicolon(
    pg: psycopg.Connection, pg_schema: str, tmp_path: Path
) -> None:
    pg.execute(
        f"""
        CREATE TABLE {pg_schema}.people (id int, name text);
        INSERT INTO {pg_schema}.people VALUES (1, 'Борис'), (2, 'Alice'), (3, '100% Anna');
        """
    )
    query = (
        f"SELECT id, upper(name) AS shout FROM {pg_schema}.people WHERE name LIKE '%A%' -- Latin A only\n;"
    )
    connector = spec(query=query)
    assert connector.query is not None and not connector.query.endswith(";")
    extraction, frame = load(connector, tmp_path)
    assert extraction.description == "full load: 2 row(s) from query"
    assert extraction.files[0].name == "query.parquet"
    assert frame.sort("id").rows() == [(2, "ALICE"), (3, "100% ANNA")]


def test_empty_table_is_a_full_load_of_nothing(
    pg: psycopg.Connection, pg_schema: str, tmp_path: Path
) -> None:
    pg.execute(f"CREATE TABLE {pg_schema}.nothing (id int, label text)")
    extraction, frame = load(spec(table=f"{pg_schema}.nothing"), tmp_path)
    assert not extraction.empty
    assert frame.height == 0 and frame.schema == pl.Schema({"id": pl.Int32, "label": pl.String})


def test_large_result_is_streamed_in_bounded_batches(tmp_path: Path) -> None:
    connector = spec(
        query="SELECT g AS id, md5(g::text) AS digest, now() AS at FROM generate_series(1, 250000) AS g",
        batch_rows=60_000,
    )
    extraction = run(connector, tmp_path)
    metadata = pq.ParquetFile(extraction.files[0]).metadata
    groups = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    assert groups == [60_000, 60_000, 60_000, 60_000, 10_000]
    frame = read_frame(connector, extraction.files)
    assert frame.height == 250_000 and frame["id"].n_unique() == 250_000


# --- incremental loads -----------------------------------------------------------------------------


@pytest.fixture
def events(pg: psycopg.Connection, pg_schema: str) -> str:
    table = f"{pg_schema}.events"
    pg.execute(
        f"""
        CREATE TABLE {table} (id serial, day date, note text);
        INSERT INTO {table} (day, note) VALUES
            ('2024-01-01', 'a'), ('2024-01-02', 'b'), ('2024-01-02', 'c'), (NULL, 'no day');
        """
    )
    return table


def notes(frame: pl.DataFrame) -> list[str]:
    return sorted(frame["note"].to_list())


def test_incremental_loads_only_new_rows_and_keeps_ties(
    pg: psycopg.Connection, events: str, tmp_path: Path
) -> None:
    connector = spec(table=events, incremental={"column": "day"})

    first, frame = load(connector, tmp_path)
    assert notes(frame) == ["a", "b", "c"]  # NULL watermarks are never extracted
    assert first.description == f"incremental load: 3 new row(s) from {events} by day"
    assert first.state is not None
    assert first.state["column"] == "day" and first.state["watermark"] == "2024-01-02"
    seen = first.state["seen_at_watermark"]  # digests of rows b and c: no values
    assert sum(seen.values()) == 2 and all(len(digest) == 16 and int(digest, 16) >= 0 for digest in seen)

    second = run(connector, tmp_path, first.state)
    assert second.empty and second.files == [] and second.state == first.state
    assert second.description == f"incremental load: no new rows in {events} by day"

    pg.execute(
        f"INSERT INTO {events} (day, note) "
        "VALUES ('2024-01-02', 'tie'), ('2024-01-03', 'd'), ('2024-01-03', 'e')"
    )
    third, frame = load(connector, tmp_path, first.state)
    assert notes(frame) == ["d", "e", "tie"]
    assert third.state is not None and third.state["watermark"] == "2024-01-03"
    assert sum(third.state["seen_at_watermark"].values()) == 2

    pg.execute(f"INSERT INTO {events} (day, note) VALUES ('2024-01-03', 'another tie')")
    fourth, frame = load(connector, tmp_path, third.state)
    assert notes(frame) == ["another tie"]
    assert fourth.state is not None and sum(fourth.state["seen_at_watermark"].values()) == 3
    assert run(connector, tmp_path, fourth.state).empty


def test_identical_rows_at_the_watermark_are_counted_not_merged(
    pg: psycopg.Connection, pg_schema: str, tmp_path: Path
) -> None:
    table = f"{pg_schema}.readings"
    pg.execute(
        f"CREATE TABLE {table} (at timestamptz, value int); "
        f"INSERT INTO {table} VALUES ('2024-05-01 10:00Z', 1)"
    )
    connector = spec(table=table, incremental={"column": "at"})
    first = run(connector, tmp_path)
    assert first.state is not None and first.state["watermark"] == "2024-05-01T10:00:00+00:00"
    pg.execute(f"INSERT INTO {table} VALUES ('2024-05-01 10:00Z', 1)")  # the same reading, sent twice
    second, frame = load(connector, tmp_path, first.state)
    assert frame.rows() == [(datetime(2024, 5, 1, 10, tzinfo=UTC), 1)]
    assert second.state is not None and list(second.state["seen_at_watermark"].values()) == [2]


def test_initial_value_and_batches_smaller_than_a_tie_group(
    pg: psycopg.Connection, pg_schema: str, tmp_path: Path
) -> None:
    table = f"{pg_schema}.ledger"
    pg.execute(
        f"CREATE TABLE {table} (id int, batch int); "
        f"INSERT INTO {table} SELECT g, g / 10 FROM generate_series(1, 45) AS g"
    )
    # YAML reads `initial: 2` as a number: it is kept as text for PostgreSQL.
    connector = spec(table=table, incremental={"column": "batch", "initial": 2}, batch_rows=3)
    assert connector.incremental is not None and connector.incremental.initial == "2"
    first, frame = load(connector, tmp_path)
    assert frame["id"].sort().to_list() == list(range(20, 46))
    assert first.state is not None and first.state["watermark"] == "4"
    assert sum(first.state["seen_at_watermark"].values()) == 6  # ids 40..45 share batch 4
    pg.execute(f"INSERT INTO {table} VALUES (46, 4), (50, 5)")
    _, frame = load(connector, tmp_path, first.state)
    assert frame["id"].sort().to_list() == [46, 50]


def test_incremental_query_mode(pg: psycopg.Connection, events: str, tmp_path: Path) -> None:
    connector = spec(query=f"SELECT id, note FROM {events} WHERE note <> 'c'", incremental={"column": "id"})
    first, frame = load(connector, tmp_path)
    assert notes(frame) == ["a", "b", "no day"]
    pg.execute(f"INSERT INTO {events} (day, note) VALUES ('2024-02-01', 'new')")
    _, frame = load(connector, tmp_path, first.state)
    assert notes(frame) == ["new"]


def test_state_for_another_column_is_refused(events: str, tmp_path: Path) -> None:
    state = {"column": "id", "watermark": "3", "seen_at_watermark": {}}
    message = extract_error(spec(table=events, incremental={"column": "day"}), tmp_path, state)
    assert "saved watermark is for column id" in message and "reset this source's state" in message


def test_bad_initial_value_is_named_without_echoing_it(events: str, tmp_path: Path) -> None:
    message = extract_error(
        spec(table=events, incremental={"column": "day", "initial": SECRET_VALUE}), tmp_path
    )
    assert "22008" in message or "22007" in message  # date/time field or format error
    assert "is incremental.initial a valid value for column day?" in message
    assert SECRET_VALUE not in message


# --- credentials -----------------------------------------------------------------------------------


def test_missing_credentials_say_what_to_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PREFECT_API_URL", UNREACHABLE_API)
    with pytest.raises(SourceReadError) as info:
        run(PostgresConnector(kind="postgres", credentials="nowhere", table="public.t"), tmp_path)
    message = str(info.value)
    assert message.startswith("postgres:nowhere: credentials 'nowhere' are not set")
    assert "environment variable LOCKGATE_PG_NOWHERE" in message
    assert "Prefect Secret block 'lockgate-pg-nowhere'" in message
    again = pickle.loads(pickle.dumps(info.value))
    assert isinstance(again, SourceReadError) and str(again) == message


def test_unreachable_server_is_named_without_the_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(
        "LOCKGATE_PG_SRC", f"postgresql://reader:{SECRET_VALUE}@127.0.0.1:1/sales?connect_timeout=3"
    )
    message = extract_error(spec(table="public.t"), tmp_path)
    assert "could not connect to PostgreSQL at host 127.0.0.1 port 1 database sales" in message
    assert "(environment variable LOCKGATE_PG_SRC)" in message
    assert "Connection refused" in message
    assert SECRET_VALUE not in message


def test_malformed_connection_string_is_not_echoed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOCKGATE_PG_SRC", f"host=db password={SECRET_VALUE} oops")
    message = extract_error(spec(table="public.t"), tmp_path)
    assert "does not hold a valid libpq connection string or URL" in message
    assert SECRET_VALUE not in message


def test_unknown_database_is_named(pg_dsn: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOCKGATE_PG_SRC", "host=127.0.0.1 user=postgres dbname=lockgate_no_such_db")
    message = extract_error(spec(table="public.t"), tmp_path)
    assert (
        "database lockgate_no_such_db" in message
        and 'database "lockgate_no_such_db" does not exist' in message
    )


@pytest.mark.slow
def test_credentials_from_a_prefect_secret_block(
    prefect_api: None, pg_dsn: str, pg: psycopg.Connection, pg_schema: str, tmp_path: Path
) -> None:
    from prefect.blocks.system import Secret

    pg.execute(f"CREATE TABLE {pg_schema}.t AS SELECT 1 AS id")
    Secret(value=pg_dsn).save("lockgate-pg-from-block", overwrite=True)
    connector = PostgresConnector(kind="postgres", credentials="from_block", table=f"{pg_schema}.t")
    assert read_frame(connector, run(connector, tmp_path).files).rows() == [(1,)]
    with pytest.raises(SourceReadError, match="Prefect Secret block 'lockgate-pg-nowhere'"):
        run(PostgresConnector(kind="postgres", credentials="nowhere", table="public.t"), tmp_path)


# --- SQL errors ------------------------------------------------------------------------------------


def test_unknown_table_is_named(tmp_path: Path) -> None:
    message = extract_error(spec(table="public.no_such_table"), tmp_path)
    assert message == (
        "postgres:src/public.no_such_table: PostgreSQL refused the extract: "
        'relation "public.no_such_table" does not exist (42P01)'
    )


def test_unknown_watermark_column_is_named(events: str, tmp_path: Path) -> None:
    message = extract_error(spec(table=events, incremental={"column": "updated_at"}), tmp_path)
    assert 'column "updated_at" does not exist (42703)' in message


def test_data_errors_do_not_echo_values(tmp_path: Path) -> None:
    message = extract_error(spec(query=f"SELECT 'card {SECRET_VALUE}'::int AS n"), tmp_path)
    assert (
        message
        == "postgres:src/query: PostgreSQL refused the extract: error 22P02 (InvalidTextRepresentation)"
    )


def test_values_python_cannot_hold_are_refused_without_echo(tmp_path: Path) -> None:
    message = extract_error(spec(query="SELECT 'infinity'::date AS d"), tmp_path)
    assert "'infinity' or beyond year 9999 are not supported" in message


def test_numeric_nan_does_not_fit_a_decimal(tmp_path: Path) -> None:
    message = extract_error(spec(query="SELECT 'NaN'::numeric(10, 2) AS amount"), tmp_path)
    assert message.endswith("column amount (numeric(10,2)) holds a value that decimal128(10, 2) cannot hold")


def test_a_query_cannot_write(pg: psycopg.Connection, pg_schema: str, tmp_path: Path) -> None:
    pg.execute(f"CREATE SEQUENCE {pg_schema}.counter; CREATE TABLE {pg_schema}.t AS SELECT 1 AS id")
    message = extract_error(spec(query=f"SELECT nextval('{pg_schema}.counter') AS n"), tmp_path)
    assert message.endswith("cannot execute nextval() in a read-only transaction (25006)")
    assert pg.execute(f"SELECT last_value, is_called FROM {pg_schema}.counter").fetchone() == (1, False)
    # Data-modifying WITH cannot even be wrapped as the subquery an extract reads from.
    query = f"WITH gone AS (DELETE FROM {pg_schema}.t RETURNING 1) SELECT * FROM gone"
    assert "must be at the top level (0A000)" in extract_error(spec(query=query), tmp_path)


def test_repeated_column_names_are_refused(tmp_path: Path) -> None:
    message = extract_error(spec(query="SELECT 1 AS id, 2 AS id"), tmp_path)
    assert message.endswith("the result names a column more than once: id (alias them)")


def test_extraction_pickles(tmp_path: Path) -> None:
    extraction = run(spec(query="SELECT 1 AS one"), tmp_path)
    assert pickle.loads(pickle.dumps(extraction)) == extraction
