"""The raw layer keeps what arrived, byte for byte, and can prove it."""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from storage import layout
from storage.errors import InvalidTag, RawChecksumMismatch, RawError, StorageError
from storage.raw import (
    RawFile,
    RawManifest,
    find_landed,
    indexed,
    land_raw,
    raw_history,
    read_manifest,
    read_verified,
    verified_local_copies,
    verify_raw,
    write_manifest,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from storage.store import ObjectStore

    InjectFault = Callable[[ObjectStore, str, Callable[[], None]], ObjectStore]

DAY = date(2026, 3, 7)


@pytest.fixture
def inputs(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "incoming"
    (folder / "sub").mkdir(parents=True)
    a = folder / "customers.csv"
    a.write_bytes(b"id,name\r\n1,\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd\r\n2,  x  \n")  # CRLF, UTF-8, spaces kept
    b = folder / "sub" / "more.bin"
    b.write_bytes(bytes(range(256)) * 9000)  # > 1 MiB: more than one hashing chunk
    return [a, b]


def _manifest(raw: list[RawFile], **extra: object) -> RawManifest:
    values: dict[str, object] = {
        "source": "customers",
        "run_id": "r1",
        "landed_at": datetime(2026, 3, 7, 12, 0, tzinfo=UTC),
        "files": raw,
        "rows": 2,
        "read_error": None,
        "passport": {"owner": "crm-team", "connector": {"kind": "csv"}},
    }
    values.update(extra)
    return RawManifest.model_validate(values)


def test_land_raw_keeps_bytes_and_records_their_checksums(store: ObjectStore, inputs: list[Path]) -> None:
    raw = land_raw(store, "customers", "r1", DAY, inputs)
    assert [f.name for f in raw] == ["customers.csv", "more.bin"]
    for landed, path in zip(raw, inputs, strict=True):
        original = path.read_bytes()
        assert landed.key == layout.raw_key("customers", DAY, "r1", path.name)
        assert landed.sha256 == hashlib.sha256(original).hexdigest()
        assert landed.bytes == len(original)
        assert store.get_bytes(landed.key) == original
        verify_raw(store, landed)


def test_raw_file_is_picklable_and_json_serialisable(store: ObjectStore, inputs: list[Path]) -> None:
    [landed, _] = land_raw(store, "customers", "r1", DAY, inputs)
    assert pickle.loads(pickle.dumps(landed)) == landed
    assert RawFile.model_validate_json(landed.model_dump_json()) == landed
    assert json.loads(landed.model_dump_json())["bytes"] == landed.bytes


def _objects(store: ObjectStore, source: str = "customers") -> list[str]:
    """Stored raw files (not manifests, not index entries)."""
    return [
        key
        for key in store.list(layout.source_raw_prefix(source))
        if not key.startswith(layout.raw_index_prefix(source)) and not key.endswith(layout.MANIFEST_FILE)
    ]


def test_landing_again_in_the_same_run_is_a_no_op(store: ObjectStore, inputs: list[Path]) -> None:
    first = land_raw(store, "customers", "r1", DAY, inputs)
    assert land_raw(store, "customers", "r1", DAY, inputs) == first  # a retried task
    assert all(f.reused_from is None for f in first)
    assert len(_objects(store)) == 2
    assert len(store.list(layout.raw_index_prefix("customers"))) == 2


def test_a_different_file_never_replaces_a_landed_one(store: ObjectStore, inputs: list[Path]) -> None:
    [landed, _] = land_raw(store, "customers", "r1", DAY, inputs)
    inputs[0].write_bytes(b"changed")
    with pytest.raises(RawError, match="never replaced") as info:
        land_raw(store, "customers", "r1", DAY, inputs[:1])
    assert landed.key in str(info.value)
    assert store.get_bytes(landed.key) != b"changed"


def test_duplicate_basenames_are_refused(store: ObjectStore, tmp_path: Path, inputs: list[Path]) -> None:
    other = tmp_path / "elsewhere" / "customers.csv"
    other.parent.mkdir()
    other.write_bytes(b"id\n")
    with pytest.raises(RawError, match=r"customers\.csv"):
        land_raw(store, "customers", "r1", DAY, [inputs[0], other])
    assert store.list("raw/") == []


def test_a_file_named_like_the_manifest_is_refused(store: ObjectStore, tmp_path: Path) -> None:
    path = tmp_path / "_manifest.json"
    path.write_bytes(b"{}")
    with pytest.raises(RawError, match=r"_manifest\.json"):
        land_raw(store, "customers", "r1", DAY, [path])


def test_raw_objects_carry_access_tags(
    store: ObjectStore, lake: str, inputs: list[Path], object_tags: Callable[[str], dict[str, str]]
) -> None:
    [landed, _] = land_raw(
        store, "customers", "r1", DAY, inputs, tags={"run": "r1"}, sensitivity="confidential", pii=False
    )
    manifest_key = write_manifest(store, _manifest([landed]), sensitivity="confidential", pii=False)
    on_s3 = lake.startswith("s3://")
    access = {"source": "customers", "sensitivity": "confidential", "pii": "false"}
    assert object_tags(landed.key) == ({"layer": "raw", **access, "run": "r1"} if on_s3 else {})
    assert store.tags(landed.key) == object_tags(landed.key)
    # The manifest may quote a parser's message (a data value): it is raw, not meta.
    assert object_tags(manifest_key) == ({"layer": "raw", **access} if on_s3 else {})
    index_key = layout.raw_index_key("customers", landed.sha256)
    assert object_tags(index_key) == ({"layer": "meta", **access} if on_s3 else {})


def test_unclassified_raw_objects_are_tagged_as_the_most_sensitive(
    store: ObjectStore, lake: str, inputs: list[Path], object_tags: Callable[[str], dict[str, str]]
) -> None:
    [landed, _] = land_raw(store, "customers", "r1", DAY, inputs)
    expected = {"layer": "raw", "source": "customers", "sensitivity": "restricted", "pii": "true"}
    assert object_tags(landed.key) == (expected if lake.startswith("s3://") else {})


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"sensitivity": "secret"}, "unknown sensitivity 'secret'"),
        ({"tags": {"layer": "curated"}}, "may not set access tag"),
        ({"tags": {f"t{i}": "x" for i in range(7)}}, "at most 10"),
    ],
)
def test_bad_classification_is_refused_before_anything_is_stored(
    store: ObjectStore, inputs: list[Path], extra: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidTag, match=match):
        land_raw(store, "customers", "r1", DAY, inputs, **extra)
    assert store.list("raw/") == []


