"""The storage side of erasure, on a local lake and on S3: raw objects replaced without losing a
reference, quarantine rewritten, curated files of older versions found and vacuumed, receipts and the
suppression list written once."""

from __future__ import annotations

import io
import json
import os
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest

from storage import layout
from storage.curated import erase_rows, list_versions, publish, read_current
from storage.erasure import (
    ErasureReceipt,
    file_digest,
    new_erasure_id,
    quarantine_keys,
    raw_data_keys,
    raw_manifests,
    read_receipt,
    replace_quarantine,
    replace_raw_object,
    save_receipt,
    table_files_holding,
    vacuum_older,
)
from storage.errors import CorruptMetadata, StorageError
from storage.quarantine import write_quarantine
from storage.raw import RawManifest, indexed, land_raw, read_manifest, verify_raw, write_manifest
from storage.release import ReleaseParts
from storage.suppression import SuppressionEntry, add_entry, entries
from storage.tags import access_tags

if TYPE_CHECKING:
    from storage.base import ObjectStore

DAY = date(2026, 1, 5)
ERASURE = "20260105T101010Z-0badcafe"
RAW_TAGS = access_tags("raw", "people", sensitivity="restricted", pii=True)


def _land(store: ObjectStore, tmp_path: Path, run_id: str, content: bytes) -> RawManifest:
    source_file = tmp_path / run_id / "people.csv"
    source_file.parent.mkdir(parents=True)
    source_file.write_bytes(content)
    files = land_raw(store, "people", run_id, DAY, [source_file], sensitivity="restricted", pii=True)
    manifest = RawManifest(source="people", run_id=run_id, landed_at=datetime.now(UTC), files=files, rows=3)
    write_manifest(store, manifest, sensitivity="restricted", pii=True)
    return manifest


def test_a_raw_object_is_replaced_and_every_manifest_follows(store: ObjectStore, tmp_path: Path) -> None:
    content = b"id,email\n1,ann@x.org\n2,bob@x.org\n3,cid@x.org\n"
    first = _land(store, tmp_path, "run-1", content)
    second = _land(store, tmp_path, "run-2", content)  # the same bytes again: reuses run-1's object
    [old] = first.files
    assert second.files[0].key == old.key and second.files[0].reused_from == "run-1"
    assert raw_data_keys(store, "people") == [old.key]

    rewritten = tmp_path / "rewritten.csv"
    rewritten.write_bytes(b"id,email\n2,bob@x.org\n3,cid@x.org\n")
    manifests = raw_manifests(store, "people")
    touched = replace_raw_object(
        store, "people", old.key, old.sha256, rewritten,
        erasure_id=ERASURE, rows_removed=1, manifests=manifests, tags=RAW_TAGS,
    )  # fmt: skip
    new_key = layout.erased_raw_key(old.key, "people.csv", ERASURE)
    assert new_key == old.key.replace("people.csv", f"people.erased-{ERASURE}.csv")
    assert [(t.change, t.key) for t in touched] == [
        ("rewritten", old.key),
        ("added", layout.raw_index_key("people", file_digest(rewritten)[0])),
        ("updated", next(k for k in manifests if "run-1" in k)),
        ("updated", next(k for k in manifests if "run-2" in k)),
        ("removed", layout.raw_index_key("people", old.sha256)),
    ]
    assert not store.exists(old.key) and indexed(store, "people", old.sha256) is None
    assert raw_data_keys(store, "people") == [new_key]
    for key in manifests:
        manifest = read_manifest(store, key)
        [f] = manifest.files
        assert (f.key, f.name, f.bytes) == (new_key, "people.csv", rewritten.stat().st_size)
        assert manifest.erasures == [layout.erasure_key(ERASURE)] and manifest.rows == 2
        verify_raw(store, f)  # the manifest's checksum is the new object's
    entry = indexed(store, "people", file_digest(rewritten)[0])
    assert entry is not None and entry.key == new_key and entry.run_id == "run-1"


def test_raw_objects_of_erasures_are_owner_only_on_a_local_lake(tmp_path: Path) -> None:
    from storage.local import LocalStore

    store = LocalStore(tmp_path / "lake")
    [old] = _land(store, tmp_path, "run-1", b"id\n1\n2\n").files
    rewritten = tmp_path / "rewritten.csv"
    rewritten.write_bytes(b"id\n2\n")
    replace_raw_object(
        store, "people", old.key, old.sha256, rewritten,
        erasure_id=ERASURE, rows_removed=1, manifests=raw_manifests(store, "people"), tags=RAW_TAGS,
    )  # fmt: skip
    new_key = layout.erased_raw_key(old.key, "people.csv", ERASURE)
    assert os.stat(store.uri(new_key)).st_mode & 0o777 == 0o600


