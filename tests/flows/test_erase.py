"""Erasure on request, end to end: ingest a small catalog with personal data (two deliveries, so raw,
quarantine and curated history all hold the subject), send the tickets to a real Label Studio, erase
the subject, then scan every byte of the lake and the Label Studio API for any of her values.

The same test runs on a local lake and on an S3 lake (moto). Parquet pages are compressed, so Parquet
files are scanned as decoded values as well as raw bytes; JSON files as parsed text too (a writer may
escape non-ASCII).
"""

from __future__ import annotations

import io
import json
import uuid
from typing import TYPE_CHECKING, Any

import boto3
import polars as pl
import pyarrow.parquet as pq
import pytest
from testkit.aws import point_aws_at
from testkit.catalog_fixtures import HASH_KEY
from testkit.erasure_catalog import (
    DUPLICATE_ID,
    OTHER_ID,
    SUBJECT_EMAIL,
    SUBJECT_FORMS,
    SUBJECT_ID,
    SUBJECT_NAME,
    SUBJECT_TICKETS,
    customers_csv,
    deliver_again,
    write_erasure_catalog,
)

from contracts.masking import hmac_sha256_hex
from flows.erase import Where, erase
from flows.errors import SubjectNotFound
from flows.label import label_collect, label_dispatch
from flows.pipeline import ingest
from flows.results import SourceStatus
from labeling.errors import StudioError
from labeling.server import TOKEN_ENV, URL_ENV
from storage import audit, layout
from storage.curated import list_versions, read_current
from storage.erasure import read_receipt
from storage.quarantine import read_quarantine
from storage.store import open_store
from storage.suppression import entries

if TYPE_CHECKING:
    from pathlib import Path

    from label_studio_sdk import LabelStudio

    from labeling.server import LabelStudioServer
    from storage.base import ObjectStore

pytestmark = pytest.mark.usefixtures("prefect_api", "hash_key")

