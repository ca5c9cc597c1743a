"""Role outputs of the example catalog: what analyst, privacy_officer and annotator can read, what they
cannot, the audit entries both leave, and escape attempts through a role's connection and, beneath it,
the locked DuckDB session itself.

The lake is published with the real pipeline pieces (read, conform, mask, publish) once per module; the
roles are built from the example ``access.yaml`` as the ingest flow builds them after publishing.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl
import pytest
from testkit import published_example
from testkit.catalog_fixtures import HASH_KEY

from flows.access import build_role_outputs
from flows.catalog_changes import record_catalog_changes
from flows.role_session import query_as, role_connection
from sources.catalog import load_catalog
from storage import audit, layout
from storage.errors import AccessDenied, QueryError
from storage.roles import connect_role, iam_policy, read_manifest
from storage.store import open_store

if TYPE_CHECKING:
    from collections.abc import Iterator

    from storage.base import ObjectStore

REPO = Path(__file__).resolve().parents[2]
KEY = bytes.fromhex(HASH_KEY)


def publish_example(catalog: Path, lake: str) -> None:
    published_example.publish_example(catalog, lake, KEY)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """The example catalog (a private copy) published into a local lake, with role outputs built."""
    folder = tmp_path_factory.mktemp("access")
    catalog = Path(shutil.copytree(REPO / "examples" / "catalog", folder / "catalog"))
    lake = str(folder / "lake")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCKGATE_HASH_KEY", HASH_KEY)
        publish_example(catalog, lake)
        open_store(lake).put_bytes(
            "raw/customers/2026-01-01/r1/customers.csv", b"id,email\n1,ann@example.com\n"
        )
        build_role_outputs(catalog, lake)
        yield catalog, lake


@pytest.fixture
def lake(world: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LOCKGATE_HASH_KEY", HASH_KEY)
    monkeypatch.delenv("LOCKGATE_USER", raising=False)
    return world[1]


@pytest.fixture
def store(lake: str) -> ObjectStore:
    return open_store(lake)


def _source_rows(catalog: Path) -> list[dict[str, str]]:
    with (catalog / "data" / "customers.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _last(store: ObjectStore) -> audit.AuditEntry:
    return audit.entries(store)[-1]


# --- the outputs ----------------------------------------------------------------------------------------


def test_each_role_gets_only_its_datasets_under_its_own_prefix(store: ObjectStore, lake: str) -> None:
    analyst, officer, annotator = (
        read_manifest(store, r) for r in ("analyst", "privacy_officer", "annotator")
    )
    assert sorted(analyst.datasets) == ["customers", "stores", "support_tickets"]
    assert "passport_number" not in analyst.datasets["customers"].columns
    assert analyst.datasets["customers"].hidden["passport_number"] == "pii passport_ru: none"
    assert officer.datasets["customers"].columns["passport_number"] == "decrypted"
    assert officer.datasets["customers"].columns["email"] == "masked"  # hash is one-way
    assert sorted(annotator.datasets) == ["support_tickets"]
    assert sorted(annotator.datasets["support_tickets"].columns) == ["body", "subject", "ticket_id"]
    assert annotator.denied["customers"].startswith("sensitivity restricted not granted")
    assert annotator.users == ["ivan", "maria"] and officer.users == ["olga"] and analyst.users == ["anna"]
    for manifest in (analyst, officer, annotator):
        for dataset in manifest.datasets.values():
            assert dataset.key.startswith(f"roles/{manifest.role}/{dataset.name}/")
        assert layout.role_database_path(lake, manifest.role).is_file()
    # nothing of the raw or quarantine layers, nor any other role's data, is under a role's prefix
    assert all(k.startswith("roles/annotator/") for k in store.list("roles/annotator/"))


def test_a_rebuild_that_changes_nothing_writes_nothing(world: tuple[Path, str], lake: str) -> None:
    builds = build_role_outputs(world[0], lake)
    assert [(b.role, b.written, b.removed) for b in builds] == [
        ("analyst", 0, 0),
        ("annotator", 0, 0),
        ("privacy_officer", 0, 0),
    ]


# --- what each role can and cannot read -----------------------------------------------------------------


def test_analyst_reads_masked_customers_and_the_query_is_audited(
    world: tuple[Path, str], lake: str, store: ObjectStore
) -> None:
    sql = "SELECT email, card_number FROM customers WHERE segment = 'retail'"
    result = query_as(lake, "analyst", sql, user="anna")
    rows = _source_rows(world[0])
    assert result.frame.height > 0
    planted = {r["email"] for r in rows} | {r["card_number"] for r in rows if r["card_number"]}
    assert not planted & set(result.frame.cast(pl.String).to_series(0).to_list())
    entry = _last(store)
    assert (entry.action, entry.actor, entry.role, entry.outcome) == ("query", "anna", "analyst", "ok")
    assert entry.details["datasets"] == ["customers"]
    assert entry.details["columns"] == ["customers.card_number", "customers.email", "customers.segment"]
    assert len(entry.details["query_sha256"]) == 64 and "retail" not in str(entry.details)
    assert entry.details["rows"] == result.frame.height


def test_analyst_is_denied_a_hidden_column_with_the_reason(lake: str, store: ObjectStore) -> None:
    sql = "SELECT c.customer_id, c.passport_number FROM customers c"
    with pytest.raises(
        AccessDenied,
        match=r"column customers\.passport_number is hidden from role 'analyst' "
        r"\(pii passport_ru: none\)",
    ):
        query_as(lake, "analyst", sql, user="anna")
    entry = _last(store)
    assert (entry.action, entry.outcome, entry.actor, entry.role) == (
        "query.denied",
        "denied",
        "anna",
        "analyst",
    )
    assert "passport_number" in entry.details["reason"]


def test_privacy_officer_reads_the_encrypted_column_in_clear(world: tuple[Path, str], lake: str) -> None:
    rows = {r["customer_id"]: r["passport_number"] for r in _source_rows(world[0]) if r["passport_number"]}
    result = query_as(
        lake, "privacy_officer", "SELECT customer_id, passport_number FROM customers", user="olga"
    ).frame
    seen = {str(c): p for c, p in result.iter_rows() if p is not None}
    assert seen and all(rows[c] == p for c, p in seen.items())


def test_annotator_reads_what_the_labeling_plan_sends_and_nothing_else(lake: str, store: ObjectStore) -> None:
    result = query_as(lake, "annotator", "SELECT * FROM support_tickets", user="maria")
    assert result.frame.columns == ["ticket_id", "subject", "body"]
    assert _last(store).details["columns"] == [
        "support_tickets.body",
        "support_tickets.subject",
        "support_tickets.ticket_id",
    ]
    with pytest.raises(AccessDenied, match=r"dataset 'customers' is denied to role 'annotator': sensitivity"):
        query_as(lake, "annotator", "SELECT count(*) FROM customers", user="maria")
    with pytest.raises(AccessDenied, match=r"column support_tickets\.channel is hidden .*not sent by any"):
        query_as(lake, "annotator", "SELECT channel FROM support_tickets", user="maria")
    with pytest.raises(AccessDenied, match=r"dataset 'stores' is denied.*no labeling plan"):
        query_as(lake, "annotator", "SELECT 1 FROM stores", user="maria")
    assert [e.outcome for e in audit.entries(store, role="annotator")][-3:] == ["denied"] * 3


def test_a_user_without_the_role_is_denied_and_audited(
    lake: str, store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKGATE_USER", "anna")  # anna is an analyst, not a privacy officer
    with pytest.raises(AccessDenied, match="user 'anna' does not hold role 'privacy_officer'"):
        query_as(lake, "privacy_officer", "SELECT passport_number FROM customers")
    with pytest.raises(AccessDenied, match="user 'anna' does not hold role 'privacy_officer'"):
        role_connection(lake, "privacy_officer")
    entry = _last(store)
    assert (entry.action, entry.actor, entry.role) == ("query.denied", "anna", "privacy_officer")
    with pytest.raises(
        AccessDenied, match=r"role 'auditor' has no output in this lake \(roles built: analyst"
    ):
        query_as(lake, "auditor", "SELECT 1")


def test_a_query_of_internal_data_only_leaves_no_entry(lake: str, store: ObjectStore) -> None:
    before = len(audit.entries(store))
    # stores is confidential: audited; a query naming no dataset reads nothing sensitive
    query_as(lake, "analyst", "SELECT 42 AS answer", user="anna")
    assert len(audit.entries(store)) == before


# --- escape attempts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "COPY (SELECT * FROM customers) TO '/tmp/lockgate-out.csv'",
        "ATTACH '/tmp/other.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SELECT 1; DROP VIEW customers",
    ],
)
def test_query_as_runs_selects_only(lake: str, store: ObjectStore, statement: str) -> None:
    with pytest.raises(AccessDenied, match="only SELECT statements run as role 'analyst'"):
        query_as(lake, "analyst", statement, user="anna")
    assert _last(store).action == "query.denied"


def test_an_empty_or_broken_query_is_a_query_error(lake: str) -> None:
    with pytest.raises(QueryError, match="the query is empty"):
        query_as(lake, "analyst", "  ", user="anna")
    with pytest.raises(QueryError, match="syntax error"):
        query_as(lake, "analyst", "SELEC email FROM customers", user="anna")


def test_query_as_refuses_table_functions(lake: str, store: ObjectStore) -> None:
    raw = store.uri("raw/customers/2026-01-01/r1/customers.csv")
    with pytest.raises(AccessDenied, match=r"table functions \(read_csv\) are not allowed"):
        query_as(lake, "analyst", f"SELECT * FROM read_csv('{raw}')", user="anna")


def test_each_query_through_a_role_connection_is_checked_and_audited(
    world: tuple[Path, str], lake: str, store: ObjectStore
) -> None:
    before = len(audit.entries(store))
    with role_connection(lake, "analyst", "anna") as con:
        assert con.execute("SELECT count(*) FROM customers").fetchone() == (len(_source_rows(world[0])),)
        frame = con.sql("SELECT s.store_id, c.email FROM stores s, customers c LIMIT 2").pl()
        assert frame.columns == ["store_id", "email"]
        with pytest.raises(
            AccessDenied, match=r"column customers\.passport_number is hidden from role 'analyst'"
        ):
            con.query("SELECT passport_number FROM customers")
    first, second, denied = audit.entries(store)[before:]
    assert (first.action, first.actor, first.role, first.outcome) == ("query", "anna", "analyst", "ok")
    assert (first.source, first.details["rows"], first.details["columns"]) == ("customers", 1, [])
    assert second.details["datasets"] == ["customers", "stores"]
    assert second.details["columns"] == ["customers.email", "stores.store_id"]
    assert second.details["query_sha256"] != first.details["query_sha256"]
    assert (denied.action, denied.outcome, denied.actor) == ("query.denied", "denied", "anna")
    assert "passport_number" in denied.details["reason"]


def test_a_role_connection_takes_values_as_parameters(lake: str, store: ObjectStore) -> None:
    with role_connection(lake, "annotator", "ivan") as con:
        [ticket] = con.execute("SELECT ticket_id FROM support_tickets ORDER BY 1 LIMIT 1").fetchone() or [
            None
        ]
        result = con.execute("SELECT subject FROM support_tickets WHERE ticket_id = ?", [ticket])
    assert len(result.fetchall()) == 1 and result.fetchone() is None
    entry = _last(store)
    assert str(ticket) not in str(entry.details) and entry.details["columns"] == [
        "support_tickets.subject",
        "support_tickets.ticket_id",
    ]


def _escapes(store: ObjectStore) -> list[str]:
    officer = read_manifest(store, "privacy_officer").datasets["customers"].key
    curated = next(k for k in store.list("curated/customers/") if k.endswith(".parquet"))
    return [
        f"SELECT * FROM read_csv('{store.uri('raw/customers/2026-01-01/r1/customers.csv')}')",
        f"SELECT * FROM read_parquet('{store.uri(officer)}')",  # another role's decrypted copy
        f"SELECT * FROM read_parquet('{store.uri(curated)}')",  # the curated base table
        f"SELECT * FROM read_parquet('{store.uri('roles')}/**/*.parquet')",
        f"SELECT * FROM '{store.uri(curated)}'",  # a file named as a table
        "SELECT * FROM read_text('/etc/passwd')",
        "ATTACH '/tmp/lockgate-attack.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET allowed_paths = ['/']",
        "COPY (SELECT * FROM customers) TO '/tmp/lockgate-out.csv'",
        f"COPY (SELECT 1 AS x) TO '{store.uri(read_manifest(store, 'analyst').datasets['customers'].key)}'",
    ]


def test_escapes_through_a_role_connection_are_denials_on_record(lake: str, store: ObjectStore) -> None:
    attempts = _escapes(store)
    before = len(audit.entries(store))
    with role_connection(lake, "analyst", "anna") as con:
        for attempt in attempts:
            with pytest.raises(AccessDenied, match=r"only SELECT statements|table functions|files \("):
                con.execute(attempt)
    entries = audit.entries(store)[before:]
    assert [(e.action, e.outcome, e.actor) for e in entries] == [("query.denied", "denied", "anna")] * len(
        attempts
    )
    assert not Path("/tmp/lockgate-out.csv").exists()


def test_the_locked_session_beneath_refuses_every_escape_on_its_own(
    world: tuple[Path, str], lake: str, store: ObjectStore
) -> None:
    """Defence in depth: were the check to miss something, DuckDB's own locks still refuse it."""
    manifest = read_manifest(store, "analyst")
    con = connect_role(store, manifest, layout.role_database_path(lake, "analyst"))
    try:
        assert con.execute("SELECT count(*) FROM customers").fetchone() == (len(_source_rows(world[0])),)
        with pytest.raises(duckdb.Error, match='"passport_number" not found'):
            con.execute("SELECT passport_number FROM customers")
        for attempt in _escapes(store):
            with pytest.raises(duckdb.Error, match=r"disabled (by|through) configuration|locked|read-only"):
                con.execute(attempt)
    finally:
        con.close()
    assert not Path("/tmp/lockgate-out.csv").exists()