def test_quarantine_is_rewritten_or_removed(store: ObjectStore) -> None:
    rows = pl.DataFrame({"id": [1, 2], "email": ["ann@x.org", "bob@x.org"]})
    write_quarantine(store, "people", "run-1", rows, sensitivity="restricted", pii=True)
    write_quarantine(store, "people", "run-2", rows.head(1), sensitivity="restricted", pii=True)
    assert quarantine_keys(store, "people") == [
        layout.quarantine_key("people", "run-1"),
        layout.quarantine_key("people", "run-2"),
    ]
    left = io.BytesIO()
    rows.tail(1).write_parquet(left)
    tags = access_tags("quarantine", "people")
    kept = replace_quarantine(
        store, layout.quarantine_key("people", "run-1"), left.getvalue(), rows_removed=1, tags=tags
    )
    gone = replace_quarantine(
        store, layout.quarantine_key("people", "run-2"), None, rows_removed=1, tags=tags
    )
    assert (kept.change, gone.change) == ("rewritten", "removed")
    assert quarantine_keys(store, "people") == [layout.quarantine_key("people", "run-1")]
    stored = pl.read_parquet(io.BytesIO(store.get_bytes(layout.quarantine_key("people", "run-1"))))
    assert stored["email"].to_list() == ["bob@x.org"]


def _parts(inputs: list[str]) -> ReleaseParts:
    return ReleaseParts(
        inputs=inputs,
        contract_id="people",
        contract_version="1.0.0",
        contract_sha256="c" * 64,
        code_version="0",
    )


def test_a_subject_only_in_older_versions_is_found_and_vacuumed(store: ObjectStore) -> None:
    with_her = pl.DataFrame({"id": [1, 2], "email": ["h-ann", "h-bob"]})
    without = pl.DataFrame({"id": [2, 3], "email": ["h-bob", "h-cid"]})
    publish(store, "people", with_her, release=_parts(["a" * 64]), run_id="r1", masked_columns={})
    publish(store, "people", without, release=_parts(["b" * 64]), run_id="r2", masked_columns={})
    held = table_files_holding(store, "people", "email", ["h-ann"])
    assert held.current == [] and len(held.older) == 1
    assert erase_rows(store, "people", "email", ["h-ann"], erasure_id=ERASURE, by="dpo").rows == 0
    assert vacuum_older(store, "people", dry_run=True) == held.older
    assert store.exists(held.older[0])  # a dry run removes nothing
    assert vacuum_older(store, "people") == held.older
    assert table_files_holding(store, "people", "email", ["h-ann"]).older == []
    assert [v.restorable for v in list_versions(store, "people", check_restorable=True)][:2] == [False, True]
    assert read_current(store, "people")["email"].to_list() == ["h-bob", "h-cid"]


def test_erased_values_never_reach_the_delta_log(store: ObjectStore) -> None:
    """Delta logs a DELETE's predicate, values and all; erasure must leave no value in the log."""
    frame = pl.DataFrame({"id": [1, 2], "email": ["needle-pseudonym-1", "h-bob"]})
    publish(store, "people", frame, release=_parts(["a" * 64]), run_id="r1", masked_columns={})
    assert (
        erase_rows(store, "people", "email", ["needle-pseudonym-1"], erasure_id=ERASURE, by="dpo").rows == 1
    )
    log = [k for k in store.list("curated/people/") if "/_delta_log/" in k]
    assert log and all(b"needle-pseudonym" not in store.get_bytes(k) for k in log)


def _receipt(erasure_id: str) -> ErasureReceipt:
    return ErasureReceipt(
        erasure_id=erasure_id, at=datetime.now(UTC), by="dpo", source="people", column="email",
        subject_hash="d" * 64, key_id="abc123abc123", status="done", rows={"raw": 1},
    )  # fmt: skip


def test_a_receipt_is_written_once_and_owner_only(store: ObjectStore, lake: str) -> None:
    erasure_id = new_erasure_id()
    assert erasure_id != new_erasure_id()
    receipt = _receipt(erasure_id)
    key = save_receipt(store, receipt, sensitivity="restricted")
    assert key == f"erasure/{erasure_id}.json" and read_receipt(store, erasure_id) == receipt
    with pytest.raises(StorageError, match="never reused"):
        save_receipt(store, receipt)
    assert json.loads(store.get_bytes(key))["subject_hash"] == "d" * 64
    if not lake.startswith("s3://"):
        assert os.stat(Path(lake) / key).st_mode & 0o777 == 0o600
    else:
        assert store.tags(key)["layer"] == "audit"


def _entry(n: int) -> SuppressionEntry:
    return SuppressionEntry(
        source="people", column="email", digest=f"{n:064x}", form="text", key_name="default",
        key_id="abc123abc123", erasure_id=ERASURE, at=datetime.now(UTC),
    )  # fmt: skip


def test_concurrent_erasures_lose_no_suppression_entry(store: ObjectStore) -> None:
    results: list[bool] = []

    def add(n: int) -> None:
        results.append(add_entry(store, _entry(n % 12)))  # each subject added by two writers at once

    threads = [threading.Thread(target=add, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results).count(True) == 12
    assert sorted(e.digest for e in entries(store, "people")) == [f"{n:064x}" for n in range(12)]


def test_a_tampered_suppression_entry_is_refused(store: ObjectStore) -> None:
    entry = _entry(1)
    add_entry(store, entry)
    store.put_bytes(layout.suppression_key("people", "email", f"{2:064x}"), entry.model_dump_json().encode())
    with pytest.raises(CorruptMetadata, match="names another"):
        entries(store, "people")
