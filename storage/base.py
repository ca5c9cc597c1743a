"""The object-store contract both backends honour, its errors, and the key rules they share.

Keys are checked the same way on both backends, so a key that works on a laptop's local lake
works unchanged on S3 (and the other way round).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Protocol, runtime_checkable

from storage.errors import InvalidKey

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

# Temporary files of the local backend start with this; no key segment may, so they never list as objects.
TEMP_MARKER = ".lockgate-tmp-"


def check_key(key: str) -> str:
    """Refuse absolute keys, ``..``/empty segments and backslashes: a key must stay inside the lake."""
    if not key or key.startswith("/") or key.endswith("/"):
        raise InvalidKey(f"invalid key {key!r}: keys are relative and name an object, not a folder")
    for part in key.split("/"):
        if part in {"", ".", ".."} or "\\" in part or "\x00" in part or part.startswith(TEMP_MARKER):
            raise InvalidKey(f"invalid key {key!r}: segment {part!r} is not allowed")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: empty, a folder (ending in ``/``) or the start of a key, with the same rules."""
    if prefix:
        check_key(prefix.removesuffix("/"))
    return prefix


class ObjectStore(Protocol):
    """A flat key → bytes store with ``/``-separated keys; the lake layers are built only on this."""

    def put_file(self, key: str, path: Path, *, tags: dict[str, str] | None = None) -> None:
        """Store a local file under key, replacing any object there; readers see old or new, never half."""
        ...

    def put_bytes(self, key: str, data: bytes, *, tags: dict[str, str] | None = None) -> None:
        """Store bytes under key, replacing any object there (atomically, as put_file)."""
        ...

    def put_bytes_if_absent(self, key: str, data: bytes, *, tags: dict[str, str] | None = None) -> bool:
        """Store bytes only if the key is free; False when an object was already there (left untouched)."""
        ...

    def get_bytes(self, key: str) -> bytes:
        """The object's bytes; ObjectNotFound when missing."""
        ...

    def download(self, key: str, path: Path) -> None:
        """Copy the object to a local file (parents created); ObjectNotFound when missing."""
        ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[str]:
        """Keys starting with prefix, sorted."""
        ...

    def uri(self, key: str) -> str:
        """Where other tools (polars, DuckDB) find the object: an absolute path or ``s3://bucket/key``."""
        ...

    def open_read(self, key: str) -> IO[bytes]:
        """A binary stream of the object, for hashing or parsing without loading it whole."""
        ...

    def delete(self, key: str) -> None:
        """Remove an object if present; for tests and temp-object cleanup only (the lake is append-only)."""
        ...

    def table_options(self) -> dict[str, str]:
        """The storage options Delta Lake (delta-rs) needs to read and write tables in this store."""
        ...

    def tags(self, key: str) -> dict[str, str]:
        """The object's tags (an S3 feature; the local backend keeps none and returns {})."""
        ...


@dataclass(frozen=True)
class ObjectStat:
    """What a store knows of an object without reading it."""

    fingerprint: str  # changes whenever the bytes change (size, times, identity or ETag)
    modified: datetime  # when it was last written, UTC
    size: int  # bytes


@runtime_checkable
class StatsObjects(Protocol):
    """A store that can describe an object without reading it; both backends can, wrappers may not."""

    def stat(self, key: str) -> ObjectStat:
        """The object's `ObjectStat`; raises `ObjectNotFound` when it is absent."""
        ...


@runtime_checkable
class TagsObjects(Protocol):
    """A store that can (re)tag an object written by another library (Delta Lake's data files); S3 can."""

    def set_tags(self, key: str, tags: dict[str, str]) -> None:
        """Replace the object's tags; raises `ObjectNotFound` when it is absent."""
        ...
