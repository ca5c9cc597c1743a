"""The DuckDB warehouse: one view per dataset over its curated Delta table, local and over S3 (httpfs)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import duckdb
import polars as pl
import pytest

from storage.curated import publish, rollback, table_uri
from storage.errors import QueryError
from storage.release import ReleaseParts
from storage.store import ObjectStore, StorageError, open_store
from storage.warehouse import (
    ViewTarget,
    connect,
    load_delta,
    query,
    query_lake,
    register_views,
    view_objects,
)

if TYPE_CHECKING:
    from pathlib import Path

HTTPFS_LOADED = "SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'"
CUSTOMERS = pl.DataFrame({"id": [1, 2, 3], "email": ["h1", "h2", "h2"]})
STORES = pl.DataFrame({"store_id": ["s1", "s2"], "city": ["Kazan", "Omsk"]})


def _parts(source: str, inputs: list[str]) -> ReleaseParts:
    return ReleaseParts(
        inputs=inputs,
        contract_id=source,
        contract_version="1.0.0",
        contract_sha256="c" * 64,
        code_version="0.1.0",
    )


def _publish(store: ObjectStore, source: str, frame: pl.DataFrame, inputs: list[str]) -> str:
    """Publish `frame` as the dataset's next version; the table's URI, which is what a view reads."""
    publish(store, source, frame, release=_parts(source, inputs), run_id="r1", masked_columns={})
    return table_uri(store, source)


def _view_sql(warehouse: Path, name: str) -> str:
    con = connect(warehouse)
    try:
        [(sql,)] = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = ?", [name]).fetchall()
        return str(sql)
    finally:
        con.close()


def test_register_and_query(lake: str, store: ObjectStore, warehouse: Path) -> None:
    views = {
        "customers": _publish(store, "customers", CUSTOMERS, ["a" * 64]),
        "stores": _publish(store, "stores", STORES, ["b" * 64]),
    }
    register_views(warehouse, views)
    counts = query_lake(
        lake, "SELECT count(*) AS n, count(DISTINCT email) AS e FROM customers", warehouse=warehouse
    )
    assert counts.row(0) == (3, 2)
    assert query_lake(lake, "SELECT * FROM stores ORDER BY store_id", warehouse=warehouse).equals(STORES)


def test_a_view_reads_the_latest_version_without_being_registered_again(
    lake: str, store: ObjectStore, warehouse: Path
) -> None:
    """A publish or a rollback is a new Delta version of the same table: the view follows it."""
    register_views(warehouse, {"customers": _publish(store, "customers", CUSTOMERS, ["a" * 64])})
    register_views(warehouse, {"stores": _publish(store, "stores", STORES, ["b" * 64])})
    assert (
        query_lake(lake, "SELECT count(*) FROM customers", warehouse=warehouse).item() == 3
    )  # other views are kept

    _publish(store, "customers", pl.concat([CUSTOMERS, CUSTOMERS]), ["c" * 64])
    assert query_lake(lake, "SELECT count(*) FROM customers", warehouse=warehouse).item() == 6

    rollback(store, "customers", 0, by="alice", reason="bad delivery")
    assert query_lake(lake, "SELECT count(*) FROM customers", warehouse=warehouse).item() == 3


def test_query_connections_are_read_only(lake: str, store: ObjectStore, warehouse: Path) -> None:
    register_views(warehouse, {"stores": _publish(store, "stores", STORES, ["b" * 64])})
    with pytest.raises(QueryError, match="read-only"):
        query_lake(lake, "CREATE TABLE t AS SELECT 1", warehouse=warehouse)


def test_s3_credentials_are_not_stored_in_the_warehouse(store: ObjectStore, warehouse: Path) -> None:
    register_views(warehouse, {"stores": _publish(store, "stores", STORES, ["b" * 64])})
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "no-secret-configured")
    assert secret.encode() not in warehouse.read_bytes()
    con = connect(warehouse)
    try:
        persistent = con.execute("SELECT count(*) FROM duckdb_secrets() WHERE persistent").fetchone()
        assert persistent == (0,)
    finally:
        con.close()


def test_s3_views_read_the_table_through_httpfs(bucket: str, tmp_path: Path) -> None:
    """Not through a local copy: the view's SQL names the s3:// table and httpfs is loaded."""
    store = open_store(f"s3://{bucket}/lake")
    warehouse = tmp_path / "wh.duckdb"
    register_views(warehouse, {"stores": _publish(store, "stores", STORES, ["b" * 64])})
    assert f"delta_scan('s3://{bucket}/lake/curated/stores')" in _view_sql(warehouse, "stores")
    con = connect(warehouse)
    try:
        assert con.execute(HTTPFS_LOADED).fetchone() == (True,)
        assert con.execute("SELECT count(*) FROM stores").fetchone() == (2,)
        assert view_objects(con) == {"stores": ViewTarget("curated/stores", portable=True)}
    finally:
        con.close()


def test_local_views_name_their_table_relative_to_the_lake(tmp_path: Path) -> None:
    """Through the `lockgate_lake` variable each Lockgate connection sets; a DuckDB session outside
    Lockgate (no variable) falls back to where the lake was at registration."""
    lake = tmp_path / "lake"
    warehouse = lake / "warehouse.duckdb"
    register_views(warehouse, {"stores": _publish(open_store(str(lake)), "stores", STORES, ["b" * 64])})
    sql = _view_sql(warehouse, "stores")
    assert "getvariable('lockgate_lake')" in sql and "'/curated/stores'" in sql
    con = connect(warehouse)
    try:
        assert view_objects(con) == {"stores": ViewTarget("curated/stores", portable=True)}
        assert con.execute(HTTPFS_LOADED).fetchone() in {(False,), None}  # a local lake needs no httpfs
    finally:
        con.close()
    plain = duckdb.connect(str(warehouse), read_only=True, config={"autoinstall_known_extensions": False})
    try:
        load_delta(plain)
        assert plain.execute("SELECT count(*) FROM stores").fetchone() == (2,)
    finally:
        plain.close()


@pytest.mark.parametrize("name", ['x"; DROP TABLE y; --', "1abc", "", "a-b"])
def test_view_names_must_be_plain_identifiers(tmp_path: Path, name: str) -> None:
    with pytest.raises(StorageError, match="invalid view name"):
        register_views(tmp_path / "wh.duckdb", {name: str(tmp_path / "table")})
    assert not (tmp_path / "wh.duckdb").exists()


def test_quotes_in_the_lake_path_are_escaped(tmp_path: Path) -> None:
    """In the view's fallback path and in the folder a query session may read."""
    lake = tmp_path / "it's the lake"
    register_views(
        lake / "warehouse.duckdb", {"stores": _publish(open_store(str(lake)), "stores", STORES, ["b" * 64])}
    )
    assert query_lake(str(lake), "SELECT count(*) FROM stores").item() == 2


def test_query_without_a_warehouse_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"missing\.duckdb"):
        query(tmp_path / "missing.duckdb", "SELECT 1")


def test_a_view_over_no_table_is_refused_naming_the_view(tmp_path: Path) -> None:
    """Nothing half-made is left: the warehouse this call would have created is removed."""
    with pytest.raises(StorageError, match="could not register views stores"):
        register_views(tmp_path / "wh.duckdb", {"stores": str(tmp_path / "absent")})
    assert not (tmp_path / "wh.duckdb").exists()
