"""The raw layer keeps what arrived, byte for byte, and can prove it."""

from __future__ import annotations

import hashlib
import json
import pickle
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pytest

from storage import layout
from storage.raw import (
    RawChecksumMismatch,
    RawError,
    RawFile,
    RawManifest,
    find_landed,
    land_raw,
    read_manifest,
    verify_raw,
    write_manifest,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from storage.store import ObjectStore

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


def test_landing_again_in_the_same_run_is_a_no_op(store: ObjectStore, inputs: list[Path]) -> None:
    first = land_raw(store, "customers", "r1", DAY, inputs)
    assert land_raw(store, "customers", "r1", DAY, inputs) == first  # a retried task
    assert len(store.list("raw/")) == 2


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


def test_raw_objects_are_tagged_on_s3(store: ObjectStore, lake: str, inputs: list[Path]) -> None:
    [landed, _] = land_raw(store, "customers", "r1", DAY, inputs, tags={"run": "r1"})
    expected = {"layer": "raw", "source": "customers", "run": "r1"} if lake.startswith("s3://") else {}
    assert store.tags(landed.key) == expected


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