def test_query_errors_from_duckdb_are_query_errors_and_audited(lake: str, store: ObjectStore) -> None:
    with pytest.raises(QueryError, match="no_such_column"):
        query_as(lake, "analyst", "SELECT no_such_column FROM customers", user="anna")
    entry = _last(store)
    assert (entry.action, entry.outcome, entry.details["error"]) == ("query", "failed", "BinderException")


# --- changes to the catalog -------------------------------------------------------------------------------


def test_catalog_changes_are_recorded_and_a_revoked_role_loses_its_output(tmp_path: Path) -> None:
    catalog = Path(shutil.copytree(REPO / "examples" / "catalog", tmp_path / "catalog"))
    lake = str(tmp_path / "lake")
    store = open_store(lake)
    publish_example(catalog, lake)
    assert (
        record_catalog_changes(store, load_catalog(catalog), actor="ops") == 7
    )  # 3 passports, 3 contracts, access
    assert record_catalog_changes(store, load_catalog(catalog), actor="ops") == 0
    build_role_outputs(catalog, lake)
    assert layout.role_database_path(lake, "annotator").is_file()

    access = catalog / "access.yaml"
    text = access.read_text(encoding="utf-8")
    start = text.index("  annotator:")
    access.write_text(
        text[:start]
        + text[text.index("users:") :].replace(
            "  labelers:\n    members: [ivan, maria]\n    roles: [annotator]\n", ""
        ),
        encoding="utf-8",
    )
    assert record_catalog_changes(store, load_catalog(catalog), actor="ops", run_id="r2") == 1
    entry = _last(store)
    assert entry.action == "catalog.changed"
    assert {k: entry.details[k] for k in ("file", "kind", "change", "run_id")} == {
        "file": "access.yaml",
        "kind": "access",
        "change": "changed",
        "run_id": "r2",
    }
    assert entry.details["sha256_before"] != entry.details["sha256_after"]

    build_role_outputs(catalog, lake)
    assert store.list("roles/annotator/") == []
    assert not layout.role_database_path(lake, "annotator").exists()
    with pytest.raises(AccessDenied, match="role 'annotator' has no output"):
        query_as(lake, "annotator", "SELECT * FROM support_tickets", user="ivan")