def test_the_same_bytes_are_stored_once_and_the_run_says_where_they_are(
    store: ObjectStore, inputs: list[Path], tmp_path: Path
) -> None:
    first = land_raw(store, "customers", "r1", DAY, inputs)
    before = store.list("raw/")
    again = land_raw(store, "customers", "r2", date(2026, 3, 8), inputs)
    assert [(f.key, f.sha256, f.bytes, f.reused_from) for f in again] == [
        (f.key, f.sha256, f.bytes, "r1") for f in first
    ]
    assert store.list("raw/") == before  # nothing new stored
    for landed in again:
        verify_raw(store, landed)  # unchanged: works on the reused objects

    # New content next to known content: only the new file is stored, under the new run.
    fresh = tmp_path / "fresh.csv"
    fresh.write_bytes(b"id\n3\n")
    mixed = land_raw(store, "customers", "r3", date(2026, 3, 9), [inputs[0], fresh])
    assert [f.reused_from for f in mixed] == ["r1", None]
    assert mixed[0].key == first[0].key
    assert mixed[1].key == layout.raw_key("customers", date(2026, 3, 9), "r3", "fresh.csv")
    entry = indexed(store, "customers", mixed[1].sha256)
    assert entry is not None
    assert (entry.key, entry.run_id, entry.bytes) == (mixed[1].key, "r3", 5)


def test_the_index_is_per_source(store: ObjectStore, inputs: list[Path]) -> None:
    land_raw(store, "customers", "r1", DAY, inputs)
    other = land_raw(store, "stores", "r1", DAY, inputs)
    assert all(f.reused_from is None for f in other)
    assert all(f.key.startswith("raw/stores/") for f in other)