SUPPRESSION_KEY = "5f4e3d2c1b0a99887766554433221100ffeeddccbbaa99887766554433221100"


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LOCKGATE_KEY_SUPPRESSION", SUPPRESSION_KEY)
    if request.param == "local":
        return str(tmp_path / "lake")
    endpoint = request.getfixturevalue("s3_endpoint")
    point_aws_at(endpoint, monkeypatch, tmp_path)
    monkeypatch.setenv("LOCKGATE_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    bucket = f"erase-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/lake"


@pytest.fixture
def studio_env(label_studio: LabelStudioServer, monkeypatch: pytest.MonkeyPatch) -> LabelStudioServer:
    monkeypatch.setenv(URL_ENV, label_studio.url)
    monkeypatch.setenv(TOKEN_ENV, label_studio.token)
    return label_studio


@pytest.fixture
def sdk(label_studio: LabelStudioServer) -> LabelStudio:
    from label_studio_sdk import LabelStudio

    return LabelStudio(base_url=label_studio.url, api_key=label_studio.token)


# --- reading everything --------------------------------------------------------------------------


def _lake_files(lake: str, tmp_path: Path) -> dict[str, bytes]:
    """Every file of the lake by name: objects, and (local) Lockgate's own files inside the folder, or
    (S3) the warehouse file beside it."""
    if lake.startswith("s3://"):
        bucket, prefix = lake.removeprefix("s3://").split("/", 1)
        client = boto3.client("s3")
        files = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
            for item in page.get("Contents", []):
                files[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        warehouse = tmp_path / "warehouse.duckdb"
        if warehouse.exists():
            files[str(warehouse)] = warehouse.read_bytes()
        return files
    root = tmp_path / "lake"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _texts(name: str, data: bytes) -> list[str]:
    """What a file holds, as text to search: its bytes, and decoded Parquet values or parsed JSON."""
    texts = [data.decode("utf-8", errors="replace")]
    if data[:4] == b"PAR1":
        rows = pq.read_table(io.BytesIO(data)).to_pylist()
        texts.append("\n".join(json.dumps(row, ensure_ascii=False, default=str) for row in rows))
    elif name.endswith(".json") or name.endswith(".ndjson"):
        for line in data.decode("utf-8", errors="replace").splitlines():
            try:
                texts.append(json.dumps(json.loads(line), ensure_ascii=False))
            except ValueError:
                continue
    return texts


def _pseudonyms(values: list[str]) -> list[str]:
    """What the pipeline wrote for these values in hashed columns (the subject's pseudonyms)."""
    frame = pl.DataFrame({"v": values})
    return hmac_sha256_hex(frame, {"v": bytes.fromhex(HASH_KEY)}).to_series().to_list()


def _subject_traces(files: dict[str, bytes]) -> list[str]:
    """`file: form` for every place any form, pseudonym, id or ticket of the subject shows up."""
    forms = [*SUBJECT_FORMS, *_pseudonyms([SUBJECT_NAME, SUBJECT_EMAIL, SUBJECT_EMAIL.upper()])]
    found = []
    for name, data in files.items():
        for text in _texts(name, data):
            found += [f"{name}: {form[:16]}" for form in forms if form.lower() in text.lower()]
            found += [f"{name}: {t}" for t in SUBJECT_TICKETS if f'"{t}"' in text or f"\n{t}," in text]
            for cid in (SUBJECT_ID, DUPLICATE_ID):
                patterns = (f'"customer_id": {cid}', f'"customer_id":{cid}', f"\n{cid},", f"'{cid}'")
                if any(pattern in text for pattern in patterns):
                    found.append(f"{name}: customer {cid}")
        if data[:4] == b"PAR1":
            frame = pl.read_parquet(io.BytesIO(data))
            if (
                "customer_id" in frame.columns
                and frame.filter(
                    pl.col("customer_id").cast(pl.String).is_in([str(SUBJECT_ID), str(DUPLICATE_ID)])
                ).height
            ):
                found.append(f"{name}: customer_id cell")
    return sorted(set(found))


def _studio_dump(sdk: LabelStudio) -> list[dict[str, Any]]:
    """Every task of every project, with its annotations and predictions, as the API returns them."""
    tasks = []
    for project in sdk.projects.list(page_size=100):
        for task in sdk.tasks.list(project=project.id, fields="all"):
            tasks.append({**task.model_dump(mode="json"), "project_title": project.title})
    return tasks


def _annotate(sdk: LabelStudio, project_id: int) -> None:
    """Two annotators agree on every task: the plan's labels are accepted and published."""
    users = []
    for n in range(2):
        email = f"annotator{n}-{uuid.uuid4().hex[:6]}@lockgate.test"
        users.append(int(sdk.users.create(username=email, email=email).id or 0))
    for task in sdk.tasks.list(project=project_id, fields="all"):
        for user in users:
            choice = {"choices": ["delivery" if "Доставка" in task.data["subject"] else "other"]}
            result = [{"from_name": "topic", "to_name": "body", "type": "choices", "value": choice}]
            sdk.annotations.create(id=int(task.id or 0), completed_by=user, result=result)


def _snapshot(files: dict[str, bytes]) -> dict[str, bytes]:
    """The lake without its audit log (which records every lookup, dry runs included)."""
    return {name: data for name, data in files.items() if f"{layout.AUDIT_DIR}/" not in name}


# --- the test ------------------------------------------------------------------------------------


def test_erasure_leaves_no_trace_and_touches_no_one_else(
    lake: str, tmp_path: Path, studio_env: LabelStudioServer, sdk: LabelStudio
) -> None:
    plan = f"e{uuid.uuid4().hex[:10]}"
    catalog = write_erasure_catalog(tmp_path / "catalog", plan_name=plan)
    ingest(catalog=str(catalog), lake=lake)
    deliver_again(catalog)
    ingest(catalog=str(catalog), lake=lake, sources=["customers"])
    [dispatched] = label_dispatch(catalog=str(catalog), lake=lake, plans=[plan])
    assert dispatched.created == 30
    _annotate(sdk, dispatched.project_id)
    [collected] = label_collect(catalog=str(catalog), lake=lake, plans=[plan])
    assert collected.published and collected.items["accepted"] == 30
    store = open_store(lake)

    assert _subject_traces(_lake_files(lake, tmp_path))  # she is everywhere before
    others_before = _others(store)
    tasks_before = {
        t["data"]["lockgate_key"] for t in _studio_dump(sdk) if t["project_title"].startswith(plan)
    }
    assert set(SUBJECT_TICKETS) <= tasks_before

    # A dry run finds everything and changes nothing (the audit log records the lookup).
    before = _snapshot(_lake_files(lake, tmp_path))
    preview = erase(str(catalog), lake, "customers", Where("email", SUBJECT_EMAIL.lower()), dry_run=True)
    assert preview.status == "dry-run"
    assert preview.rows["raw"] == 4  # 1007 and 1099 in each of the two deliveries
    assert preview.rows["quarantine"] == 2 and preview.rows["curated"] == 1
    assert _snapshot(_lake_files(lake, tmp_path)) == before
    assert entries(store, "customers") == []
    assert audit.entries(store, action="erasure")[-1].outcome == "dry-run"

    # Someone unknown: reported as not found, nothing changes.
    with pytest.raises(SubjectNotFound):
        erase(str(catalog), lake, "customers", Where("email", "nobody@example.org"))
    assert _snapshot(_lake_files(lake, tmp_path)) == before

    # The real thing, asked in another spelling of her e-mail.
    receipt = erase(str(catalog), lake, "customers", Where("email", f" {SUBJECT_EMAIL.swapcase()} "))
    assert receipt.status == "done" and receipt.complete, receipt.notes
    assert receipt.rows == {"raw": 4, "quarantine": 2, "curated": 1}
    rewritten = [o for o in receipt.objects if o.layer == "raw" and o.change == "rewritten"]
    assert len(rewritten) == 2 and all(o.new_key and ".erased-" in o.new_key for o in rewritten)
    assert {o.change for o in receipt.objects if o.layer == "quarantine"} == {"rewritten"}  # 1015 stays
    [curated] = receipt.curated
    assert curated.rows == 1 and curated.removed_files and curated.unrestorable_versions
    assert read_receipt(store, receipt.erasure_id) == receipt
    stored_receipt = store.get_bytes(layout.erasure_key(receipt.erasure_id)).decode()
    assert SUBJECT_EMAIL.lower() not in stored_receipt.lower()
    unrestorable = {
        v.version for v in list_versions(store, "customers", check_restorable=True) if v.restorable is False
    }
    assert set(curated.unrestorable_versions) <= unrestorable

    tickets = erase(str(catalog), lake, "tickets", Where("customer_id", str(SUBJECT_ID)))
    assert tickets.rows == {"raw": 3, "quarantine": 0, "curated": 3, "labels": 3}
    assert read_current(store, "labels_tickets").height == 27
    [removed] = tickets.label_studio
    assert len(removed.task_ids) == 3

    # Nowhere in the lake, nowhere in Label Studio, never in the audit log.
    assert _subject_traces(_lake_files(lake, tmp_path)) == []
    studio = json.dumps(_studio_dump(sdk), ensure_ascii=False)
    assert not any(form.lower() in studio.lower() for form in SUBJECT_FORMS)
    assert not any(f'"{t}"' in studio for t in SUBJECT_TICKETS)
    assert f'"customer_id": {SUBJECT_ID}' not in studio and f'"customer_id": "{SUBJECT_ID}"' not in studio
    logged = [e for e in audit.entries(store, action="erasure")]
    assert [e.outcome for e in logged] == ["dry-run", "failed", "ok", "ok"]
    assert all(SUBJECT_EMAIL.lower() not in json.dumps(e.details).lower() for e in logged)
    assert logged[2].details["subject_hash"] == receipt.subject_hash

    # Everyone else is as they were: rows, quarantine, tasks, and their raw bytes byte for byte.
    assert _others(store) == others_before
    tasks_after = {
        t["data"]["lockgate_key"] for t in _studio_dump(sdk) if t["project_title"].startswith(plan)
    }
    assert tasks_after == tasks_before - set(SUBJECT_TICKETS)
    kept = [
        line
        for line in customers_csv().split("\r\n")
        if not line.startswith((f"{SUBJECT_ID},", f"{DUPLICATE_ID},"))
    ]
    originals = {store.get_bytes(o.new_key).decode() for o in rewritten if o.new_key}
    assert "\r\n".join(kept) in originals
    manifests = [k for k in store.list("raw/customers/") if k.endswith(layout.MANIFEST_FILE)]
    assert all(json.loads(store.get_bytes(k))["erasures"] == [receipt.key] for k in manifests)

    # Later runs: the same raw input again, and the suppression list keeps her rows out of everything after
    # conform (her duplicate row too, which quarantine would otherwise hold). The release is the one the
    # erasure made, so nothing new is published.
    [again] = ingest(catalog=str(catalog), lake=lake, sources=["customers"]).sources
    assert again.rows_suppressed == 2 and again.status is SourceStatus.UNCHANGED
    if again.quarantine_key:
        held = read_quarantine(store, "customers", again.run_id)
        assert not {str(SUBJECT_ID), str(DUPLICATE_ID)} & {str(v) for v in held["customer_id"].to_list()}
    current = read_current(store, "customers")
    assert SUBJECT_ID not in current["customer_id"].to_list()
    assert not set(_pseudonyms([SUBJECT_EMAIL.upper()])) & set(current["email"].to_list())


def _others(store: ObjectStore) -> dict[str, Any]:
    """What erasure must leave alone: everyone else's curated rows and quarantined rows."""
    customers = read_current(store, "customers").filter(
        ~pl.col("customer_id").is_in([SUBJECT_ID, DUPLICATE_ID])
    )
    tickets = read_current(store, "tickets").filter(pl.col("customer_id") != SUBJECT_ID)
    quarantined = []
    for key in sorted(store.list("quarantine/customers/")):
        run_id = key.split("/")[2]
        rows = read_quarantine(store, "customers", run_id)
        quarantined.append(
            sorted(rows.filter(pl.col("customer_id") != DUPLICATE_ID)["customer_id"].to_list())
        )
    assert OTHER_ID in customers["customer_id"].to_list()
    return {
        "customers": customers.sort("customer_id").to_dicts(),
        "tickets": tickets.sort("ticket_id").to_dicts(),
        "quarantine": quarantined,
    }


def test_a_lookup_that_cannot_reach_label_studio_changes_nothing_and_is_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tickets have a labeling plan: an erasure that cannot ask Label Studio stops before changing
    anything, rather than leave tasks built from the subject's rows behind."""
    monkeypatch.setenv("LOCKGATE_KEY_SUPPRESSION", SUPPRESSION_KEY)
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv(TOKEN_ENV, "0" * 40)
    catalog = write_erasure_catalog(tmp_path / "catalog")
    lake = str(tmp_path / "lake")
    ingest(catalog=str(catalog), lake=lake, sources=["tickets"])
    before = _snapshot(_lake_files(lake, tmp_path))
    with pytest.raises(StudioError, match="unreachable"):
        erase(str(catalog), lake, "tickets", Where("customer_id", str(SUBJECT_ID)))
    assert _snapshot(_lake_files(lake, tmp_path)) == before
    [entry] = audit.entries(open_store(lake), action="erasure")
    assert entry.outcome == "failed" and entry.details["reason"] == "lookup failed"
    assert "127.0.0.1:9" in entry.details["error"] and "receipt" not in entry.details
