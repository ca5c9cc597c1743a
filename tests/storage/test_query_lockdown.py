"""`lockgate sql`'s session reaches the curated tables and nothing else: no file on the machine, no raw
data, no writes, no attachments, no settings, no extensions (tried as a hostile user would)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pytest

from storage.curated import publish, read_current
from storage.errors import QueryError
from storage.release import ReleaseParts
from storage.warehouse import query_lake, register_current

if TYPE_CHECKING:
    from pathlib import Path

    from storage.store import ObjectStore

ROWS = pl.DataFrame({"id": [1, 2], "email": ["pseudonym-1", "pseudonym-2"]})


@pytest.fixture
def published(lake: str, store: ObjectStore, warehouse: Path) -> str:
    parts = ReleaseParts(
        inputs=["a" * 64],
        contract_id="c",
        contract_version="1.0.0",
        contract_sha256="c" * 64,
        code_version="t",
    )
    publish(store, "customers", ROWS, release=parts, run_id="r1", masked_columns={})
    store.put_bytes("raw/customers/2026-01-01/r1/customers.csv", b"id,email\n1,ann@example.com\n")
    register_current(lake, ["customers"], warehouse=str(warehouse))
    return lake


def _sql(lake: str, warehouse: Path, sql: str) -> pl.DataFrame:
    return query_lake(lake, sql, warehouse=warehouse)


def test_selects_on_the_curated_views_run(published: str, warehouse: Path) -> None:
    assert _sql(published, warehouse, "SELECT count(*) AS n FROM customers").item() == 2


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/shadow')",
        "SELECT * FROM read_blob('/etc/hostname')",
        "SELECT * FROM glob('/etc/*')",
    ],
)
def test_files_outside_the_curated_layer_cannot_be_read(published: str, warehouse: Path, sql: str) -> None:
    with pytest.raises(QueryError, match="disabled by configuration"):
        _sql(published, warehouse, sql)


def test_the_raw_layer_of_the_lake_cannot_be_read(
    published: str, store: ObjectStore, warehouse: Path
) -> None:
    raw = store.uri("raw/customers/2026-01-01/r1/customers.csv")
    with pytest.raises(QueryError, match="disabled by configuration"):
        _sql(published, warehouse, f"SELECT * FROM read_csv('{raw}')")


REFUSED = [
    ("COPY (SELECT 'ann@example.com' AS email) TO '{table}/evil.parquet'", "COPY"),
    ("COPY customers TO '/tmp/lockgate-exfiltrated.csv'", "COPY"),
    ("ATTACH '/tmp/other.duckdb' AS other", "ATTACH"),
    ("SET enable_external_access = true", "SET"),
    ("INSTALL httpfs", "LOAD"),
    ("LOAD httpfs", "LOAD"),
    ("PRAGMA enable_profiling", "PRAGMA"),
    ("CREATE OR REPLACE VIEW customers AS SELECT 1", "CREATE"),
    ("SELECT 1; DROP VIEW customers", "DROP"),
    ("CALL enable_logging('QueryLog')", "CALL"),
]


def test_only_select_statements_run(published: str, store: ObjectStore, warehouse: Path) -> None:
    for sql, kind in REFUSED:  # one lake for all: each attempt must leave it as it was
        with pytest.raises(QueryError, match=f"only SELECT statements run here.*refused: .*{kind}"):
            _sql(published, warehouse, sql.format(table=store.uri("curated/customers")))
    assert read_current(store, "customers").equals(ROWS)
    assert not any(k.endswith("evil.parquet") for k in store.list("curated/customers/"))


def test_a_select_cannot_smuggle_a_statement_through_query(published: str, warehouse: Path) -> None:
    with pytest.raises(QueryError):
        _sql(published, warehouse, "SELECT * FROM query('COPY customers TO ''/tmp/x.csv''')")


def test_an_empty_query_is_refused(published: str, warehouse: Path) -> None:
    with pytest.raises(QueryError, match="the query is empty"):
        _sql(published, warehouse, "  ")
