"""The ingest flow end to end on the example catalog, under a real Prefect API.

Nothing here is mocked: files are read by polars, rules run in Great Expectations, curated data is
written as Delta tables and queried through DuckDB, and the flow runs in Prefect.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING

import polars as pl
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterName,
    TaskRunFilter,
    TaskRunFilterName,
)
from prefect.client.schemas.sorting import ArtifactSort
from testkit.catalog_fixtures import read_customers, rewrite_customers
from testkit.prefect_reads import latest_artifact

from contracts.keys import key_id
from flows.errors import RunFailed
from flows.pipeline import ingest
from flows.results import RunResult, SourceStatus
from storage import layout
from storage.curated import current_version, list_versions, read_current, rollback
from storage.quarantine import read_quarantine
from storage.store import open_store
from storage.warehouse import query

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_example_catalog_end_to_end(catalog: Path, tmp_path: Path, hash_key: bytes) -> None:
    lake = tmp_path / "lake"
    run: RunResult = ingest(catalog=str(catalog), lake=str(lake))

    statuses = {r.source: r.status for r in run.sources}
    assert statuses == {name: SourceStatus.PUBLISHED for name in ("customers", "stores", "support_tickets")}
    customers = next(r for r in run.sources if r.source == "customers")
    source_rows = read_customers(catalog)
    assert customers.rows_in == customers.rows_out == len(source_rows)
    assert customers.curated_version == 0
    assert customers.curated_key == "curated/customers"
    assert customers.warnings, "the example data carries a few malformed e-mails, reported as a warning"
    assert not customers.failed_blocking

    # Raw: the files byte for byte, with their checksums in the manifest.
    store = open_store(str(lake))
    [raw_key] = customers.raw_keys
    original = (catalog / "data" / "customers.csv").read_bytes()
    assert store.get_bytes(raw_key) == original
    manifest_key = raw_key.rsplit("/", 1)[0] + "/_manifest.json"
    manifest = json.loads(store.get_bytes(manifest_key))
    assert manifest["files"][0]["sha256"] == hashlib.sha256(original).hexdigest()
    assert manifest["rows"] == len(source_rows)
    assert manifest["passport"]["owner"]

    # Curated: masked by the contract's rules.
    version = current_version(store, "customers")
    assert version is not None
    assert customers.release_id == version.release_id and version.release is not None
    assert version.release.inputs == [manifest["files"][0]["sha256"]]
    curated = read_current(store, "customers")
    first = source_rows[0]
    row = curated.filter(pl.col("customer_id") == int(first["customer_id"])).row(0, named=True)
    assert row["email"] == hmac.new(hash_key, first["email"].encode(), hashlib.sha256).hexdigest()
    digits_kept = first["card_number"][-4:]
    assert row["card_number"].endswith(digits_kept)
    assert set(row["card_number"][:-4]) == {"*"}
    assert version.masked_columns["email"] == f"hash:{key_id(hash_key)}"
    assert version.masked_columns["card_number"] == "partial"

    # No declared PII value in clear anywhere in the curated layer or the warehouse.
    pii_columns = ["full_name", "email", "phone", "snils", "inn", "passport_number", "card_number"]
    planted = {r[c] for r in source_rows for c in pii_columns if len(r[c]) >= 6}
    curated_text = "\n".join(
        str(v) for column in curated.columns for v in curated.get_column(column).cast(pl.String).to_list()
    )
    assert not [value for value in planted if value in curated_text]

    warehouse = query(
        layout.warehouse_path(str(lake)), "SELECT count(*) AS n, count(DISTINCT email) AS e FROM customers"
    )
    assert warehouse.row(0) == (len(source_rows), len({r["email"] for r in source_rows}))
    assert query(layout.warehouse_path(str(lake)), "SELECT count(*) FROM support_tickets").item() > 0

    # The Prefect artifact reports counts, not values.
    markdown = latest_artifact("lockgate-customers")
    assert "customers" in markdown
    assert str(len(source_rows)) in markdown
    assert not [value for value in planted if value in markdown]

    # Great Expectations Data Docs of the run, in the lake and linked from the Prefect UI.
    # The link opens the run's page through `lockgate docs serve` (its default address here).
    assert customers.docs_uri is not None
    assert customers.docs_uri.startswith("http://127.0.0.1:8765/validations/")
    assert f"/{run.run_id}/" in customers.docs_uri and customers.docs_uri.endswith("/customers.html")
    page = customers.docs_uri.removeprefix("http://127.0.0.1:8765/")
    assert (lake / layout.docs_site_key(page)).is_file()
    # One index for the run, rebuilt once after every source's page: it lists each of them.
    index = (lake / layout.docs_site_key("index.html")).read_text()
    pages = [r.docs_uri.removeprefix("http://127.0.0.1:8765/") for r in run.sources if r.docs_uri]
    assert len(pages) > 1 and all(page in index for page in pages), pages
    assert f"Data Docs: {customers.docs_uri}" in markdown
    with get_client(sync_client=True) as client:
        [link] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["lockgate-docs-customers"])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    assert str(link.data).startswith("[Data Docs: customers](http://127.0.0.1:8765/")

    # Task runs say whose step they are.
    with get_client(sync_client=True) as client:
        named = client.read_task_runs(
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="[customers]")), limit=50
        )
        [flow_run] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[run.run_id])), limit=5
        )
    assert {"land-raw[customers]", "validate[customers]", "publish[customers]"} <= {t.name for t in named}
    assert flow_run.name == run.run_id  # the Prefect UI and the lake name the run alike

    # Same input, same contract: nothing new is published.
    again = ingest(catalog=str(catalog), lake=str(lake))
    assert {r.status for r in again.sources} == {SourceStatus.UNCHANGED}
    assert [v.version for v in list_versions(store, "customers")] == [0]


def test_the_same_inputs_give_the_same_release_in_any_lake(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    first = ingest(catalog=str(catalog), lake=str(tmp_path / "one"), sources=["stores"])
    second = ingest(catalog=str(catalog), lake=str(tmp_path / "two"), sources=["stores"])
    [a], [b] = first.sources, second.sources
    assert a.release_id is not None and a.release_id == b.release_id and a.run_id != b.run_id


def test_a_release_rolled_back_from_is_not_published_again(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    lake = str(tmp_path / "lake")
    ingest(catalog=str(catalog), lake=lake, sources=["customers"])
    rewrite_customers(catalog, {2: {"segment": "smb"}})
    [changed] = ingest(catalog=str(catalog), lake=lake, sources=["customers"]).sources
    assert changed.status is SourceStatus.PUBLISHED and changed.curated_version == 1
    store = open_store(lake)
    rollback(store, "customers", 0, by="owner", reason="bad delivery")
    [again] = ingest(catalog=str(catalog), lake=lake, sources=["customers"]).sources
    assert again.status is SourceStatus.UNCHANGED
    assert again.note is not None and f"release {changed.release_id} was rolled back" in again.note
    assert [v.action for v in list_versions(store, "customers")] == ["publish", "publish", "rollback"]


def test_rotating_the_hash_key_publishes_a_new_version(
    catalog: Path, tmp_path: Path, hash_key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = str(tmp_path / "lake")
    ingest(catalog=str(catalog), lake=lake, sources=["stores"])
    rotated = bytes(reversed(hash_key))
    monkeypatch.setenv("LOCKGATE_HASH_KEY", rotated.hex())
    [stores] = ingest(catalog=str(catalog), lake=lake, sources=["stores"]).sources
    assert stores.status is SourceStatus.PUBLISHED
    assert stores.raw_reused == 1  # the same raw bytes, masked with the new key
    versions = list_versions(open_store(lake), "stores")
    assert [v.masked_columns["manager_email"] for v in versions] == [
        f"hash:{key_id(hash_key)}",
        f"hash:{key_id(rotated)}",
    ]


def test_stop_line_keeps_curated_untouched_and_raw_landed(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    lake = tmp_path / "lake"
    ingest(catalog=str(catalog), lake=str(lake))
    store = open_store(str(lake))
    before = current_version(store, "customers")
    assert before is not None
    before_rows = read_current(store, "customers")

    rewrite_customers(catalog, {3: {"lifetime_value": "-5"}, 10: {"lifetime_value": "-1.5"}})
    with pytest.raises(RunFailed) as info:
        ingest(catalog=str(catalog), lake=str(lake))

    run = info.value.run
    customers = next(r for r in run.sources if r.source == "customers")
    assert customers.status is SourceStatus.STOPPED
    [failed] = customers.failed_blocking
    assert failed.column == "lifetime_value"
    assert failed.unexpected_count == 2
    assert {r.status for r in run.sources if r.source != "customers"} == {SourceStatus.UNCHANGED}

    after = current_version(store, "customers")
    assert after == before
    assert read_current(store, "customers").equals(before_rows)
    assert [v.version for v in list_versions(store, "customers")] == [0]
    # What was received is kept: the rejected file is in the raw layer with its manifest.
    [raw_key] = customers.raw_keys
    assert store.get_bytes(raw_key) == (catalog / "data" / "customers.csv").read_bytes()
    assert run.run_id in raw_key


def test_values_that_do_not_fit_the_type_stop_the_source_naming_rows(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    rewrite_customers(catalog, {4: {"signup_date": "31/12/2023"}})
    with pytest.raises(RunFailed) as info:
        ingest(catalog=str(catalog), lake=str(tmp_path / "lake"), sources=["customers"])
    [customers] = info.value.run.sources
    assert customers.status is SourceStatus.STOPPED
    # The report names the column and the row, never the value.
    assert customers.schema_issues == ["column signup_date: 1 value(s) are not valid date (data row 5)"]
    assert current_version(open_store(str(tmp_path / "lake")), "customers") is None


def test_missing_masking_key_fails_before_any_data_moves(
    catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOCKGATE_HASH_KEY", raising=False)
    monkeypatch.delenv("LOCKGATE_KEY_DEFAULT", raising=False)
    lake = tmp_path / "lake"
    state = ingest(catalog=str(catalog), lake=str(lake), return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert "LOCKGATE_KEY_DEFAULT" in str(error) or "LOCKGATE_HASH_KEY" in str(error)
    assert not (lake / "raw").exists()


def test_quarantine_rule_sets_bad_rows_aside_and_publishes_the_rest(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    rewrite_customers(catalog, {2: {"segment": "vip"}, 40: {"segment": "VIP"}, 41: {"segment": "gold"}})
    lake = tmp_path / "lake"
    run = ingest(catalog=str(catalog), lake=str(lake), sources=["customers"])
    [customers] = run.sources
    assert customers.status is SourceStatus.PUBLISHED
    total = len(read_customers(catalog))
    assert customers.rows_in == total
    assert customers.rows_quarantined == 3
    assert customers.rows_out == total - 3
    rule = next(e for e in customers.expectations if e.rule_id == "known_segment")
    assert (rule.action, rule.success, rule.blocking, rule.unexpected_count) == (
        "quarantine",
        False,
        False,
        3,
    )

    store = open_store(str(lake))
    assert customers.quarantine_key == f"quarantine/customers/{run.run_id}/rows.parquet"
    held = read_quarantine(store, "customers", run.run_id)
    assert held.get_column("_lockgate_row").to_list() == [3, 41, 42]
    assert held.get_column("_lockgate_failed_rules").to_list() == [["known_segment"]] * 3
    published = query(layout.warehouse_path(str(lake)), "SELECT DISTINCT segment FROM customers ORDER BY 1")
    assert published.to_series().to_list() == ["enterprise", "retail", "smb"]
    assert "quarantined rows: 3" in latest_artifact("lockgate-customers")
