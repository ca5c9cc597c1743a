"""The raw layer: what a source delivered, byte for byte, before anything parses it.

Raw objects are never overwritten, so any curated version can be traced back to (and rebuilt from) the
exact bytes it came from; their SHA-256 in the run's manifest is what proves it.
"""

from __future__ import annotations

import hashlib
import posixpath
import tempfile
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from storage import layout
from storage.base import ObjectNotFound, ObjectStore, StorageError

if TYPE_CHECKING:
    from datetime import date

_CHUNK = 1024 * 1024


class RawError(StorageError):
    """The raw layer refused an operation that would break its byte-for-byte promise."""


class RawChecksumMismatch(RawError):  # noqa: N818 - the name says what was found
    """A raw object's bytes no longer hash to the checksum recorded when it landed."""

    def __init__(self, key: str, expected: str, actual: str) -> None:
        self.key, self.expected, self.actual = key, expected, actual
        super().__init__(f"raw object {key!r} is corrupted: sha256 {actual} but {expected} was recorded")

    def __reduce__(self) -> tuple[type[RawChecksumMismatch], tuple[str, str, str]]:
        return (RawChecksumMismatch, (self.key, self.expected, self.actual))


class RawFile(BaseModel):
    """One landed file: its original name, where it lives in the lake, and its checksum and size."""

    model_config = ConfigDict(frozen=True)

    name: str
    key: str
    sha256: str
    bytes: int


class RawManifest(BaseModel):
    """What one run landed for one source, written beside the files so the landing explains itself."""

    source: str
    run_id: str
    landed_at: datetime
    files: list[RawFile]
    rows: int | None = None
    read_error: str | None = None
    passport: dict[str, Any] = {}


def _hash_stream(stream: IO[bytes], sink: IO[bytes] | None = None) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink.write(chunk)
    return digest.hexdigest(), size


def land_raw(
    store: ObjectStore,
    source: str,
    run_id: str,
    day: date,
    files: list[Path],
    *,
    tags: dict[str, str] | None = None,
) -> list[RawFile]:
    """Land files under ``raw/<source>/<day>/<run_id>/`` and return their checksums.

    Each file is first copied to a private snapshot while hashing, and the snapshot is what gets
    stored: the recorded checksum is then that of the stored bytes even if the source file changes
    meanwhile. A key already present (a retried task of the same run) is accepted only if it holds
    the same bytes; raw objects are never replaced.
    """
    names = [Path(f).name for f in files]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RawError(f"cannot land {source!r}: several input files are named {', '.join(duplicates)}")
    if layout.MANIFEST_FILE in names:
        raise RawError(f"cannot land {source!r}: an input file is named {layout.MANIFEST_FILE}")
    object_tags = {"layer": "raw", "source": source, **(tags or {})}
    with tempfile.TemporaryDirectory(prefix="lockgate-land-") as tmp:
        return [
            _land_one(
                store, Path(path), layout.raw_key(source, day, run_id, name), Path(tmp) / name, object_tags
            )
            for path, name in zip(files, names, strict=True)
        ]


def _land_one(store: ObjectStore, path: Path, key: str, snapshot: Path, tags: dict[str, str]) -> RawFile:
    with path.open("rb") as src, snapshot.open("wb") as out:
        sha256, size = _hash_stream(src, out)
    raw = RawFile(name=path.name, key=key, sha256=sha256, bytes=size)
    try:
        if not store.exists(key):
            store.put_file(key, snapshot, tags=tags)
        else:
            verify_raw(store, raw)
    except RawChecksumMismatch:
        raise RawError(f"raw object {key!r} already exists with other bytes; it is never replaced") from None
    finally:
        snapshot.unlink()
    return raw


def _manifest_key(manifest: RawManifest) -> str:
    """The manifest goes beside the run's files; with no files, under the landing day's run prefix."""
    if not manifest.files:
        return layout.manifest_key(manifest.source, manifest.landed_at.date(), manifest.run_id)
    folders = {posixpath.dirname(f.key) for f in manifest.files}
    if len(folders) != 1:
        raise RawError(f"manifest of {manifest.source!r} run {manifest.run_id!r} spans several folders")
    key = f"{folders.pop()}/{layout.MANIFEST_FILE}"
    if not key.startswith(layout.source_raw_prefix(manifest.source)) or f"/{manifest.run_id}/" not in key:
        raise RawError(f"manifest key {key!r} is not under {manifest.source!r} run {manifest.run_id!r}")
    return key


def write_manifest(store: ObjectStore, manifest: RawManifest) -> str:
    """Write the run's manifest once and return its key; rewriting the same content is a no-op.

    Manifests are part of the immutable raw layer, so a different manifest for the same run fails.
    """
    key = _manifest_key(manifest)
    data = manifest.model_dump_json(indent=2).encode()
    tags = {"layer": "raw", "source": manifest.source}
    if not store.put_bytes_if_absent(key, data, tags=tags) and read_manifest(store, key) != manifest:
        raise RawError(f"manifest {key!r} already exists with different content; raw manifests are immutable")
    return key


def read_manifest(store: ObjectStore, key: str) -> RawManifest:
    return RawManifest.model_validate_json(store.get_bytes(key))


def verify_raw(store: ObjectStore, raw: RawFile) -> None:
    """Re-hash the stored object; raise RawChecksumMismatch if it no longer matches its landing."""
    with store.open_read(raw.key) as stream:
        actual, _size = _hash_stream(stream)
    if actual != raw.sha256:
        raise RawChecksumMismatch(raw.key, raw.sha256, actual)


def find_landed(store: ObjectStore, source: str, sha256s: list[str]) -> list[RawManifest]:
    """Earlier landings of this source with exactly these file checksums (any order), oldest first.

    Lets a run recognise input it has already seen. It reads every manifest of the source, which is
    fine at daily-batch scale; an index object would be the next step if that grows.
    """
    wanted = sorted(sha256s)
    found: list[RawManifest] = []
    for key in store.list(layout.source_raw_prefix(source)):
        if posixpath.basename(key) != layout.MANIFEST_FILE:
            continue
        try:
            manifest = read_manifest(store, key)
        except ObjectNotFound:  # deleted between list and read
            continue
        if sorted(f.sha256 for f in manifest.files) == wanted:
            found.append(manifest)
    return sorted(found, key=lambda m: m.landed_at)


__all__ = [
    "RawChecksumMismatch",
    "RawError",
    "RawFile",
    "RawManifest",
    "find_landed",
    "land_raw",
    "read_manifest",
    "verify_raw",
    "write_manifest",
]