def test_identical_files_in_one_landing_are_stored_once(store: ObjectStore, tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_bytes(b"id\n1\n")
    b.write_bytes(b"id\n1\n")
    first, second = land_raw(store, "customers", "r1", DAY, [a, b])
    assert (first.reused_from, second.reused_from) == (None, "r1")
    assert second.key == first.key
    assert second.name == "b.csv"
    assert _objects(store) == [first.key]


def test_manifests_of_runs_that_reused_bytes(store: ObjectStore, inputs: list[Path], tmp_path: Path) -> None:
    write_manifest(store, _manifest(land_raw(store, "customers", "r1", DAY, inputs)))
    all_reused = land_raw(store, "customers", "r2", date(2026, 3, 8), inputs)
    at = datetime(2026, 3, 8, 9, 0, tzinfo=UTC)
    key = write_manifest(store, _manifest(all_reused, run_id="r2", landed_at=at))
    assert key == layout.manifest_key("customers", date(2026, 3, 8), "r2")
    assert read_manifest(store, key).files == all_reused

    fresh = tmp_path / "fresh.csv"
    fresh.write_bytes(b"id\n3\n")
    mixed = land_raw(store, "customers", "r3", date(2026, 3, 9), [inputs[0], fresh])
    later = datetime(2026, 3, 10, 0, 1, tzinfo=UTC)  # after midnight: the folder still wins
    key = write_manifest(store, _manifest(mixed, run_id="r3", landed_at=later))
    assert key == layout.manifest_key("customers", date(2026, 3, 9), "r3")
    assert [m.run_id for m in raw_history(store, "customers")] == ["r1", "r2", "r3"]
    sums = [hashlib.sha256(path.read_bytes()).hexdigest() for path in inputs]
    assert [m.run_id for m in find_landed(store, "customers", sums)] == ["r1", "r2"]


def test_a_manifest_cannot_list_objects_outside_its_source(store: ObjectStore, inputs: list[Path]) -> None:
    [landed, _] = land_raw(store, "customers", "r1", DAY, inputs)
    stray = landed.model_copy(update={"key": "raw/stores/2026-03-07/r0/customers.csv", "reused_from": "r0"})
    with pytest.raises(RawError, match="not a raw object of 'customers'"):
        write_manifest(store, _manifest([stray], run_id="r2"))


def test_an_index_entry_whose_object_is_gone_is_repaired(store: ObjectStore, inputs: list[Path]) -> None:
    """Raw objects deleted behind the lake's back (a lifecycle rule): the bytes are stored again."""
    [first, _] = land_raw(store, "customers", "r1", DAY, inputs)
    store.delete(first.key)
    [again, _] = land_raw(store, "customers", "r2", date(2026, 3, 8), inputs)
    assert again.reused_from is None
    assert again.key == layout.raw_key("customers", date(2026, 3, 8), "r2", "customers.csv")
    verify_raw(store, again)
    entry = indexed(store, "customers", first.sha256)
    assert entry is not None
    assert (entry.key, entry.run_id) == (again.key, "r2")
    [third, _] = land_raw(store, "customers", "r3", date(2026, 3, 9), inputs)
    assert (third.key, third.reused_from) == (again.key, "r2")


def test_a_crash_between_object_and_index_loses_nothing(
    store: ObjectStore, inputs: list[Path], inject_fault: InjectFault
) -> None:
    """The object is stored before its index entry: a retried landing finds it and indexes it."""
    index_key = layout.raw_index_key("customers", hashlib.sha256(inputs[0].read_bytes()).hexdigest())

    def crash() -> None:
        raise StorageError("injected: process died before the index entry")

    with pytest.raises(StorageError, match="injected"):
        land_raw(inject_fault(store, index_key, crash), "customers", "r1", DAY, inputs)
    key = layout.raw_key("customers", DAY, "r1", "customers.csv")
    assert store.get_bytes(key) == inputs[0].read_bytes()  # the object is there, unindexed
    assert not store.exists(index_key)
    [retried, _] = land_raw(store, "customers", "r1", DAY, inputs)
    assert (retried.key, retried.reused_from) == (key, None)
    entry = indexed(store, "customers", retried.sha256)
    assert entry is not None
    assert entry.key == key


def test_losing_the_index_race_reuses_the_winner_and_deletes_nothing(
    store: ObjectStore, inputs: list[Path], inject_fault: InjectFault
) -> None:
    """Another landing indexes the same bytes between our index read and our index write."""
    index_key = layout.raw_index_key("customers", hashlib.sha256(inputs[0].read_bytes()).hexdigest())
    rival_day = date(2026, 3, 6)

    def rival_lands_first() -> None:
        land_raw(store, "customers", "r0", rival_day, inputs[:1])

    faulty = inject_fault(store, index_key, rival_lands_first)
    [landed, _] = land_raw(faulty, "customers", "r1", DAY, inputs)
    winner = layout.raw_key("customers", rival_day, "r0", "customers.csv")
    assert (landed.key, landed.reused_from) == (winner, "r0")
    ours = layout.raw_key("customers", DAY, "r1", "customers.csv")
    assert store.get_bytes(ours) == store.get_bytes(winner)  # our copy stays: nothing is deleted
    entry = indexed(store, "customers", landed.sha256)
    assert entry is not None
    assert entry.key == winner


def test_concurrent_landings_of_the_same_bytes(store: ObjectStore, inputs: list[Path]) -> None:
    runs = [f"r{i}" for i in range(5)]
    barrier = threading.Barrier(len(runs))

    def land(run_id: str) -> RawFile:
        barrier.wait()
        return land_raw(store, "customers", run_id, DAY, inputs[:1])[0]

    with ThreadPoolExecutor(len(runs)) as pool:
        landed = list(pool.map(land, runs))
    entry = indexed(store, "customers", landed[0].sha256)
    assert entry is not None
    assert [f.reused_from for f in landed].count(None) == 1  # exactly one landing owns the bytes
    assert {f.key for f in landed} == {entry.key}
    for f in landed:
        verify_raw(store, f)


def test_verify_raw_detects_a_corrupted_object(
    store: ObjectStore, inputs: list[Path], overwrite: Callable[[str, bytes], None]
) -> None:
    [landed, _] = land_raw(store, "customers", "r1", DAY, inputs)
    overwrite(landed.key, b"id,name\r\n1,tampered\r\n")
    with pytest.raises(RawChecksumMismatch) as info:
        verify_raw(store, landed)
    error = info.value
    assert (error.key, error.expected) == (landed.key, landed.sha256)
    assert error.actual == hashlib.sha256(b"id,name\r\n1,tampered\r\n").hexdigest()
    assert landed.key in str(error)
    assert "tampered" not in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.key, copy.expected, copy.actual) == (error.key, error.expected, error.actual)