# --- an S3 lake -------------------------------------------------------------------------------------------


def test_on_s3_each_role_has_a_tagged_prefix_a_policy_and_a_locked_query(
    aws_env: str, bucket: str, s3_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKGATE_HASH_KEY", HASH_KEY)
    monkeypatch.setenv("LOCKGATE_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    catalog = Path(shutil.copytree(REPO / "examples" / "catalog", tmp_path / "catalog"))
    lake = f"s3://{bucket}/prod"
    publish_example(catalog, lake)
    build_role_outputs(catalog, lake, warehouse=str(tmp_path / "warehouse.duckdb"))

    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket, Prefix="prod/roles/")["Contents"]]
    assert {k.split("/")[2] for k in keys} == {"analyst", "annotator", "privacy_officer"}
    [annotator_data] = [k for k in keys if k.startswith("prod/roles/annotator/") and k.endswith(".parquet")]
    tags = {
        t["Key"]: t["Value"]
        for t in s3_client.get_object_tagging(Bucket=bucket, Key=annotator_data)["TagSet"]
    }
    assert tags == {
        "layer": "role",
        "role": "annotator",
        "source": "support_tickets",
        "sensitivity": "confidential",
        "pii": "true",
    }
    policy = iam_policy(lake, "annotator")
    [read] = [s for s in policy["Statement"] if s["Sid"] == "ReadOwnRoleOutput"]
    assert read["Resource"] == [f"arn:aws:s3:::{bucket}/prod/roles/annotator/*"]
    assert read["Condition"]["StringEquals"]["s3:ExistingObjectTag/role"] == "annotator"
    [listing] = [s for s in policy["Statement"] if s["Sid"] == "ListOwnRoleOutputAndAuditLog"]
    assert listing["Condition"]["StringLike"]["s3:prefix"][:2] == [
        "prod/roles/annotator/",
        "prod/roles/annotator/*",
    ]

    # the role's DuckDB file lives beside the warehouse; a laptop without it builds its own from the manifest
    database = tmp_path / "warehouse.roles" / "annotator.duckdb"
    database.unlink()
    result = query_as(lake, "annotator", "SELECT ticket_id, subject FROM support_tickets", user="ivan")
    assert result.frame.height > 0 and database.is_file()
    other = read_manifest(open_store(lake), "privacy_officer").datasets["customers"].key
    attempts = (f"SELECT * FROM read_parquet('s3://{bucket}/prod/{other}')", "SET s3_endpoint = 'x'")
    with role_connection(lake, "annotator", "ivan") as session:
        for attempt in attempts:
            with pytest.raises(AccessDenied):
                session.execute(attempt)
    entry = _last(open_store(lake))
    assert (entry.action, entry.actor, entry.role) == ("query.denied", "ivan", "annotator")
    store = open_store(lake)
    con = connect_role(store, read_manifest(store, "annotator"), database)
    try:  # and the session beneath refuses them on its own
        for attempt in attempts:
            with pytest.raises(duckdb.Error, match=r"disabled by configuration|locked"):
                con.execute(attempt)
    finally:
        con.close()


