"""A lake is self-contained and checked when read: portable views, verified data, repairable pointers,
numbers never reused, and reads that never create a lake. Local and S3 lakes alike where both apply."""

from __future__ import annotations

import io
import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest

from storage import layout
from storage.curated import (
    CuratedVersion,
    current_version,
    dataset_versions,
    history,
    list_versions,
    publish,
    read_current,
    verify_version,
)
from storage.errors import CorruptMetadata, IntegrityError, LakeNotFound, StorageError
from storage.lake_check import check_lake
from storage.store import open_store
from storage.warehouse import query_lake, register_current, rollback_dataset

if TYPE_CHECKING:
    from collections.abc import Callable

    from storage.base import ObjectStore

    InjectFault = Callable[[ObjectStore, str, Callable[[], None]], ObjectStore]

FRAME_1 = pl.DataFrame({"id": [1, 2, 3]})
FRAME_2 = pl.DataFrame({"id": [4, 5, 6, 7]})
NOW = timedelta(0)  # no grace: an orphan of this test is not being written by anyone


def _publish(
    store: ObjectStore, frame: pl.DataFrame, inputs: list[str], run_id: str = "r1"
) -> CuratedVersion:
    return publish(
        store,
        "customers",
        frame,
        run_id=run_id,
        input_sha256=inputs,
        contract_id="customers",
        contract_version="1.0.0",
        masked_columns={},
    )


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _kinds(lake: str, **options: object) -> list[tuple[str, str, bool]]:
    result = check_lake(lake, orphan_grace=NOW, **options)  # type: ignore[arg-type]
    return [(f.kind, f.key, f.repaired is not None) for f in result.findings]


# A copied lake reads itself.


def test_a_copied_lake_reads_its_own_data_after_the_original_is_deleted(tmp_path: Path) -> None:
    original = str(tmp_path / "original")
    _publish(open_store(original), FRAME_1, ["a"])
    register_current(original, ["customers"])
    copy = shutil.copytree(original, tmp_path / "copy")
    shutil.rmtree(original)
    assert query_lake(str(copy), "SELECT sum(id) AS s FROM customers").item() == 6
    assert not Path(original).exists()


def test_a_moved_lake_reads_itself_not_a_lake_now_at_the_old_place(tmp_path: Path) -> None:
    """Two lakes swap places: each must read its own objects, whatever the other holds."""
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    _publish(open_store(first), FRAME_1, ["a"])
    register_current(first, ["customers"])
    Path(first).rename(second)
    _publish(open_store(first), FRAME_2, ["b"])  # a new lake where the first one was
    register_current(first, ["customers"])
    assert query_lake(second, "SELECT count(*) FROM customers").item() == FRAME_1.height
    assert query_lake(first, "SELECT count(*) FROM customers").item() == FRAME_2.height


def test_s3_views_keep_their_s3_uris(lake: str, store: ObjectStore, warehouse: Path) -> None:
    _publish(store, FRAME_1, ["a"])
    register_current(lake, ["customers"], warehouse=str(warehouse))
    assert query_lake(lake, "SELECT sum(id) FROM customers", warehouse=warehouse).item() == 6


# Reads check integrity.


def test_a_replaced_data_object_is_refused_by_every_read(
    lake: str, store: ObjectStore, warehouse: Path, overwrite: Callable[[str, bytes], None]
) -> None:
    v1 = _publish(store, FRAME_1, ["a"])
    register_current(lake, ["customers"], warehouse=str(warehouse))
    overwrite(v1.data_key, _parquet(FRAME_2))  # valid Parquet, other rows: only the checksum tells
    refused = rf"{v1.data_key}.* no longer matches the size and sha256 recorded"
    with pytest.raises(IntegrityError, match=rf"view 'customers' not served: '{refused}"):
        query_lake(lake, "SELECT * FROM customers", warehouse=warehouse)
    with pytest.raises(IntegrityError, match=refused):
        read_current(store, "customers")
    assert dataset_versions(store, "customers").problem is not None
    with pytest.raises(IntegrityError, match="warehouse views not updated for customers"):
        register_current(lake, ["customers"], warehouse=str(warehouse))
    with pytest.raises(IntegrityError, match=refused):
        rollback_dataset(lake, "customers", 1, warehouse=warehouse)