def test_manifest_round_trip_beside_the_files(store: ObjectStore, inputs: list[Path]) -> None:
    raw = land_raw(store, "customers", "r1", DAY, inputs)
    manifest = _manifest(raw)
    key = write_manifest(store, manifest)
    assert key == layout.manifest_key("customers", DAY, "r1")
    assert read_manifest(store, key) == manifest
    stored = json.loads(store.get_bytes(key))
    assert stored["files"][0]["sha256"] == raw[0].sha256
    assert stored["passport"]["owner"] == "crm-team"


def test_manifest_uses_the_files_folder_even_after_midnight(store: ObjectStore, inputs: list[Path]) -> None:
    raw = land_raw(store, "customers", "r1", DAY, inputs)
    key = write_manifest(store, _manifest(raw, landed_at=datetime(2026, 3, 8, 0, 1, tzinfo=UTC)))
    assert key == layout.manifest_key("customers", DAY, "r1")


def test_manifest_without_files_goes_under_the_landing_day(store: ObjectStore) -> None:
    manifest = _manifest([], rows=None, read_error="no files matched")
    key = write_manifest(store, manifest)
    assert key == layout.manifest_key("customers", DAY, "r1")
    assert read_manifest(store, key).read_error == "no files matched"


def test_manifests_are_immutable(store: ObjectStore, inputs: list[Path]) -> None:
    raw = land_raw(store, "customers", "r1", DAY, inputs)
    key = write_manifest(store, _manifest(raw))
    assert write_manifest(store, _manifest(raw)) == key  # same content: no-op
    with pytest.raises(RawError, match="immutable"):
        write_manifest(store, _manifest(raw, rows=3))
    assert read_manifest(store, key).rows == 2


