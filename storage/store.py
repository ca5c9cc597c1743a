"""One object-store interface for the lake, and the one place that turns a location string into a store.

The layers (raw, curated) and the flow only see :class:`ObjectStore`, so the same code runs against a
local directory in tests and demos and against S3 or any S3-compatible service in production.
"""

from __future__ import annotations

from pathlib import Path

from storage.base import ObjectStore
from storage.errors import InvalidKey, ObjectNotFound, StorageError
from storage.layout import is_s3
from storage.local import LocalStore
from storage.s3 import S3Store

__all__ = [
    "InvalidKey",
    "LocalStore",
    "ObjectNotFound",
    "ObjectStore",
    "S3Store",
    "StorageError",
    "open_store",
]


def open_store(location: str) -> ObjectStore:
    """``s3://bucket[/prefix]`` → S3Store (standard AWS configuration); anything else → a local directory."""
    if is_s3(location):
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        if not bucket:
            raise StorageError(f"no bucket in lake location {location!r}")
        return S3Store(bucket, prefix)
    return LocalStore(Path(location))