def test_a_missing_data_object_is_refused(lake: str, store: ObjectStore, warehouse: Path) -> None:
    v1 = _publish(store, FRAME_1, ["a"])
    register_current(lake, ["customers"], warehouse=str(warehouse))
    store.delete(v1.data_key)
    with pytest.raises(IntegrityError, match="is missing"):
        query_lake(lake, "SELECT 1", warehouse=warehouse)


def test_verification_is_cached_until_the_object_changes(
    store: ObjectStore, overwrite: Callable[[str, bytes], None]
) -> None:
    """Written by publish, then read unchanged: no hash. A same-size rewrite is hashed and caught."""
    v1 = _publish(store, FRAME_1, ["a"])
    assert verify_version(store, v1) is False
    assert verify_version(store, v1) is False
    data = store.get_bytes(v1.data_key)
    overwrite(v1.data_key, data[:-9] + bytes(b ^ 0xFF for b in data[-9:]))  # same size, new bytes
    with pytest.raises(IntegrityError):
        verify_version(store, v1)
    overwrite(v1.data_key, data)  # put back: intact again (S3's ETag is the same MD5), then cached
    verify_version(store, v1)
    assert verify_version(store, v1) is False


def test_publish_republishes_an_unchanged_input_whose_current_data_changed(
    store: ObjectStore, overwrite: Callable[[str, bytes], None]
) -> None:
    v1 = _publish(store, FRAME_1, ["a"])
    assert _publish(store, FRAME_1, ["a"], "r2") == v1  # intact: unchanged, nothing written
    overwrite(v1.data_key, _parquet(FRAME_2))
    v2 = _publish(store, FRAME_1, ["a"], "r3")
    assert (v2.version, v2.run_id) == (2, "r3")
    assert read_current(store, "customers").equals(FRAME_1)
    assert history(store, "customers")[-1].describe() == (
        "publish v1 → v2 (run r3): republish: v1's data no longer matched its checksum"
    )


# A corrupt pointer or description is reported, and repaired where safe.


@pytest.mark.parametrize(
    "pointer", [b"{not json", b'{"version": 9, "data_key": "x", "updated_at": 1, "reason": "p"}']
)
def test_a_corrupt_pointer_is_reported_then_repaired_to_the_last_recorded_version(
    lake: str, store: ObjectStore, warehouse: Path, pointer: bytes
) -> None:
    _publish(store, FRAME_1, ["a"])
    _publish(store, FRAME_2, ["b"], "r2")
    rollback_dataset(lake, "customers", 1, warehouse=warehouse)  # the operator's last decision
    store.put_bytes(layout.current_pointer_key("customers"), pointer)
    with pytest.raises(CorruptMetadata, match=r"_current.json"):
        current_version(store, "customers")

    key = layout.current_pointer_key("customers")
    assert _kinds(lake, warehouse=warehouse) == [("corrupt-metadata", key, False)]
    assert _kinds(lake, warehouse=warehouse, repair=True) == [("corrupt-metadata", key, True)]
    assert current_version(store, "customers").version == 1  # the rollback is kept
    last = history(store, "customers")[-1]
    assert (last.action, last.from_version, last.to_version, last.reason) == ("rollback", None, 1, "repair")
    assert query_lake(lake, "SELECT count(*) FROM customers", warehouse=warehouse).item() == FRAME_1.height
    assert _kinds(lake, warehouse=warehouse) == []


def test_rollback_replaces_an_unreadable_pointer(lake: str, store: ObjectStore, warehouse: Path) -> None:
    _publish(store, FRAME_1, ["a"])
    store.put_bytes(layout.current_pointer_key("customers"), b"\x00garbage")
    moved = rollback_dataset(lake, "customers", 1, reason="fix pointer", warehouse=warehouse)
    assert moved.before is None
    assert moved.replaced_pointer is not None
    assert current_version(store, "customers").version == 1