def test_manifest_of_another_run_folder_is_refused(store: ObjectStore, inputs: list[Path]) -> None:
    raw = land_raw(store, "customers", "r1", DAY, inputs)
    with pytest.raises(RawError, match="not under"):
        write_manifest(store, _manifest(raw, run_id="r2"))


def test_find_landed_matches_checksums_in_any_order(store: ObjectStore, inputs: list[Path]) -> None:
    first = land_raw(store, "customers", "r1", DAY, inputs)
    write_manifest(store, _manifest(first))
    second = land_raw(store, "customers", "r2", date(2026, 3, 8), inputs)
    write_manifest(store, _manifest(second, run_id="r2", landed_at=datetime(2026, 3, 8, tzinfo=UTC)))
    partial = land_raw(store, "customers", "r3", DAY, inputs[:1])
    write_manifest(store, _manifest(partial, run_id="r3"))

    sums = [f.sha256 for f in reversed(first)]
    assert [m.run_id for m in find_landed(store, "customers", sums)] == ["r1", "r2"]
    assert [m.run_id for m in find_landed(store, "customers", [first[0].sha256])] == ["r3"]
    assert find_landed(store, "customers", ["0" * 64]) == []
    assert find_landed(store, "stores", sums) == []


def test_verified_local_copies_hold_the_landed_bytes_and_catch_corruption(
    store: ObjectStore, inputs: list[Path], overwrite: Callable[[str, bytes], None]
) -> None:
    landed = land_raw(store, "people", "run-1", date(2026, 1, 2), inputs)
    with verified_local_copies(store, landed) as paths:
        assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in inputs]
    overwrite(landed[0].key, b"tampered")
    with pytest.raises(RawChecksumMismatch, match=landed[0].key), verified_local_copies(store, landed):
        pass


def test_read_verified_returns_what_was_read_only_when_the_checksums_match(
    store: ObjectStore, inputs: list[Path], overwrite: Callable[[str, bytes], None]
) -> None:
    landed = land_raw(store, "people", "run-1", date(2026, 1, 2), inputs)
    read = lambda paths: [p.read_bytes() for p in paths]  # noqa: E731
    assert read_verified(store, landed, read) == [p.read_bytes() for p in inputs]
    overwrite(landed[0].key, b"tampered")
    with pytest.raises(RawChecksumMismatch, match=landed[0].key):
        read_verified(store, landed, read)


def test_a_landed_local_file_is_moved_in_not_left_behind(store: ObjectStore, inputs: list[Path]) -> None:
    landed = land_raw(store, "people", "run-1", date(2026, 1, 2), inputs)
    for raw, source in zip(landed, inputs, strict=True):
        with store.open_read(raw.key) as stream:
            assert stream.read() == source.read_bytes()
        assert source.exists()  # the source itself is never moved: only the private snapshot is


def test_files_this_run_landed_are_not_hashed_again_but_earlier_landings_are(
    store: ObjectStore, inputs: list[Path], overwrite: Callable[[str, bytes], None]
) -> None:
    """The landing's copy pass took the checksum; reading in the same run trusts it, and only it."""
    earlier = land_raw(store, "people", "run-1", date(2026, 1, 2), inputs)
    read = lambda paths: [p.read_bytes() for p in paths]  # noqa: E731
    overwrite(earlier[0].key, b"tampered after its run")
    landed_now = {f.key for f in earlier}
    if all(Path(store.uri(f.key)).is_file() for f in earlier):  # a local lake reads in place, unhashed
        assert read_verified(store, earlier, read, landed_now=landed_now)[0] == b"tampered after its run"
    else:  # S3 hashes every object as it downloads: a changed object is caught all the same
        with pytest.raises(RawChecksumMismatch):
            read_verified(store, earlier, read, landed_now=landed_now)
    with pytest.raises(RawChecksumMismatch, match=earlier[0].key):
        read_verified(store, earlier, read, landed_now=set())
