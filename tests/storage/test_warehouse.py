"""The DuckDB warehouse: views over current curated objects, local and over S3 through httpfs."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import polars as pl
import pytest

from storage.curated import current_version, publish, set_current
from storage.errors import QueryError
from storage.store import ObjectStore, StorageError, open_store
from storage.warehouse import connect, query, register_views

if TYPE_CHECKING:
    from pathlib import Path

HTTPFS_LOADED = "SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'"
CUSTOMERS = pl.DataFrame({"id": [1, 2, 3], "email": ["h1", "h2", "h2"]})
STORES = pl.DataFrame({"store_id": ["s1", "s2"], "city": ["Kazan", "Omsk"]})


def _publish(store: ObjectStore, source: str, frame: pl.DataFrame, inputs: list[str]) -> str:
    version = publish(
        store,
        source,
        frame,
        run_id="r1",
        input_sha256=inputs,
        contract_id=source,
        contract_version="1.0.0",
        masked_columns={},
    )
    return store.uri(version.data_key)


def test_register_and_query(store: ObjectStore, warehouse: Path) -> None:
    views = {
        "customers": _publish(store, "customers", CUSTOMERS, ["a"]),
        "stores": _publish(store, "stores", STORES, ["b"]),
    }
    register_views(warehouse, views)
    counts = query(warehouse, "SELECT count(*) AS n, count(DISTINCT email) AS e FROM customers")
    assert counts.row(0) == (3, 2)
    assert query(warehouse, "SELECT * FROM stores ORDER BY store_id").equals(STORES)


def test_views_follow_the_pointer_when_registered_again(store: ObjectStore, warehouse: Path) -> None:
    register_views(warehouse, {"customers": _publish(store, "customers", CUSTOMERS, ["a"])})
    register_views(warehouse, {"stores": _publish(store, "stores", STORES, ["b"])})
    assert query(warehouse, "SELECT count(*) FROM customers").item() == 3  # others are kept

    bigger = pl.concat([CUSTOMERS, CUSTOMERS])
    register_views(warehouse, {"customers": _publish(store, "customers", bigger, ["c"])})
    assert query(warehouse, "SELECT count(*) FROM customers").item() == 6

    rolled_back = set_current(store, "customers", 1, reason="rollback")
    register_views(warehouse, {"customers": store.uri(rolled_back.data_key)})
    assert query(warehouse, "SELECT count(*) FROM customers").item() == 3
    assert current_version(store, "customers") == rolled_back


def test_query_connections_are_read_only(store: ObjectStore, warehouse: Path) -> None:
    register_views(warehouse, {"stores": _publish(store, "stores", STORES, ["b"])})
    with pytest.raises(QueryError, match="read-only"):
        query(warehouse, "CREATE TABLE t AS SELECT 1")


def test_s3_credentials_are_not_stored_in_the_warehouse(store: ObjectStore, warehouse: Path) -> None:
    register_views(warehouse, {"stores": _publish(store, "stores", STORES, ["b"])})
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "no-secret-configured")
    assert secret.encode() not in warehouse.read_bytes()
    con = connect(warehouse)
    try:
        persistent = con.execute("SELECT count(*) FROM duckdb_secrets() WHERE persistent").fetchone()
        assert persistent == (0,)
    finally:
        con.close()


def test_s3_views_read_through_httpfs(bucket: str, tmp_path: Path) -> None:
    """Not through a local copy: the view's SQL names the s3:// object and httpfs is loaded."""
    lake = f"s3://{bucket}/lake"
    store = open_store(lake)
    warehouse = tmp_path / "wh.duckdb"
    register_views(warehouse, {"stores": _publish(store, "stores", STORES, ["b"])})
    con = connect(warehouse)
    try:
        [(sql,)] = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'stores'").fetchall()
        assert f"'s3://{bucket}/lake/curated/stores/v000001/data.parquet'" in sql
        loaded = con.execute(HTTPFS_LOADED).fetchone()
        assert loaded == (True,)
        assert con.execute("SELECT count(*) FROM stores").fetchone() == (2,)
    finally:
        con.close()


def test_local_warehouse_does_not_need_httpfs(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "lake"))
    warehouse = tmp_path / "lake" / "warehouse.duckdb"
    register_views(warehouse, {"stores": _publish(store, "stores", STORES, ["b"])})
    con = connect(warehouse)
    try:
        loaded = con.execute(HTTPFS_LOADED).fetchone()
        assert loaded in {(False,), None}
    finally:
        con.close()


@pytest.mark.parametrize("name", ['x"; DROP TABLE y; --', "1abc", "", "a-b"])
def test_view_names_must_be_plain_identifiers(tmp_path: Path, name: str) -> None:
    with pytest.raises(StorageError, match="invalid view name"):
        register_views(tmp_path / "wh.duckdb", {name: str(tmp_path / "x.parquet")})
    assert not (tmp_path / "wh.duckdb").exists()


def test_uri_quotes_are_escaped(tmp_path: Path) -> None:
    folder = tmp_path / "it's here"
    folder.mkdir()
    STORES.write_parquet(folder / "data.parquet")
    register_views(tmp_path / "wh.duckdb", {"stores": str(folder / "data.parquet")})
    assert query(tmp_path / "wh.duckdb", "SELECT count(*) FROM stores").item() == 2


def test_query_without_a_warehouse_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"missing\.duckdb"):
        query(tmp_path / "missing.duckdb", "SELECT 1")


def test_register_error_names_the_views_not_the_data(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="could not register views stores"):
        register_views(tmp_path / "wh.duckdb", {"stores": str(tmp_path / "absent.parquet")})
