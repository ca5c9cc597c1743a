"""An incremental PostgreSQL source through the whole flow: full first load, then only what is new."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
import pytest
from testkit.postgres import temporary_database

from flows.pipeline import ingest
from flows.results import SourceStatus
from storage import layout
from storage.curated import list_versions, read_current
from storage.state import read_state
from storage.store import open_store
from storage.warehouse import query

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("prefect_api")

PASSPORT = """\
name: orders
title: Orders
owner: shop-owner@example.com
steward: shop-steward@example.com
purpose: Order fulfilment and revenue reporting.
legal_basis: contract
update_frequency: hourly
sensitivity: confidential
retention_days: 730
contract: contracts/orders.yaml
connector:
  kind: postgres
  credentials: shop
  table: public.orders
  incremental: {column: order_id}
"""

CONTRACT = """\
apiVersion: v3.1.0
kind: DataContract
id: orders
version: 1.0.0
schema:
  - name: orders
    properties:
      - {name: order_id, logicalType: integer, primaryKey: true}
      - {name: customer_email, logicalType: string, pii: email, masking: hash}
      - {name: amount, logicalType: number, required: true}
      - {name: placed_at, logicalType: timestamp, required: true}
    quality:
      - expectation: expect_column_values_to_be_between
        kwargs: {column: amount, min_value: 0}
"""


@pytest.fixture
def shop_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with temporary_database() as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE orders (order_id bigint PRIMARY KEY, customer_email text, amount numeric(12,2),"
                " placed_at timestamptz NOT NULL)"
            )
            conn.execute(
                "INSERT INTO orders SELECT i, 'buyer' || i || '@example.com', i * 10.5, "
                "timestamptz '2026-01-01 00:00Z' + i * interval '1 hour' FROM generate_series(1, 300) i"
            )
        monkeypatch.setenv("LOCKGATE_PG_SHOP", dsn)
        yield dsn


def _catalog(root: Path) -> Path:
    (root / "sources").mkdir(parents=True)
    (root / "contracts").mkdir()
    (root / "sources" / "orders.yaml").write_text(PASSPORT, encoding="utf-8")
    (root / "contracts" / "orders.yaml").write_text(CONTRACT, encoding="utf-8")
    return root


def test_incremental_postgres_source(tmp_path: Path, shop_db: str, hash_key: bytes) -> None:
    catalog, lake = _catalog(tmp_path / "catalog"), str(tmp_path / "lake")
    store = open_store(lake)

    [first] = ingest(catalog=str(catalog), lake=lake).sources
    assert first.status is SourceStatus.PUBLISHED
    assert first.rows_in == first.rows_out == 300
    assert read_state(store, "orders")["watermark"] == "300"

    [idle] = ingest(catalog=str(catalog), lake=lake).sources
    assert idle.status is SourceStatus.UNCHANGED
    assert idle.raw_keys == []
    assert [v.version for v in list_versions(store, "orders")] == [0]

    with psycopg.connect(shop_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO orders SELECT i, 'late' || i || '@example.com', 1, now() "
            "FROM generate_series(301, 320) i"
        )
    [delta] = ingest(catalog=str(catalog), lake=lake).sources
    assert delta.status is SourceStatus.PUBLISHED
    assert delta.rows_in == 20
    assert delta.rows_out == 320  # the new version is the previous one plus the new rows, merged on order_id
    assert [v.action for v in list_versions(store, "orders")] == ["publish", "merge"]
    data = read_current(store, "orders")
    assert data.get_column("order_id").n_unique() == 320
    assert not data.get_column("customer_email").str.contains("@").any()
    assert read_state(store, "orders")["watermark"] == "320"
    assert query(layout.warehouse_path(lake), "SELECT max(order_id) FROM orders").item() == 320

    # A blocking failure keeps the watermark where it was: the same rows are offered again next run.
    with psycopg.connect(shop_db, autocommit=True) as conn:
        conn.execute("INSERT INTO orders VALUES (321, 'x@example.com', -5, now())")
    with pytest.raises(Exception, match="did not publish"):
        ingest(catalog=str(catalog), lake=lake)
    assert read_state(store, "orders")["watermark"] == "320"


def test_unreachable_database_fails_the_source_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKGATE_PG_SHOP", "postgresql://postgres:hunter2-secret@127.0.0.1:1/shop")
    monkeypatch.setenv("LOCKGATE_HASH_KEY", "0" * 64)
    with pytest.raises(Exception, match="did not publish") as info:
        ingest(catalog=str(_catalog(tmp_path / "catalog")), lake=str(tmp_path / "lake"))
    [orders] = info.value.run.sources
    assert orders.status is SourceStatus.FAILED
    assert orders.error is not None
    assert "127.0.0.1" in orders.error
    assert "hunter2" not in orders.error
