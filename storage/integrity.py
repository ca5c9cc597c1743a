"""What the lake knows about its objects without trusting them: existence of a lake, fingerprints, hashes.

Raw objects are verified against the sha256 of their landing (:mod:`storage.raw`); curated tables
against the file sizes their Delta log recorded (:func:`storage.curated.check_current`). This module
holds what both need: opening a lake that must exist (reads never create one), and describing or
hashing an object.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from storage.base import StatsObjects
from storage.errors import LakeNotFound
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


__all__ = ["fingerprint", "hash_object", "modified_at", "open_existing"]
