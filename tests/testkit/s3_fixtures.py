"""Pytest fixtures for a real S3-protocol server (moto) on loopback, shared by every test folder."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import boto3
import pytest

from testkit.aws import point_aws_at, start_s3_server

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from botocore.client import BaseClient


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server, endpoint = start_s3_server()
    yield endpoint
    server.stop()


@pytest.fixture
def aws_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Point boto3 (and the warehouse's DuckDB secret) at the test server, and nowhere else."""
    point_aws_at(s3_endpoint, monkeypatch, tmp_path)
    return s3_endpoint


@pytest.fixture
def s3_client(aws_env: str) -> BaseClient:
    return boto3.client("s3")


@pytest.fixture
def bucket(s3_client: BaseClient) -> str:
    name = f"lockgate-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name
