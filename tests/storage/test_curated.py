"""Curated versions: numbered, immutable, published whole, and followed through one pointer."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import polars as pl
import pytest

from storage import layout
from storage.curated import (
    CuratedVersion,
    current_version,
    history,
    list_versions,
    publish,
    read_current,
    rollback,
    set_current,
)
from storage.errors import UnknownVersion
from storage.store import ObjectNotFound, ObjectStore, StorageError

if TYPE_CHECKING:
    from collections.abc import Callable

    InjectFault = Callable[[ObjectStore, str, Callable[[], None]], ObjectStore]

FRAME_1 = pl.DataFrame({"id": [1, 2, 3], "email": ["h1", "h2", "h3"]})
FRAME_2 = pl.DataFrame({"id": [1, 2, 3, 4], "email": ["h1", "h2", "h3", "h4"]})


def _publish(
    store: ObjectStore,
    frame: pl.DataFrame,
    run_id: str,
    inputs: list[str],
    *,
    sensitivity: str | None = None,
    pii: bool | None = None,
    **extra: str,
) -> CuratedVersion:
    return publish(
        store,
        "customers",
        frame,
        run_id=run_id,
        input_sha256=inputs,
        contract_id=extra.get("contract_id", "customers"),
        contract_version=extra.get("contract_version", "1.0.0"),
        masked_columns={"email": extra.get("email", "hash")},
        sensitivity=sensitivity,
        pii=pii,
    )


def test_first_publish_writes_version_one_and_moves_the_pointer(store: ObjectStore) -> None:
    assert current_version(store, "customers") is None
    v1 = _publish(store, FRAME_1, "r1", ["a", "b"])
    assert (v1.version, v1.run_id, v1.rows, v1.columns) == (1, "r1", 3, ["id", "email"])
    assert v1.data_key == layout.curated_data_key("customers", 1)
    data = store.get_bytes(v1.data_key)
    assert (v1.bytes, v1.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert current_version(store, "customers") == v1
    pointer = json.loads(store.get_bytes(layout.current_pointer_key("customers")))
    assert pointer["version"] == 1
    assert pointer["data_key"] == v1.data_key
    assert pointer["reason"] == "publish"
    assert read_current(store, "customers").equals(FRAME_1)


def test_new_input_makes_a_new_version_and_keeps_the_old_one(store: ObjectStore) -> None:
    v1 = _publish(store, FRAME_1, "r1", ["a"])
    v2 = _publish(store, FRAME_2, "r2", ["c"])
    assert v2.version == 2
    assert current_version(store, "customers") == v2
    assert list_versions(store, "customers") == [v1, v2]
    assert read_current(store, "customers").equals(FRAME_2)
    assert pl.read_parquet(store.get_bytes(v1.data_key)).equals(FRAME_1)


def test_unchanged_input_returns_the_current_version_and_writes_nothing(store: ObjectStore) -> None:
    v1 = _publish(store, FRAME_1, "r1", ["a", "b"])
    before = {key: store.get_bytes(key) for key in store.list("curated/")}
    again = _publish(store, FRAME_1, "r2", ["b", "a"])  # same checksums, any order
    assert again == v1
    assert again.run_id == "r1"  # how the flow tells "unchanged" from "published"
    assert {key: store.get_bytes(key) for key in store.list("curated/")} == before


@pytest.mark.parametrize(
    "change", [{"contract_version": "1.1.0"}, {"contract_id": "customers_v2"}, {"email": "redact"}]
)
def test_a_contract_or_masking_change_publishes_again(store: ObjectStore, change: dict[str, str]) -> None:
    _publish(store, FRAME_1, "r1", ["a"])
    assert _publish(store, FRAME_1, "r2", ["a"], **change).version == 2


def test_rollback_moves_only_the_pointer(store: ObjectStore) -> None:
    v1 = _publish(store, FRAME_1, "r1", ["a"])
    v2 = _publish(store, FRAME_2, "r2", ["c"])
    assert set_current(store, "customers", 1, reason="rollback: bad upstream file") == v1
    assert current_version(store, "customers") == v1
    assert read_current(store, "customers").equals(FRAME_1)
    assert list_versions(store, "customers") == [v1, v2]
    pointer = json.loads(store.get_bytes(layout.current_pointer_key("customers")))
    assert pointer["reason"] == "rollback: bad upstream file"
    # After a rollback, new input still gets a fresh number.
    assert _publish(store, FRAME_1, "r3", ["d"]).version == 3


def test_unknown_version_is_refused_listing_the_known_ones(store: ObjectStore) -> None:
    _publish(store, FRAME_1, "r1", ["a"])
    _publish(store, FRAME_2, "r2", ["c"])
    for bad in (7, 0):
        with pytest.raises(UnknownVersion, match="known versions: 1, 2"):
            set_current(store, "customers", bad, reason="oops")
    assert current_version(store, "customers").version == 2
    with pytest.raises(UnknownVersion, match="none"):
        set_current(store, "stores", 1, reason="oops")


def test_an_incomplete_version_slot_is_skipped_not_reused(store: ObjectStore) -> None:
    _publish(store, FRAME_1, "r1", ["a"])
    orphan = layout.curated_data_key("customers", 2)
    store.put_bytes(orphan, b"half-written by a crashed run")
    v3 = _publish(store, FRAME_2, "r2", ["c"])
    assert v3.version == 3
    assert [v.version for v in list_versions(store, "customers")] == [1, 3]
    assert store.get_bytes(orphan) == b"half-written by a crashed run"


def test_concurrent_publishers_never_overwrite_each_other(store: ObjectStore) -> None:
    """Several runs publish at once: each version slot has one writer, losers fail and can retry."""
    frames = {f"r{i}": pl.DataFrame({"id": list(range(i + 1))}) for i in range(6)}
    barrier = threading.Barrier(len(frames))

    def attempt(run_id: str) -> CuratedVersion | StorageError:
        barrier.wait()
        try:
            return _publish(store, frames[run_id], run_id, [run_id])
        except StorageError as exc:
            assert "concurrently" in str(exc)
            return exc

    with ThreadPoolExecutor(len(frames)) as pool:
        outcomes = list(pool.map(attempt, frames))
    published = [o for o in outcomes if isinstance(o, CuratedVersion)]
    assert published
    assert len({v.version for v in published}) == len(published)
    for version in published:
        data = store.get_bytes(version.data_key)
        assert hashlib.sha256(data).hexdigest() == version.sha256
        assert pl.read_parquet(data).equals(frames[version.run_id])
    assert current_version(store, "customers") in published
    assert {v.version for v in list_versions(store, "customers")} == {v.version for v in published}


def test_read_current_without_a_version(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound, match=r"curated/customers/_current\.json"):
        read_current(store, "customers")


def test_curated_objects_carry_access_tags(
    store: ObjectStore, lake: str, object_tags: Callable[[str], dict[str, str]]
) -> None:
    v1 = _publish(store, FRAME_1, "r1", ["a"], sensitivity="internal", pii=False)
    _publish(store, FRAME_2, "r2", ["c"], sensitivity="internal", pii=False)
    on_s3 = lake.startswith("s3://")
    access = {"source": "customers", "sensitivity": "internal", "pii": "false"}
    assert object_tags(v1.data_key) == ({"layer": "curated", **access} if on_s3 else {})
    assert (v1.sensitivity, v1.pii) == ("internal", False)
    # Bookkeeping without data values is 'meta', so every reader role can be allowed to follow the pointer.
    meta_keys = [
        layout.curated_meta_key("customers", 1),
        layout.current_pointer_key("customers"),
        *store.list(layout.events_prefix("customers")),
    ]
    for key in meta_keys:
        assert object_tags(key) == ({"layer": "meta", **access} if on_s3 else {})
    # A rollback tags its pointer and event like the version it points at.
    rollback(store, "customers", 1)
    for key in [layout.current_pointer_key("customers"), *store.list(layout.events_prefix("customers"))]:
        assert object_tags(key) == ({"layer": "meta", **access} if on_s3 else {})


def test_unclassified_curated_data_is_tagged_as_the_most_sensitive(
    store: ObjectStore, lake: str, object_tags: Callable[[str], dict[str, str]]
) -> None:
    v1 = _publish(store, FRAME_1, "r1", ["a"])
    expected = {"layer": "curated", "source": "customers", "sensitivity": "restricted", "pii": "true"}
    assert object_tags(v1.data_key) == (expected if lake.startswith("s3://") else {})


def _moves(store: ObjectStore) -> list[tuple[str, int | None, int, bool | None]]:
    return [(c.action, c.from_version, c.to_version, c.applied) for c in history(store, "customers")]


def test_history_records_publishes_and_rollbacks_in_order(store: ObjectStore) -> None:
    assert history(store, "customers") == []
    _publish(store, FRAME_1, "r1", ["a"])
    _publish(store, FRAME_1, "r1b", ["a"])  # unchanged: no move, no event
    v2 = _publish(store, FRAME_2, "r2", ["c"])
    back = rollback(store, "customers", 1, reason="bad upstream file", run_id="ops-42")
    assert back.version == 1
    assert _moves(store) == [
        ("publish", None, 1, True),
        ("publish", 1, 2, True),
        ("rollback", 2, 1, True),
    ]
    last = history(store, "customers")[-1]
    assert (last.reason, last.run_id) == ("bad upstream file", "ops-42")
    assert last.describe() == "rollback v2 → v1 (run ops-42): bad upstream file"
    assert history(store, "customers")[1].describe() == "publish v1 → v2 (run r2)"
    keys = store.list(layout.events_prefix("customers"))
    assert [layout.event_version("customers", k) for k in keys] == [1, 2, 1]
    assert keys[-1].endswith("-000001-rollback.json")
    pointer = json.loads(store.get_bytes(layout.current_pointer_key("customers")))
    assert (pointer["version"], pointer["event"], pointer["from_version"]) == (1, keys[-1], 2)
    # Rolling forward is the same operation in the other direction.
    assert set_current(store, "customers", 2, reason="fixed upstream").version == 2
    assert _moves(store)[-1] == ("rollback", 1, 2, True)
    assert current_version(store, "customers") == v2


def test_rollback_to_the_current_version_is_a_logged_no_op(
    store: ObjectStore, caplog: pytest.LogCaptureFixture
) -> None:
    _publish(store, FRAME_1, "r1", ["a"])
    v2 = _publish(store, FRAME_2, "r2", ["c"])
    before = {key: store.get_bytes(key) for key in store.list("curated/")}
    with caplog.at_level(logging.INFO, logger="storage.curated"):
        assert rollback(store, "customers", 2) == v2
    assert "version 2 of 'customers' is already current; nothing changed" in caplog.text
    assert {key: store.get_bytes(key) for key in store.list("curated/")} == before


def test_rollback_to_an_unknown_version_lists_the_known_ones(store: ObjectStore) -> None:
    _publish(store, FRAME_1, "r1", ["a"])
    _publish(store, FRAME_2, "r2", ["c"])
    with pytest.raises(UnknownVersion, match="no version 9; known versions: 1, 2"):
        rollback(store, "customers", 9)
    assert len(history(store, "customers")) == 2


def test_after_a_rollback_publish_compares_with_the_current_version_only(store: ObjectStore) -> None:
    v1 = _publish(store, FRAME_1, "r1", ["a"])
    v2 = _publish(store, FRAME_2, "r2", ["c"])
    rollback(store, "customers", 1)
    # Same input as the current version: unchanged, nothing written.
    assert _publish(store, FRAME_1, "r3", ["a"]) == v1
    # Same input as the rolled-back v2: a new version, never a silent move back to v2.
    v3 = _publish(store, FRAME_2, "r4", ["c"])
    assert v3.version == 3
    assert v3.sha256 == v2.sha256
    assert current_version(store, "customers") == v3
    assert [v.version for v in list_versions(store, "customers")] == [1, 2, 3]
    assert _moves(store)[-1] == ("publish", 1, 3, True)


def test_a_rollback_whose_pointer_write_fails_is_recorded_as_not_applied(
    store: ObjectStore, inject_fault: InjectFault
) -> None:
    _publish(store, FRAME_1, "r1", ["a"])
    v2 = _publish(store, FRAME_2, "r2", ["c"])

    def fail() -> None:
        raise StorageError("injected: endpoint down")

    faulty = inject_fault(store, layout.current_pointer_key("customers"), fail)
    with pytest.raises(StorageError, match="injected"):
        rollback(faulty, "customers", 1, reason="bad file")
    assert current_version(store, "customers") == v2
    assert _moves(store)[-1] == ("rollback", 2, 1, False)
    assert "[not applied" in history(store, "customers")[-1].describe()
    rollback(store, "customers", 1, reason="bad file, again")
    assert _moves(store)[-2:] == [("rollback", 2, 1, False), ("rollback", 2, 1, True)]


def test_a_publish_event_lost_after_the_pointer_is_written_by_the_next_publish(
    store: ObjectStore, inject_fault: InjectFault
) -> None:
    _publish(store, FRAME_1, "r1", ["a"])

    def fail() -> None:
        raise StorageError("injected: endpoint down")

    class FailOnEvents:
        """Fails the first write under _events/ (its key holds a timestamp we cannot know up front)."""

        def __init__(self, inner: ObjectStore) -> None:
            self.inner, self.fired = inner, False

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def put_bytes_if_absent(self, key: str, data: bytes, *, tags: dict[str, str] | None = None) -> bool:
            if key.startswith(layout.events_prefix("customers")) and not self.fired:
                self.fired = True
                fail()
            return self.inner.put_bytes_if_absent(key, data, tags=tags)

    with pytest.raises(StorageError, match=r"version 2 of 'customers' is current, but its history event"):
        _publish(FailOnEvents(store), FRAME_2, "r2", ["c"])
    assert current_version(store, "customers").version == 2
    assert _moves(store) == [("publish", None, 1, True)]
    v2 = _publish(store, FRAME_2, "r2", ["c"])  # the task's retry: unchanged, and the event is written
    assert v2.version == 2
    assert _moves(store) == [("publish", None, 1, True), ("publish", 1, 2, True)]
    assert [v.version for v in list_versions(store, "customers")] == [1, 2]


def test_a_complete_version_that_never_became_current_is_adopted_by_the_same_input(
    store: ObjectStore, inject_fault: InjectFault
) -> None:
    v1 = _publish(store, FRAME_1, "r1", ["a"])

    def crash() -> None:
        raise StorageError("injected: process died before the pointer")

    with pytest.raises(StorageError, match="injected"):
        _publish(inject_fault(store, layout.current_pointer_key("customers"), crash), FRAME_2, "r2", ["c"])
    assert current_version(store, "customers") == v1
    assert [v.version for v in list_versions(store, "customers")] == [1, 2]  # the orphan, complete
    v2 = _publish(store, FRAME_2, "r2", ["c"])
    assert v2.version == 2
    assert current_version(store, "customers") == v2
    assert [v.version for v in list_versions(store, "customers")] == [1, 2]
    assert _moves(store) == [("publish", None, 1, True), ("publish", 1, 2, True)]


def test_an_orphan_with_other_input_or_damaged_bytes_is_not_adopted(
    store: ObjectStore, inject_fault: InjectFault, overwrite: Callable[[str, bytes], None]
) -> None:
    _publish(store, FRAME_1, "r1", ["a"])

    def crash() -> None:
        raise StorageError("injected")

    with pytest.raises(StorageError):
        _publish(inject_fault(store, layout.current_pointer_key("customers"), crash), FRAME_2, "r2", ["c"])
    assert _publish(store, FRAME_2, "r3", ["d"]).version == 3  # other input: orphan v2 skipped
    with pytest.raises(StorageError):
        _publish(inject_fault(store, layout.current_pointer_key("customers"), crash), FRAME_1, "r4", ["e"])
    overwrite(layout.curated_data_key("customers", 4), b"damaged")
    assert _publish(store, FRAME_1, "r4", ["e"]).version == 5  # same input, but bytes do not verify
    assert current_version(store, "customers").version == 5


def test_pointers_written_before_history_existed_still_work(store: ObjectStore) -> None:
    v1 = _publish(store, FRAME_1, "r1", ["a"])
    old_style = {"version": 1, "data_key": v1.data_key, "updated_at": "2026-03-07T12:00:00+00:00"}
    store.put_bytes(
        layout.current_pointer_key("customers"), json.dumps({**old_style, "reason": "publish"}).encode()
    )
    assert current_version(store, "customers") == v1
    v2 = _publish(store, FRAME_2, "r2", ["c"])
    assert current_version(store, "customers") == v2
    assert rollback(store, "customers", 1) == v1
    assert _moves(store)[-2:] == [("publish", 1, 2, True), ("rollback", 2, 1, True)]
