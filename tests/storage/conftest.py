"""Fixtures for the storage tests: every store test runs on a local directory and on a real S3 server.

The S3 server is moto's, started once per session on loopback; each test gets its own bucket and an
AWS configuration pointing at it through the standard environment variables, as production would.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pytest
from moto.server import ThreadedMotoServer
from testkit.aws import TEST_SECRET, point_aws_at

from storage import layout
from storage.store import ObjectStore, open_store

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from botocore.client import BaseClient

SECRET = TEST_SECRET


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A lake location string, as the flow receives it: a directory, or s3://bucket/prefix."""
    if request.param == "local":
        return str(tmp_path / "lake")
    return f"s3://{request.getfixturevalue('bucket')}/lake"


@pytest.fixture
def warehouse(lake: str, tmp_path: Path) -> Path:
    """The lake's DuckDB warehouse; an S3 lake's in the test's folder (the LOCKGATE_WAREHOUSE setting)."""
    return layout.warehouse_path(lake, str(tmp_path / "warehouse.duckdb"))


@pytest.fixture
def store(lake: str) -> ObjectStore:
    return open_store(lake)


@pytest.fixture
def overwrite(lake: str, s3_client_if_s3: BaseClient | None) -> Callable[[str, bytes], None]:
    """Replace an object's bytes behind the store's back (as a disk fault or a rogue writer would)."""

    def write(key: str, data: bytes) -> None:
        if lake.startswith("s3://"):
            bucket, _, prefix = lake.removeprefix("s3://").partition("/")
            assert s3_client_if_s3 is not None
            s3_client_if_s3.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=data)
        else:
            (Path(lake) / key).write_bytes(data)

    return write


@pytest.fixture
def s3_client_if_s3(lake: str, request: pytest.FixtureRequest) -> BaseClient | None:
    return request.getfixturevalue("s3_client") if lake.startswith("s3://") else None


@pytest.fixture
def object_tags(lake: str, s3_client_if_s3: BaseClient | None) -> Callable[[str], dict[str, str]]:
    """An object's tags read straight from the server (get_object_tagging), not through our store."""

    def read(key: str) -> dict[str, str]:
        if s3_client_if_s3 is None:
            return {}
        bucket, _, prefix = lake.removeprefix("s3://").partition("/")
        tag_set = s3_client_if_s3.get_object_tagging(Bucket=bucket, Key=f"{prefix}/{key}")["TagSet"]
        return {t["Key"]: t["Value"] for t in tag_set}

    return read


class FaultyStore:
    """A fault injector around a real store: before writing `key`, run `fault` once (raise, stop the
    server, let a competitor write...). Every call still goes to the real backend; nothing is faked."""

    def __init__(self, inner: ObjectStore, key: str, fault: Callable[[], None]) -> None:
        self.inner, self.key, self.fault = inner, key, fault
        self.fired = False

    def _before(self, key: str) -> None:
        if key == self.key and not self.fired:
            self.fired = True
            self.fault()

    def put_file(self, key: str, path: Path, *, tags: dict[str, str] | None = None) -> None:
        self._before(key)
        self.inner.put_file(key, path, tags=tags)

    def put_bytes(self, key: str, data: bytes, *, tags: dict[str, str] | None = None) -> None:
        self._before(key)
        self.inner.put_bytes(key, data, tags=tags)

    def put_bytes_if_absent(self, key: str, data: bytes, *, tags: dict[str, str] | None = None) -> bool:
        self._before(key)
        return self.inner.put_bytes_if_absent(key, data, tags=tags)

    def get_bytes(self, key: str) -> bytes:
        return self.inner.get_bytes(key)

    def download(self, key: str, path: Path) -> None:
        self.inner.download(key, path)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def list(self, prefix: str) -> list[str]:
        return self.inner.list(prefix)

    def uri(self, key: str) -> str:
        return self.inner.uri(key)

    def open_read(self, key: str) -> IO[bytes]:
        return self.inner.open_read(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def tags(self, key: str) -> dict[str, str]:
        return self.inner.tags(key)

    def table_options(self) -> dict[str, str]:
        """Delta Lake writes through its own client: faults can only be injected at our own keys."""
        return self.inner.table_options()


@pytest.fixture
def inject_fault() -> Callable[[ObjectStore, str, Callable[[], None]], ObjectStore]:
    """Wrap a real store so that `fault` runs once just before `key` is written."""
    return FaultyStore


class MotoControl:
    """A moto S3 server of one test's own, which the test can stop and start again on the same port.

    moto keeps its buckets in module-level backends of this process, not in the server object, so a
    new server on the same port serves the same data: to clients this is an endpoint outage and
    recovery, which is exactly what the fault tests need.
    """

    def __init__(self) -> None:
        self.server: ThreadedMotoServer | None = ThreadedMotoServer(
            ip_address="127.0.0.1", port=0, verbose=False
        )
        self.server.start()
        self.host, self.port = self.server.get_host_and_port()

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Werkzeug closes the listening socket when serving stops: new connections are refused."""
        if self.server is not None:
            self.server.stop()
            self.server = None

    def start(self) -> None:
        # ThreadedMotoServer.start() waits forever if its bind fails, so wait for the port to be free.
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((self.host, self.port))
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        self.server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self.server.start()


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[MotoControl]:
    """A dedicated S3 server, with the standard AWS variables pointing at it.

    For object-store faults only (raw layer, our own keys): it runs in this process, and delta-rs keeps
    the GIL while it waits on some S3 calls, so a Delta table call against it can deadlock.
    """
    control = MotoControl()
    point_aws_at(control.endpoint, monkeypatch, tmp_path)
    yield control
    control.stop()
