"""The run history on a local lake and on the S3 test server: written, tagged, read back newest-last,
announced-once late notices, and cut by retention without losing what freshness counts from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from storage import layout
from storage.errors import StorageError
from storage.retention import apply_retention
from storage.run_history import (
    RunRecord,
    claim_late_notice,
    expired_run_history,
    last_ok_run,
    read_runs,
    run_keys,
    write_run,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from storage.base import ObjectStore

START = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)


def _record(source: str, day: int, status: str = "published") -> RunRecord:
    started = START + timedelta(days=day)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{day:08x}"
    return RunRecord(
        source=source,
        run_id=run_id,
        status=status,
        ok=status in ("published", "unchanged"),
        started_at=started,
        finished_at=started + timedelta(minutes=4),
        result={"source": source, "status": status, "run_id": run_id, "rows_in": 10 + day},
    )


def _history(store: ObjectStore, statuses: list[str], source: str = "shops") -> list[RunRecord]:
    records = [_record(source, day, status) for day, status in enumerate(statuses)]
    for record in reversed(records):  # written out of order: reading must not depend on write order
        write_run(store, record, sensitivity="confidential", pii=False)
    return records


def test_the_last_runs_read_back_oldest_first(store: ObjectStore) -> None:
    records = _history(store, ["published", "unchanged", "stopped", "published", "failed"])
    _history(store, ["published"], source="shop")  # a source whose name prefixes another's
    assert read_runs(store, "shops") == records
    assert read_runs(store, "shops", last=2) == records[-2:]
    assert read_runs(store, "shops", last=0) == []
    assert [r.run_id for r in read_runs(store, "shop")] == [_record("shop", 0).run_id]
    assert read_runs(store, "nobody") == []


def test_records_are_tagged_meta_with_the_sources_classification(
    store: ObjectStore, object_tags: Callable[[str], dict[str, str]], lake: str
) -> None:
    [record] = _history(store, ["stopped"])
    key = layout.run_history_key("shops", record.run_id)
    assert key == f"runs/shops/{record.run_id}.json"
    if lake.startswith("s3://"):
        assert object_tags(key) == {
            "layer": "meta",
            "source": "shops",
            "sensitivity": "confidential",
            "pii": "false",
        }


def test_a_retried_run_replaces_its_own_record(store: ObjectStore) -> None:
    record = _record("shops", 0, "failed")
    write_run(store, record)
    write_run(store, record.model_copy(update={"status": "published", "ok": True}))
    [back] = read_runs(store, "shops")
    assert (back.status, back.ok) == ("published", True)


def test_the_last_good_run_is_found_past_the_window(store: ObjectStore) -> None:
    records = _history(store, ["published", "unchanged", "stopped", "failed", "stopped"])
    window = read_runs(store, "shops", last=2)
    assert last_ok_run(store, "shops", known=window) == records[1]
    assert last_ok_run(store, "nobody") is None
    _history(store, ["stopped", "failed"], source="broken")
    assert last_ok_run(store, "broken") is None


def test_a_damaged_record_is_named(store: ObjectStore, overwrite: Callable[[str, bytes], None]) -> None:
    [record] = _history(store, ["published"])
    key = layout.run_history_key("shops", record.run_id)
    overwrite(key, b'{"source": "shops"}')
    with pytest.raises(StorageError, match=f"{key}.*not a run record: check"):
        read_runs(store, "shops")


def test_a_missed_due_time_is_claimed_once(store: ObjectStore) -> None:
    due = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    assert claim_late_notice(store, "shops", due, {"check_run_id": "a"})
    assert not claim_late_notice(store, "shops", due, {"check_run_id": "b"})
    assert claim_late_notice(store, "shops", due + timedelta(days=1), {"check_run_id": "c"})
    assert store.exists("runs/shops/late/20260302T030000Z.json")
    assert run_keys(store, "shops") == []  # notices are not runs


def test_expired_history_keeps_the_newest_run_and_the_newest_good_one(store: ObjectStore) -> None:
    records = _history(store, ["published", "published", "stopped", "failed"])
    claim_late_notice(store, "shops", START + timedelta(days=1), {})
    cutoff = START + timedelta(days=10)  # every run is older
    expired = expired_run_history(store, "shops", cutoff)
    keys = {r.run_id: layout.run_history_key("shops", r.run_id) for r in records}
    assert sorted(expired.keys) == sorted(
        [keys[records[0].run_id], keys[records[2].run_id], "runs/shops/late/20260302T030000Z.json"]
    )
    assert {k.key for k in expired.kept} == {keys[records[1].run_id], keys[records[3].run_id]}

    young = expired_run_history(store, "shops", START + timedelta(days=1))  # only the first run is older
    assert young.keys == [keys[records[0].run_id]]
    assert young.kept == []


def test_retention_removes_old_runs_from_the_lake_and_audits_it(store: ObjectStore) -> None:
    records = _history(store, ["published", "stopped", "published"])
    now = records[-1].started_at + timedelta(days=2, hours=1)  # retention of 2 days: only the newest stays
    report = apply_retention(store, {"shops": 2}, actor="dpo@example.org", now=now)
    [runs] = [layer for layer in report.layers if layer.layer == "runs"]
    assert runs.error is None and runs.audit_seq is not None
    assert runs.removed == [layout.run_history_key("shops", r.run_id) for r in records[:2]]
    assert read_runs(store, "shops") == records[2:]
