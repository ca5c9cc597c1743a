"""The raw layer: what a source delivered, byte for byte, before anything parses it.

Raw objects are never overwritten, so any curated version can be traced back to (and rebuilt from) the
exact bytes it came from; their SHA-256 in the run's manifest is what proves it.

Content is stored once per source. ``raw/<source>/_index/<sha256>.json`` names the first object that
holds those bytes (its key, the run that landed it, when). A later run that receives the same bytes
stores nothing: its :class:`RawFile` points at the existing object and says which run landed it
(``reused_from``), and its manifest still lists the file, so every run explains what it saw.

Landing one file, in this order:

1. Hash the file into a private snapshot in the lake's working area (:mod:`storage.workdir`; the
   checksum is of the bytes we store, even if the source file changes meanwhile). All files of a
   landing are snapshotted before any is stored, so a full disk stops a landing before it has written
   anything into the raw layer.
2. Read the index entry. If it names an object of another landing and that object exists, reuse it:
   nothing is written.
3. Otherwise store the bytes under this run's own key (or, on a retried task, check the bytes already
   there are the same).
4. Then write the index entry, create-if-absent. If another lander got there first, keep the winner's
   entry, reuse its object when it exists, and delete nothing.

Object first, index second, is the order that never loses anything: an index entry only ever comes
into being after the object it names is completely stored, so a crash between the two leaves an
object without an entry (the next landing of those bytes stores them again and indexes them), never
an entry without an object. Deleting nothing on a lost race follows from the same rule: the loser's
copy is an unreferenced duplicate that costs bytes, whereas deleting it could remove an object a
concurrent retry of the same run is about to reference. The price is that two simultaneous first
landings of the same bytes can both store them; dedup is exact for sequential runs and safe (never
lossy) for concurrent ones. An entry can still name a missing object if someone deletes raw objects
behind the lake's back (a lifecycle rule, an operator): a landing that finds such an entry stores the
bytes under its own key first and only then replaces the entry.
"""

from __future__ import annotations

import hashlib
import posixpath
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict

from storage import layout
from storage.errors import ObjectNotFound, RawChecksumMismatch, RawError
from storage.local import LocalStore
from storage.tags import access_tags
from storage.workdir import disk_full, private_file, reporting_disk_full, step_folder

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator
    from datetime import date

    from storage.base import ObjectStore

_CHUNK = 1024 * 1024
T = TypeVar("T")


class RawFile(BaseModel):
    """One landed file: its original name, where its bytes live in the lake, and its checksum and size.

    ``reused_from`` is the run id of the earlier landing whose object already held these bytes; ``key``
    then points at that object (under that run's folder), and this run stored nothing for the file.
    It is None when this run stored the bytes itself (including a retried task of the same run).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    key: str
    sha256: str
    bytes: int
    reused_from: str | None = None


class RawIndexEntry(BaseModel):
    """Which object first held some content of a source: the checksum index's record."""

    sha256: str
    key: str
    run_id: str
    landed_at: datetime
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
    # Receipts (``erasure/<id>.json``) of the erasures that rewrote files of this landing without the
    # erased subjects' records; those files' entries then name the new objects and their checksums.
    erasures: list[str] = []


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
    sensitivity: str | None = None,
    pii: bool | None = None,
    workdir: Path | None = None,
) -> list[RawFile]:
    """Land files under ``raw/<source>/<day>/<run_id>/`` (or reuse identical earlier bytes); return them.

    Content already landed for this source is not stored again (see the module docstring for the
    order of writes that keeps this safe under crashes and concurrent landings). A key already present
    (a retried task of the same run) is accepted only if it holds the same bytes; raw objects are never
    replaced. ``sensitivity`` and ``pii`` become the objects' access tags (see :mod:`storage.tags`).
    Snapshots go to a folder in the run's working folder `workdir`, or without one, in a working folder
    of the lake's own. Running out of room raises `DiskFull` naming the file.
    """
    names = [Path(f).name for f in files]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RawError(f"cannot land {source!r}: several input files are named {', '.join(duplicates)}")
    if layout.MANIFEST_FILE in names:
        raise RawError(f"cannot land {source!r}: an input file is named {layout.MANIFEST_FILE}")
    lander = _Lander(
        store,
        source,
        run_id,
        object_tags=access_tags("raw", source, sensitivity=sensitivity, pii=pii, extra=tags),
        index_tags=access_tags("meta", source, sensitivity=sensitivity, pii=pii),
    )
    with step_folder(store, workdir, f"land-{source}-") as tmp:
        snapshots = []
        for path, name in zip(files, names, strict=True):
            with reporting_disk_full(f"landing {name} of {source}"):
                snapshots.append(_snapshot(Path(path), Path(tmp) / name))
        landed = []
        for (sha256, size, snapshot), name in zip(snapshots, names, strict=True):
            with reporting_disk_full(f"storing {name} of {source} in the raw layer"):
                key = layout.raw_key(source, day, run_id, name)
                landed.append(lander.land(RawFile(name=name, key=key, sha256=sha256, bytes=size), snapshot))
        return landed


