"""Real servers for the connector tests: a throw-away PostgreSQL database and moto's S3 on loopback.

PostgreSQL runs on 127.0.0.1:5432 with trust auth for user postgres (here and in CI); each session
gets its own database, dropped at the end even if a connection was left open. The S3 fixtures copy
tests/storage/conftest.py's pattern (test folders do not import each other): boto3 is pointed at
the server through the standard environment variables, as production would be.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg import sql
from testkit.aws import TEST_SECRET
from testkit.postgres import temporary_database

if TYPE_CHECKING:
    from collections.abc import Iterator


S3_SECRET = TEST_SECRET


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """DSN (URL form) of a fresh database, dropped after the session."""
    with temporary_database() as dsn:
        yield dsn


@pytest.fixture
def pg(pg_dsn: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test database, for setting up tables."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def pg_schema(pg: psycopg.Connection) -> Iterator[str]:
    """A schema of the test's own, so tests never see each other's tables."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    pg.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    yield name
    pg.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[None]:
    """A real (temporary) Prefect API, for Secret blocks."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
