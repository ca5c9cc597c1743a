"""Faults at the storage level: outages of the S3 endpoint, writers that die or lose a race.

Raw-layer tests run on the S3 backend against a moto server each test owns and can stop (`moto`).
Stopping the server is a real outage for the client: werkzeug closes the listening socket, so every
new connection is refused (botocore's EndpointConnectionError). Starting a new server on the same
port is the recovery: moto keeps buckets in this process's module-level backends, not in the server
object, so the data is still there. Where a test needs the outage at an exact moment, FaultyStore
stops the server just before a chosen key is written.

That server runs in this process, and delta-rs keeps the GIL while it waits on some S3 calls, so the
curated (Delta table) tests use other means: the session's S3 server (its own process) or a local
lake, with the fault injected at a key Lockgate itself writes, a competing writer, or an endpoint
nobody listens on.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
import uuid
from datetime import date
from typing import TYPE_CHECKING, Protocol

import boto3
import polars as pl
import pytest
from testkit.aws import point_aws_at

from storage import layout
from storage.curated import Published, dataset_versions, list_versions, publish, read_current
from storage.errors import RawChecksumMismatch, StorageError
from storage.raw import land_raw, verify_raw
from storage.release import ReleaseParts
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
REPORT = b'{"alpha": 0.91}'
REPORT_KEY = layout.curated_attachment_key("customers", hashlib.sha256(REPORT).hexdigest(), "agreement.json")


@pytest.fixture
def outage_bucket(moto: MotoControl) -> str:
    """A bucket on the server the test can stop (for raw-layer faults only: see the module docstring)."""
    name = f"faults-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def _publish(
    store: ObjectStore,
    frame: pl.DataFrame,
    run_id: str,
    inputs: list[str],
    *,
    mode: str = "overwrite",
    attachments: dict[str, bytes] | None = None,
) -> Published:
    release = ReleaseParts(
        inputs=inputs,
        contract_id="customers",
        contract_version="1.0.0",
        contract_sha256="c" * 64,
        code_version="0.1.0",
    )
    return publish(
        store,
        "customers",
        frame,
        release=release,
        run_id=run_id,
        masked_columns={"email": "hash"},
        mode=mode,  # type: ignore[arg-type]
        merge_keys=["id"],
        attachments=attachments,
    )


# Curated tables.


def test_a_publish_that_fails_before_its_commit_adds_no_version_and_its_retry_converges(
    store: ObjectStore, inject_fault: InjectFault
) -> None:
    """The attachment is stored before the commit: a failure there leaves the table as it was."""
    _publish(store, FRAME_1, "r1", ["a" * 64])

    def crash() -> None:
        raise StorageError("killed while writing the agreement report")

    faulty = inject_fault(store, REPORT_KEY, crash)
    with pytest.raises(StorageError, match="killed"):
        _publish(faulty, FRAME_2, "r2", ["b" * 64], attachments={"agreement.json": REPORT})
    assert [v.version for v in list_versions(store, "customers")] == [0]
    assert read_current(store, "customers").equals(FRAME_1)

    retried = _publish(store, FRAME_2, "r2", ["b" * 64], attachments={"agreement.json": REPORT})
    assert (retried.changed, retried.version.version) == (True, 1)
    assert store.get_bytes(retried.version.attachment_key("agreement.json")) == REPORT
    again = _publish(store, FRAME_2, "r3", ["b" * 64], attachments={"agreement.json": REPORT})
    assert (again.changed, again.version.version, again.version.run_id) == (False, 1, "r2")
    assert read_current(store, "customers").equals(FRAME_2)


def test_a_merge_that_loses_the_commit_race_fails_cleanly_and_its_retry_converges(
    store: ObjectStore, inject_fault: InjectFault
) -> None:
    """Another writer commits between this merge's read of the table and its commit: Delta refuses the
    commit (the rows it read changed), nothing of it is visible, and the retry applies on the new data."""
    _publish(store, FRAME_1, "r1", ["a" * 64], mode="merge")

    def competitor() -> None:
        changed = pl.DataFrame({"id": [3, 4], "email": ["h3-new", "h4"]})
        _publish(store, changed, "r2", ["a" * 64, "b" * 64], mode="merge")

    late = pl.DataFrame({"id": [4, 5], "email": ["h4-late", "h5"]})
    faulty = inject_fault(store, REPORT_KEY, competitor)
    with pytest.raises(StorageError, match=r"changed by another writer while publishing.*retry the publish"):
        _publish(
            faulty, late, "r3", ["a" * 64, "c" * 64], mode="merge", attachments={"agreement.json": REPORT}
        )
    assert [(v.version, v.run_id) for v in list_versions(store, "customers")] == [(0, "r1"), (1, "r2")]

    retried = _publish(store, late, "r3", ["a" * 64, "c" * 64], mode="merge")
    assert (retried.version.version, retried.version.rows) == (2, 5)
    rows = read_current(store, "customers").sort("id")
    assert rows["email"].to_list() == ["h1", "h2", "h3-new", "h4-late", "h5"]


def test_an_unreachable_endpoint_is_a_storage_error_naming_the_dataset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """delta-rs reports object-store failures as OSError, with coloured cause lines: people get one
    line with the innermost cause, and callers an expected error, never a traceback."""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    point_aws_at(f"http://127.0.0.1:{port}", monkeypatch, tmp_path)
    store = S3Store("nowhere", "lake")
    started = time.monotonic()
    with pytest.raises(StorageError, match="could not open the curated table of 'customers'") as info:
        dataset_versions(store, "customers")
    assert time.monotonic() - started < 60
    message = str(info.value)
    assert message.endswith("Connection refused (os error 111)")
    assert "\n" not in message and "\x1b" not in message
    with pytest.raises(StorageError, match="could not open the curated table of 'customers'"):
        _publish(store, FRAME_1, "r1", ["a" * 64])


# The raw layer, against a server the test stops and starts.


def test_a_corrupted_raw_object_is_detected_also_through_dedup(
    moto: MotoControl, outage_bucket: str, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(b"id,name\r\n1,a\r\n")
    store = S3Store(outage_bucket, "lake")
    [landed] = land_raw(store, "customers", "r1", DAY, [path])
    boto3.client("s3").put_object(
        Bucket=outage_bucket, Key=f"lake/{landed.key}", Body=b"id,name\r\n1,tampered\r\n"
    )

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
    moto: MotoControl,
    outage_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    inject_fault: InjectFault,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    path = tmp_path / "customers.csv"
    path.write_bytes(b"id\r\n1\r\n")
    store = S3Store(outage_bucket, "lake")
    [probe] = land_raw(store, "probe", "r0", DAY, [path])  # only to learn the checksum
    index_key = layout.raw_index_key("customers", probe.sha256)

    with pytest.raises(StorageError, match="EndpointConnectionError"):
        land_raw(
            inject_fault(S3Store(outage_bucket, "lake"), index_key, moto.stop), "customers", "r1", DAY, [path]
        )
    moto.start()
    reader = S3Store(outage_bucket, "lake")
    own_key = layout.raw_key("customers", DAY, "r1", "customers.csv")
    assert reader.exists(own_key)
    assert not reader.exists(index_key)
    [retried] = land_raw(reader, "customers", "r1", DAY, [path])
    assert (retried.key, retried.reused_from) == (own_key, None)
    [later] = land_raw(reader, "customers", "r2", DAY, [path])
    assert (later.key, later.reused_from) == (own_key, "r1")
    assert [k for k in reader.list("raw/customers/") if k.endswith(".csv")] == [own_key]


def test_a_short_outage_is_ridden_out_by_botocore_retries(
    moto: MotoControl, outage_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Standard retry mode with AWS_MAX_ATTEMPTS=10: jittered backoff of up to 0.05·2^i s per retry,
    about 25 s at most in all. The server is back after 0.3 s; the chance that nine retries all fall
    inside those 0.3 s is below 1e-5, so the put reliably fails at first and then succeeds."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "10")
    store = S3Store(outage_bucket, "lake")
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
    moto: MotoControl, outage_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    store = S3Store(outage_bucket, "lake")
    attempts: list[str] = []
    store.client.meta.events.register("before-send.s3.PutObject", lambda **_: attempts.append("try"))
    moto.stop()
    with pytest.raises(StorageError, match=r"could not store 'k'.*EndpointConnectionError") as info:
        store.put_bytes("k", b"secret-value")
    assert attempts == ["try"]
    assert "secret-value" not in str(info.value)
