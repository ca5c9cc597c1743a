"""Curated versions: numbered, immutable, published whole, and followed through one pointer."""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pytest

from storage import layout
from storage.curated import (
    CuratedVersion,
    UnknownVersion,
    current_version,
    list_versions,
    publish,
    read_current,
    set_current,
)
from storage.store import ObjectNotFound, ObjectStore, StorageError

FRAME_1 = pl.DataFrame({"id": [1, 2, 3], "email": ["h1", "h2", "h3"]})
FRAME_2 = pl.DataFrame({"id": [1, 2, 3, 4], "email": ["h1", "h2", "h3", "h4"]})


def _publish(
    store: ObjectStore, frame: pl.DataFrame, run_id: str, inputs: list[str], **extra: str
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
    assert current_version(store, "customers").version == 2  # type: ignore[union-attr]
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


def test_curated_objects_are_tagged(store: ObjectStore, lake: str) -> None:
    v1 = _publish(store, FRAME_1, "r1", ["a"])
    expected = {"layer": "curated", "source": "customers"} if lake.startswith("s3://") else {}
    keys = [v1.data_key, layout.curated_meta_key("customers", 1), layout.current_pointer_key("customers")]
    for key in keys:
        assert store.tags(key) == expected
