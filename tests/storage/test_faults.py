"""Faults at the storage level, on the S3 backend against a moto server each test owns and can stop.

Stopping the server is a real outage for the client: werkzeug closes the listening socket, so every
new connection is refused (botocore's EndpointConnectionError). Starting a new server on the same
port is the recovery: moto keeps buckets in this process's module-level backends, not in the server
object, so the data is still there. The stores are real S3Stores talking HTTP; where a test needs the
outage at an exact moment, FaultyStore stops the server just before a chosen key is written.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import date
from typing import TYPE_CHECKING, Protocol

import boto3
import polars as pl
import pytest

from storage import layout
from storage.curated import CuratedVersion, current_version, history, list_versions, publish, read_current
from storage.errors import RawChecksumMismatch, StorageError
from storage.raw import land_raw, verify_raw
from storage.s3 import S3Store

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from storage.store import ObjectStore

    InjectFault = Callable[[ObjectStore, str, Callable[[], None]], ObjectStore]


class MotoControl(Protocol):
    """What the `moto` fixture (conftest.MotoControl) gives a test: an endpoint it can take away."""

    endpoint: str

    def stop(self) -> None: ...

    def start(self) -> None: ...


FRAME_1 = pl.DataFrame({"id": [1, 2, 3], "email": ["h1", "h2", "h3"]})
FRAME_2 = pl.DataFrame({"id": [1, 2, 3, 4], "email": ["h1", "h2", "h3", "h4"]})
DAY = date(2026, 3, 7)


@pytest.fixture
def bucket(moto: MotoControl) -> str:
    name = f"faults-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def _publish(store: ObjectStore, frame: pl.DataFrame, run_id: str, inputs: list[str]) -> CuratedVersion:
    return publish(
        store,
        "customers",
        frame,
        run_id=run_id,
        input_sha256=inputs,
        contract_id="customers",
        contract_version="1.0.0",
        masked_columns={"email": "hash"},
    )


@pytest.mark.parametrize(
    ("stop_before", "versions_after"),
    [
        # Data and description written, pointer not: the complete orphan is adopted by the re-run.
        (layout.current_pointer_key("customers"), [1, 2]),
        # Data written, description not: the incomplete slot is skipped, its number never reused.
        (layout.curated_meta_key("customers", 2), [1, 3]),
    ],
    ids=["before-pointer", "before-description"],
)
def test_endpoint_stops_mid_publish_then_a_rerun_converges(
    moto: MotoControl,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    inject_fault: InjectFault,
    stop_before: str,
    versions_after: list[int],
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # one retry, so the outage surfaces fast
    store = S3Store(bucket, "lake")
    v1 = _publish(store, FRAME_1, "r1", ["a"])

    faulty = inject_fault(S3Store(bucket, "lake"), stop_before, moto.stop)
    started = time.monotonic()
    with pytest.raises(StorageError, match=rf"could not store '{stop_before}'.*EndpointConnectionError"):
        _publish(faulty, FRAME_2, "r2", ["c"])
    assert time.monotonic() - started < 10
    with pytest.raises(StorageError, match="EndpointConnectionError"):
        current_version(store, "customers")

    moto.start()
    reader = S3Store(bucket, "lake")  # a fresh client, as the next task would have
    assert current_version(reader, "customers") == v1
    assert read_current(reader, "customers").equals(FRAME_1)
    assert reader.exists(layout.curated_data_key("customers", 2))  # what the failed attempt left

    v2 = _publish(reader, FRAME_2, "r2", ["c"])  # the task's retry
    assert v2.version == versions_after[-1]
    assert current_version(reader, "customers") == v2
    assert read_current(reader, "customers").equals(FRAME_2)
    assert [v.version for v in list_versions(reader, "customers")] == versions_after
    assert [v.version for v in list_versions(reader, "customers") if v.input_sha256 == ["c"]] == [v2.version]
    assert [(c.action, c.from_version, c.to_version) for c in history(reader, "customers")] == [
        ("publish", None, 1),
        ("publish", 1, v2.version),
    ]
    assert _publish(reader, FRAME_2, "r3", ["c"]) == v2  # and it stays converged


def test_endpoint_stops_after_the_pointer_before_the_event(
    moto: MotoControl, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version is current; its history event is written by the retry from what the pointer says."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    store = S3Store(bucket, "lake")
    _publish(store, FRAME_1, "r1", ["a"])

    class StopBeforeEvent(S3Store):
        """The event key holds a timestamp, so match its folder rather than an exact key."""

        def put_bytes_if_absent(self, key: str, data: bytes, *, tags: dict[str, str] | None = None) -> bool:
            if key.startswith(layout.events_prefix("customers")):
                moto.stop()
            return super().put_bytes_if_absent(key, data, tags=tags)

    with pytest.raises(StorageError, match=r"version 2 of 'customers' is current, but its history event"):
        _publish(StopBeforeEvent(bucket, "lake"), FRAME_2, "r2", ["c"])
    moto.start()
    reader = S3Store(bucket, "lake")
    assert current_version(reader, "customers").version == 2
    assert [c.to_version for c in history(reader, "customers")] == [1]
    assert _publish(reader, FRAME_2, "r2", ["c"]).version == 2
    assert [(c.action, c.to_version) for c in history(reader, "customers")] == [
        ("publish", 1),
        ("publish", 2),
    ]


def test_a_corrupted_raw_object_is_detected_also_through_dedup(
    moto: MotoControl, bucket: str, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(b"id,name\r\n1,a\r\n")
    store = S3Store(bucket, "lake")
    [landed] = land_raw(store, "customers", "r1", DAY, [path])
    boto3.client("s3").put_object(Bucket=bucket, Key=f"lake/{landed.key}", Body=b"id,name\r\n1,tampered\r\n")

    with pytest.raises(RawChecksumMismatch) as info:
        verify_raw(store, landed)
    assert info.value.key == landed.key
    assert landed.key in str(info.value)
    assert "tampered" not in str(info.value)
    # A later run with the same bytes reuses the object; checking it before reading still catches it.
    [again] = land_raw(store, "customers", "r2", DAY, [path])
    assert (again.key, again.reused_from) == (landed.key, "r1")
    with pytest.raises(RawChecksumMismatch, match=landed.key):
        verify_raw(store, again)


def test_a_crash_between_raw_object_and_index_converges_on_retry(
    moto: MotoControl, bucket: str, monkeypatch: pytest.MonkeyPatch, inject_fault: InjectFault, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    path = tmp_path / "customers.csv"
    path.write_bytes(b"id\r\n1\r\n")
    store = S3Store(bucket, "lake")
    [probe] = land_raw(store, "probe", "r0", DAY, [path])  # only to learn the checksum
    index_key = layout.raw_index_key("customers", probe.sha256)

    with pytest.raises(StorageError, match="EndpointConnectionError"):
        land_raw(inject_fault(S3Store(bucket, "lake"), index_key, moto.stop), "customers", "r1", DAY, [path])
    moto.start()
    reader = S3Store(bucket, "lake")
    own_key = layout.raw_key("customers", DAY, "r1", "customers.csv")
    assert reader.exists(own_key)
    assert not reader.exists(index_key)
    [retried] = land_raw(reader, "customers", "r1", DAY, [path])
    assert (retried.key, retried.reused_from) == (own_key, None)
    [later] = land_raw(reader, "customers", "r2", DAY, [path])
    assert (later.key, later.reused_from) == (own_key, "r1")
    assert [k for k in reader.list("raw/customers/") if k.endswith(".csv")] == [own_key]


def test_a_short_outage_is_ridden_out_by_botocore_retries(
    moto: MotoControl, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Standard retry mode with AWS_MAX_ATTEMPTS=10: jittered backoff of up to 0.05·2^i s per retry,
    about 25 s at most in all. The server is back after 0.3 s; the chance that nine retries all fall
    inside those 0.3 s is below 1e-5, so the put reliably fails at first and then succeeds."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "10")
    store = S3Store(bucket, "lake")
    attempts: list[str] = []
    store.client.meta.events.register("before-send.s3.PutObject", lambda **_: attempts.append("try"))
    store.put_bytes("warmup", b"x")
    attempts.clear()

    moto.stop()
    restart = threading.Timer(0.3, moto.start)
    restart.start()
    try:
        store.put_bytes("during-outage", b"payload")
    finally:
        restart.join()
    assert len(attempts) >= 2  # the first attempt hit the outage; a retry got through
    assert store.get_bytes("during-outage") == b"payload"


def test_without_retries_the_same_outage_fails_at_once(
    moto: MotoControl, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    store = S3Store(bucket, "lake")
    attempts: list[str] = []
    store.client.meta.events.register("before-send.s3.PutObject", lambda **_: attempts.append("try"))
    moto.stop()
    with pytest.raises(StorageError, match=r"could not store 'k'.*EndpointConnectionError") as info:
        store.put_bytes("k", b"secret-value")
    assert attempts == ["try"]
    assert "secret-value" not in str(info.value)