def test_a_corrupt_description_is_named_never_a_parser_traceback(lake: str, store: ObjectStore) -> None:
    _publish(store, FRAME_1, ["a"])
    v2 = _publish(store, FRAME_2, ["b"], "r2")
    meta_key = layout.curated_meta_key("customers", 2)
    store.put_bytes(meta_key, b'{"source": "customers"')
    with pytest.raises(CorruptMetadata, match=rf"'{meta_key}' is not a valid description"):
        list_versions(store, "customers")
    findings = _kinds(lake, repair=True)
    # The description is reported, not rewritten; the pointer named v2, so it moves to intact v1.
    assert ("corrupt-metadata", meta_key, False) in findings
    assert ("corrupt-metadata", layout.current_pointer_key("customers"), True) in findings
    assert current_version(store, "customers").version == 1
    assert store.exists(v2.data_key)


def test_a_corrupt_history_event_is_reported_and_left_out_of_the_history(
    lake: str, store: ObjectStore
) -> None:
    _publish(store, FRAME_1, ["a"])
    [event] = store.list(layout.events_prefix("customers"))
    store.put_bytes(event, b"[]")
    assert history(store, "customers") == []
    assert _kinds(lake, repair=True) == [("corrupt-metadata", event, False)]


def test_a_checksum_mismatch_is_reported_not_repaired(
    lake: str, store: ObjectStore, overwrite: Callable[[str, bytes], None]
) -> None:
    v1 = _publish(store, FRAME_1, ["a"])
    overwrite(v1.data_key, b"not what was published")
    assert _kinds(lake, repair=True) == [("checksum-mismatch", v1.data_key, False)]
    assert store.get_bytes(v1.data_key) == b"not what was published"


# Version numbers are never reused.


def test_a_crashed_publish_does_not_give_its_number_to_the_next(
    store: ObjectStore, inject_fault: InjectFault
) -> None:
    """The publish dies while its data object is being written: nothing of it lists, yet its number
    is gone for good."""
    _publish(store, FRAME_1, ["a"])

    def crash() -> None:
        raise StorageError("killed while writing the data object")

    faulty = inject_fault(store, layout.curated_data_key("customers", 2), crash)
    with pytest.raises(StorageError, match="killed"):
        _publish(faulty, FRAME_2, ["b"])
    assert [
        k for k in store.list(layout.curated_prefix("customers")) if layout.version_of("customers", k) == 2
    ] == []
    assert _publish(store, FRAME_2, ["b"]).version == 3


def test_an_orphan_is_removed_by_repair_and_its_number_never_reused(lake: str, store: ObjectStore) -> None:
    _publish(store, FRAME_1, ["a"])
    orphan = layout.curated_data_key("customers", 2)
    store.put_bytes(orphan, b"half-written by a crashed run, before claims existed")
    folder = layout.curated_version_prefix("customers", 2)
    assert _kinds(lake) == [("orphan", folder, False)]
    assert _kinds(lake, repair=True) == [("orphan", folder, True)]
    assert not store.exists(orphan)
    assert _kinds(lake) == []
    assert _publish(store, FRAME_2, ["b"]).version == 3


def test_a_recent_orphan_is_left_alone(lake: str, store: ObjectStore) -> None:
    """It may belong to a publish still writing: removing its data would leave that version empty."""
    _publish(store, FRAME_1, ["a"])
    orphan = layout.curated_data_key("customers", 2)
    store.put_bytes(orphan, b"being written")
    [finding] = check_lake(lake, repair=True).findings
    assert finding.kind == "orphan"
    assert finding.repaired is None
    assert "left alone" in finding.detail
    assert store.exists(orphan)


# Reads never create a lake.


def test_reads_of_a_missing_lake_fail_and_create_nothing(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    for read in (
        lambda: check_lake(missing),
        lambda: query_lake(missing, "SELECT 1"),
        lambda: rollback_dataset(missing, "customers", 1),
    ):
        with pytest.raises(LakeNotFound, match=rf"no lake at {missing}"):
            read()
    assert not Path(missing).exists()


def test_the_check_reports_json_ready_findings(lake: str, store: ObjectStore) -> None:
    v1 = _publish(store, FRAME_1, ["a"])
    store.put_bytes(layout.curated_data_key("customers", 2), b"x")
    result = check_lake(lake)
    assert result.sources == ["customers"]
    assert not result.ok
    dumped = json.loads(result.model_dump_json())
    assert dumped["findings"][0]["kind"] == "orphan"
    assert v1.data_key not in {f["key"] for f in dumped["findings"]}