def _snapshot(path: Path, snapshot: Path) -> tuple[str, int, Path]:
    """Copy a file into the working folder (owner-only), hashing it on the way: what is stored is what
    was hashed."""
    with path.open("rb") as src, private_file(snapshot) as out:
        sha256, size = _hash_stream(src, out)
    return sha256, size, snapshot


class _Lander:
    """One landing's context (store, source, run, tags), so each step below stays a few lines."""

    def __init__(
        self,
        store: ObjectStore,
        source: str,
        run_id: str,
        *,
        object_tags: dict[str, str],
        index_tags: dict[str, str],
    ) -> None:
        self.store, self.source, self.run_id = store, source, run_id
        self.object_tags, self.index_tags = object_tags, index_tags

    def land(self, own: RawFile, snapshot: Path) -> RawFile:
        key, sha256 = own.key, own.sha256
        index_key = layout.raw_index_key(self.source, sha256)
        try:
            entry = self._read_index(index_key)
            if entry is not None and entry.key != key and self.store.exists(entry.key):
                return own.model_copy(update={"key": entry.key, "reused_from": entry.run_id})
            stored = self._store_once(own, snapshot)
        finally:
            snapshot.unlink(missing_ok=True)  # gone when the store adopted it
        try:
            return self._index(own, entry, index_key)
        except Exception as exc:
            # On a full disk nothing names the object yet (no index entry, no manifest): remove it so
            # the failed landing leaves nothing half-made. Other failures keep it for the retry.
            if stored and disk_full(exc):
                self.store.delete(key)
            raise

    def _index(self, own: RawFile, entry: RawIndexEntry | None, index_key: str) -> RawFile:
        """Record the stored object in the checksum index, or defer to a landing that indexed it first."""
        key, sha256, size = own.key, own.sha256, own.bytes
        record = RawIndexEntry(
            sha256=sha256, key=key, run_id=self.run_id, landed_at=datetime.now(UTC), bytes=size
        ).model_dump_json(indent=2)
        if entry is None:
            if self.store.put_bytes_if_absent(index_key, record.encode(), tags=self.index_tags):
                return own
            # Another landing indexed the same bytes between our read and our write: it won.
            entry = self._read_index(index_key)
            if entry is None or entry.key == key:
                return own
            if self.store.exists(entry.key):
                return own.model_copy(update={"key": entry.key, "reused_from": entry.run_id})
        elif entry.key == key:
            return own  # our own earlier attempt indexed it
        # The entry names an object that is gone; ours is stored now, so point the entry at it.
        self.store.put_bytes(index_key, record.encode(), tags=self.index_tags)
        return own

    def _read_index(self, index_key: str) -> RawIndexEntry | None:
        try:
            return RawIndexEntry.model_validate_json(self.store.get_bytes(index_key))
        except ObjectNotFound:
            return None

    def _store_once(self, raw: RawFile, snapshot: Path) -> bool:
        """Store the snapshot under the file's own key (True), or accept identical bytes already there."""
        try:
            if not self.store.exists(raw.key):
                if isinstance(self.store, LocalStore):  # the snapshot is ours: move it, don't copy it
                    self.store.adopt_file(raw.key, snapshot, tags=self.object_tags)
                else:
                    self.store.put_file(raw.key, snapshot, tags=self.object_tags)
                return True
            verify_raw(self.store, raw)
        except RawChecksumMismatch:
            raise RawError(
                f"raw object {raw.key!r} already exists with other bytes; it is never replaced"
            ) from None
        return False


def _manifest_key(manifest: RawManifest) -> str:
    """The manifest goes beside the files this run stored; with none (all reused), under the run's day.

    Reused files live in the folders of the runs that first landed them, so only the files this run
    stored itself say where its folder is.
    """
    source_prefix = layout.source_raw_prefix(manifest.source)
    for f in manifest.files:
        if not f.key.startswith(source_prefix) or f.key.startswith(layout.raw_index_prefix(manifest.source)):
            raise RawError(f"raw key {f.key!r} in the manifest is not a raw object of {manifest.source!r}")
    own = [f for f in manifest.files if f.reused_from in (None, manifest.run_id)]
    if not own:
        return layout.manifest_key(manifest.source, manifest.landed_at.date(), manifest.run_id)
    folders = {posixpath.dirname(f.key) for f in own}
    if len(folders) != 1:
        raise RawError(f"manifest of {manifest.source!r} run {manifest.run_id!r} spans several folders")
    key = f"{folders.pop()}/{layout.MANIFEST_FILE}"
    if f"/{manifest.run_id}/" not in key:
        raise RawError(f"manifest key {key!r} is not under {manifest.source!r} run {manifest.run_id!r}")
    return key


