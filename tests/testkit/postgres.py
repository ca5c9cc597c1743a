"""A throw-away database on the PostgreSQL server at 127.0.0.1:5432 (trust auth), here and in CI."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@contextmanager
def temporary_database(prefix: str = "lockgate_test", extensions: Sequence[str] = ()) -> Iterator[str]:
    """Create a fresh database (with `extensions` installed) and yield its URL; drop it afterwards, even
    with connections left open."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        if extensions:
            with psycopg.connect(url, autocommit=True) as db:
                for extension in extensions:
                    db.execute(sql.SQL("CREATE EXTENSION {}").format(sql.Identifier(extension)))
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
