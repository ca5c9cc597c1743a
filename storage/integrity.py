"""Curated data is checked against the checksum recorded at publish before anyone is served it.

A version's ``_version.json`` records its data object's size and sha256. Readers (``lockgate sql``,
``versions``, the labeling flow, view registration, a publish that finds its input unchanged) call
:func:`verify_object` first. Hashing a large object on every query would cost seconds, so after a
verified read the object's fingerprint is recorded in ``curated/<source>/_verified.json``: on a local
lake size, mtime, ctime and inode (a rewrite or a replacement changes ctime or inode, and neither can be
set back by a user), on S3 size, ETag and last-modified. A later read with the same fingerprint skips
the hash. The record is only a cache: a reader that may not write the lake hashes every time, and a
store without fingerprints (a test wrapper) is always hashed.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from storage import layout
from storage.base import StatsObjects
from storage.errors import IntegrityError, LakeNotFound, ObjectNotFound, StorageError
from storage.layout import is_s3
from storage.store import open_store

if TYPE_CHECKING:
    from datetime import datetime

    from storage.base import ObjectStore

_log = logging.getLogger(__name__)
_CHUNK = 1024 * 1024


def open_existing(location: str) -> ObjectStore:
    """The lake a read command names; a local folder that does not exist is an error, never created."""
    if not is_s3(location) and not Path(location).is_dir():
        raise LakeNotFound(f"no lake at {location}: the folder does not exist")
    return open_store(location)


class _Entry(BaseModel):
    fingerprint: str
    sha256: str


class _Verified(BaseModel):
    """``_verified.json``: data key → the fingerprint it had when it last hashed to its sha256."""

    objects: dict[str, _Entry] = Field(default_factory=dict)


def fingerprint(store: ObjectStore, key: str) -> str | None:
    """What changes whenever the object's bytes change, without reading them; None if the store has none."""
    return store.stat(key).fingerprint if isinstance(store, StatsObjects) else None


def modified_at(store: ObjectStore, key: str) -> datetime | None:
    """When the object was last written, where the store can tell without reading it."""
    return store.stat(key).modified if isinstance(store, StatsObjects) else None


def hash_object(store: ObjectStore, key: str) -> tuple[str, int]:
    """The object's sha256 and size, streamed."""
    digest, size = hashlib.sha256(), 0
    with store.open_read(key) as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify_object(
    store: ObjectStore, source: str, key: str, *, sha256: str, size: int, tags: dict[str, str]
) -> bool:
    """Raise `IntegrityError` unless the object still has its recorded size and sha256.

    Returns True when it had to be hashed, False when its fingerprint matched the last verified read.
    `tags` are those of the source's bookkeeping objects, for the cache record.
    """
    try:
        before = fingerprint(store, key)
        record = _read(store, source)
        entry = record.objects.get(key)
        if before is not None and entry == _Entry(fingerprint=before, sha256=sha256):
            return False
        actual = hash_object(store, key)
    except ObjectNotFound:
        raise IntegrityError(f"{key!r} is missing, though its version was published with it") from None
    if actual != (sha256, size):
        raise IntegrityError(
            f"{key!r} no longer matches the size and sha256 recorded when it was published "
            "(it was changed outside Lockgate)"
        )
    if before is not None and fingerprint(store, key) == before:  # unchanged while it was hashed
        _remember(store, source, record, key, _Entry(fingerprint=before, sha256=sha256), tags)
    return True


def record_written(store: ObjectStore, source: str, key: str, *, sha256: str, tags: dict[str, str]) -> None:
    """Remember an object the caller has just written from bytes it hashed itself, so that its first
    read (often the next run finding its input unchanged) needs no hash."""
    mark = fingerprint(store, key)
    if mark is not None:
        _remember(store, source, _read(store, source), key, _Entry(fingerprint=mark, sha256=sha256), tags)


def _remember(
    store: ObjectStore, source: str, record: _Verified, key: str, entry: _Entry, tags: dict[str, str]
) -> None:
    record.objects[key] = entry
    try:
        store.put_bytes(layout.verified_key(source), record.model_dump_json(indent=2).encode(), tags=tags)
    except StorageError as exc:  # a reader without write access still reads; it hashes next time too
        _log.debug("verification record of %r not written: %s", source, exc)


def _read(store: ObjectStore, source: str) -> _Verified:
    """The cache record; a missing or unreadable one is empty (everything is hashed again)."""
    try:
        return _Verified.model_validate_json(store.get_bytes(layout.verified_key(source)))
    except (StorageError, ValueError):
        return _Verified()


__all__ = ["fingerprint", "hash_object", "modified_at", "open_existing", "record_written", "verify_object"]