def write_manifest(
    store: ObjectStore,
    manifest: RawManifest,
    *,
    sensitivity: str | None = None,
    pii: bool | None = None,
) -> str:
    """Write the run's manifest once and return its key; rewriting the same content is a no-op.

    Manifests are part of the immutable raw layer, so a different manifest for the same run fails.
    They are tagged ``layer=raw`` with the source's classification, not ``meta``: ``read_error`` is a
    parser's message and may quote a data value.
    """
    key = _manifest_key(manifest)
    data = manifest.model_dump_json(indent=2).encode()
    tags = access_tags("raw", manifest.source, sensitivity=sensitivity, pii=pii)
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


@contextmanager
def verified_local_copies(
    store: ObjectStore, raw: list[RawFile], workdir: Path | None = None
) -> Iterator[list[Path]]:
    """Local files holding the raw objects, each checked against its landing checksum.

    On a local lake these are the objects themselves (hashed in place); on S3 each object is streamed
    once into a private file of the working folder (see `land_raw`) and hashed on the way, so it is
    never downloaded twice.
    """
    in_place = [Path(store.uri(f.key)) for f in raw]
    if all(path.is_file() for path in in_place):
        for f in raw:
            verify_raw(store, f)
        yield in_place
        return
    with step_folder(store, workdir, "raw-") as tmp:
        paths = []
        for f in raw:
            path = Path(tmp) / f.name
            with (
                reporting_disk_full(f"copying {f.key} to the working folder"),
                store.open_read(f.key) as stream,
                private_file(path) as sink,
            ):
                actual, _size = _hash_stream(stream, sink)
            if actual != f.sha256:
                raise RawChecksumMismatch(f.key, f.sha256, actual)
            paths.append(path)
        yield paths


def read_verified(
    store: ObjectStore,
    raw: list[RawFile],
    read: Callable[[list[Path]], T],
    workdir: Path | None = None,
    *,
    landed_now: Collection[str] = (),
) -> T:
    """``read(paths)`` of the raw objects' local copies, returned only if every checksum matches.

    On a local lake the objects are hashed in a second thread while `read` parses them (hashlib and
    the parsers release the GIL, and the bytes come from the page cache): verifying no longer adds its
    own pass to the read (measured: 0.9 s of the benchmark's 5M-row read). What `read` returned is
    dropped when a checksum fails, so nothing unverified goes further; elsewhere this is
    `verified_local_copies`, which verifies before `read` starts.

    `landed_now` names the keys the calling run stored itself a moment ago: their checksum was taken in
    the landing's own copy pass, so a local lake does not hash them a second time. Objects of earlier
    runs (reused content) are always verified; on S3 every object is hashed as it downloads anyway.
    """
    in_place = [Path(store.uri(f.key)) for f in raw]
    if not all(path.is_file() for path in in_place):
        with verified_local_copies(store, raw, workdir) as paths:
            return read(paths)
    earlier = [f for f in raw if f.key not in landed_now]
    if not earlier:
        return read(in_place)

    def verify_all() -> None:
        for f in earlier:
            verify_raw(store, f)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lockgate-verify") as pool:
        checks = pool.submit(verify_all)
        try:
            result = read(in_place)
        finally:
            checks.result()  # a mismatch raises here, before the result is handed on
    return result


def raw_history(store: ObjectStore, source: str) -> list[RawManifest]:
    """Every landing of the source that wrote a manifest, oldest first: what arrived, when, from where.

    It reads every manifest of the source, which is fine at daily-batch scale. Runs that crashed
    before their manifest are not listed (their objects are, in the index and under their folder).
    """
    manifests: list[RawManifest] = []
    for key in store.list(layout.source_raw_prefix(source)):
        if posixpath.basename(key) != layout.MANIFEST_FILE:
            continue
        try:
            manifests.append(read_manifest(store, key))
        except ObjectNotFound:  # deleted between list and read
            continue
    return sorted(manifests, key=lambda m: m.landed_at)


def find_landed(store: ObjectStore, source: str, sha256s: list[str]) -> list[RawManifest]:
    """Earlier landings of this source with exactly these file checksums (any order), oldest first.

    Lets a run recognise a whole delivery it has already seen; for single files the checksum index
    (:func:`indexed`) answers with one read.
    """
    wanted = sorted(sha256s)
    return [m for m in raw_history(store, source) if sorted(f.sha256 for f in m.files) == wanted]


def indexed(store: ObjectStore, source: str, sha256: str) -> RawIndexEntry | None:
    """Where the source's bytes with this checksum were first stored, or None if they never were."""
    try:
        return RawIndexEntry.model_validate_json(store.get_bytes(layout.raw_index_key(source, sha256)))
    except ObjectNotFound:
        return None


__all__ = [
    "RawFile",
    "RawIndexEntry",
    "RawManifest",
    "find_landed",
    "indexed",
    "land_raw",
    "raw_history",
    "read_manifest",
    "verify_raw",
    "write_manifest",
]