# --- the ingest flow's hooks ------------------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_api", "hash_key")
def test_an_ingest_run_builds_role_outputs_and_records_catalog_changes(
    catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.pipeline import ingest

    monkeypatch.setenv("LOCKGATE_USER", "ops")
    lake = str(tmp_path / "lake")
    ingest(catalog=str(catalog), lake=lake, sources=["stores"])
    store = open_store(lake)
    analyst = read_manifest(store, "analyst")
    assert sorted(analyst.datasets) == ["stores"]
    assert analyst.denied == {
        "customers": "not published yet",
        "support_tickets": "not published yet",
        "labels_support_tickets": "not published yet",
    }
    first = audit.entries(store, action="catalog.changed")
    assert len(first) == 7 and {(e.actor, e.details["change"]) for e in first} == {("ops", "added")}

    access = catalog / "access.yaml"
    access.write_text(
        access.read_text(encoding="utf-8").replace("anna: [analyst]", "anna: [analyst, annotator]")
    )
    ingest(catalog=str(catalog), lake=lake, sources=["stores"])
    [changed] = audit.entries(store, action="catalog.changed")[len(first) :]
    assert (changed.details["file"], changed.details["change"]) == ("access.yaml", "changed")
    assert read_manifest(store, "annotator").users == ["anna", "ivan", "maria"]


def test_an_erasure_rebuilds_the_role_outputs_without_the_subject(tmp_path: Path, hash_key: bytes) -> None:
    from flows.erase import Where, erase

    catalog = Path(shutil.copytree(REPO / "examples" / "catalog", tmp_path / "catalog"))
    lake = str(tmp_path / "lake")
    publish_example(catalog, lake)
    build_role_outputs(catalog, lake)
    store = open_store(lake)
    before = read_manifest(store, "privacy_officer").datasets["customers"].key
    subject = next(r for r in _source_rows(catalog) if r["passport_number"])
    sql = f"SELECT count(*) AS n FROM customers WHERE passport_number = '{subject['passport_number']}'"
    assert query_as(lake, "privacy_officer", sql, user="olga").frame.item() == 1

    receipt = erase(str(catalog), lake, "customers", Where("email", subject["email"]))
    assert receipt.rows["curated"] == 1
    assert query_as(lake, "privacy_officer", sql, user="olga").frame.item() == 0
    assert not store.exists(before)  # the copy that held the subject is gone, not just unreferenced
    assert subject["passport_number"] not in str(audit.entries(store))
