"""Fixtures for the storage tests: every store test runs on a local directory and on a real S3 server.

The S3 server is moto's, started once per session on loopback; each test gets its own bucket and an
AWS configuration pointing at it through the standard environment variables, as production would.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from moto.server import ThreadedMotoServer

from storage.store import ObjectStore, open_store

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from botocore.client import BaseClient

SECRET = "lockgate-test-secret-0123456789"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Point boto3 (and the warehouse's DuckDB secret) at the test server, and nowhere else."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return s3_endpoint


@pytest.fixture
def s3_client(aws_env: str) -> BaseClient:
    return boto3.client("s3")


@pytest.fixture
def bucket(s3_client: BaseClient) -> str:
    name = f"lockgate-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A lake location string, as the flow receives it: a directory, or s3://bucket/prefix."""
    if request.param == "local":
        return str(tmp_path / "lake")
    monkeypatch.setenv("LOCKGATE_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    return f"s3://{request.getfixturevalue('bucket')}/lake"


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
