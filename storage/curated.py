"""The curated layer: immutable, numbered versions of each dataset and one pointer to the current one.

A version is written completely (data, then its ``_version.json``) before ``_current.json`` moves to it,
so a reader following the pointer never sees a half-written version, and a rollback is one pointer
write. Versions are claimed with create-if-absent writes, so two concurrent publishers of the same
source cannot overwrite each other: the loser gets an error and its task retries on the next number.

The pointer and its history of moves (one immutable event per move) live in :mod:`storage.pointer`.
Data is verified against the checksum in its ``_version.json`` before it is served or trusted as
unchanged (:mod:`storage.integrity`): a current version whose data changed behind Lockgate's back is
published again from the same input rather than reported "unchanged".

Publishing compares only with the *current* version. After a rollback, input identical to the current
version returns it unchanged; input identical to a newer, rolled-back version makes a new version
with a new number rather than silently moving the pointer back to what an operator rolled away from.
Moving forward again is an explicit :func:`set_current`. (So if a source keeps delivering the
rejected bytes, each run publishes them again: stopping that belongs upstream or in the contract.)

Crash recovery. A publish that dies after writing a complete version but before the pointer leaves a
version that was never current. The next publish of the same input adopts it (same inputs, same
Parquet checksum, stored bytes verified) instead of writing a duplicate; any other orphan, complete or
not, is skipped. Numbers are never reused: each is claimed under ``_claims/`` before anything is
written in its folder, and the claim outlives the folder if ``lockgate lake check`` removes it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypedDict

import polars as pl
from pydantic import BaseModel, Field

from storage import layout
from storage.errors import CorruptMetadata, IntegrityError, ObjectNotFound, StorageError, UnknownVersion
from storage.integrity import open_existing, record_written, verify_object
from storage.layout import is_s3
from storage.pointer import CurrentChange, Pointer, history, move_pointer, read_pointer, record_missing_event
from storage.tags import access_tags

if TYPE_CHECKING:
    from storage.base import ObjectStore

_log = logging.getLogger(__name__)
_CHUNK = 1024 * 1024


class CuratedVersion(BaseModel):
    """One published version: enough to say exactly what produced it and to check its bytes."""

    source: str
    version: int
    created_at: datetime
    run_id: str
    rows: int
    columns: list[str]
    data_key: str
    input_sha256: list[str]
    contract_id: str
    contract_version: str
    masked_columns: dict[str, str]
    bytes: int
    sha256: str
    # The classification it was published under; a later pointer move tags its objects the same way.
    sensitivity: str | None = None
    pii: bool | None = None
    # Files published beside the data (e.g. a labels dataset's agreement report), by name.
    attachments: list[str] = Field(default_factory=list)

    def attachment_key(self, name: str) -> str:
        key = layout.curated_attachment_key(self.source, self.version, name)
        if name not in self.attachments:
            raise ObjectNotFound(key)
        return key

    def same_inputs(
        self, input_sha256: list[str], contract_id: str, contract_version: str, masked_columns: dict[str, str]
    ) -> bool:
        """Same raw bytes through the same contract and masking: publishing again would change nothing."""
        return (
            sorted(self.input_sha256) == sorted(input_sha256)
            and (self.contract_id, self.contract_version) == (contract_id, contract_version)
            and self.masked_columns == masked_columns
        )


class _Classification(TypedDict):
    """The classification keyword arguments of `access_tags`."""

    sensitivity: str | None
    pii: bool | None


def _classification(
    meta: CuratedVersion | None, sensitivity: str | None, pii: bool | None
) -> _Classification:
    """What the caller says, else what the version was published under, else (in access_tags) fail closed."""
    return {
        "sensitivity": sensitivity if sensitivity is not None else (meta.sensitivity if meta else None),
        "pii": pii if pii is not None else (meta.pii if meta else None),
    }


def publish(
    store: ObjectStore,
    source: str,
    frame: pl.DataFrame,
    *,
    run_id: str,
    input_sha256: list[str],
    contract_id: str,
    contract_version: str,
    masked_columns: dict[str, str],
    sensitivity: str | None = None,
    pii: bool | None = None,
    attachments: dict[str, bytes] | None = None,
) -> CuratedVersion:
    """Publish frame as the source's next version and make it current; idempotent for unchanged input.

    If the current version came from the same raw checksums, contract id+version and masking, and its
    data still matches its recorded checksum, it is returned as is and nothing is written (its run_id
    is the earlier run's, which is how callers tell). If its data no longer matches, the same input is
    published again as a new version, recorded with reason "republish". Only the current version is
    compared; see the module docstring for why a rolled-back version with the same input is not reused.
    ``sensitivity`` and ``pii`` become the access tags of every object written (see
    :mod:`storage.tags`). ``attachments`` are small files stored in the version's folder next to the
    data, before its description, so a version that became current has all of them.
    """
    data_tags = access_tags("curated", source, sensitivity=sensitivity, pii=pii)
    meta_tags = access_tags("meta", source, sensitivity=sensitivity, pii=pii)
    pointer = read_pointer(store, source)
    if pointer is not None:
        record_missing_event(store, source, pointer, meta_tags)
    current = _pointed_version(store, source, pointer)
    reason = "publish"
    if current is not None and current.same_inputs(
        input_sha256, contract_id, contract_version, masked_columns
    ):
        try:
            verify_version(store, current)
            return current
        except IntegrityError as exc:
            _log.warning("%s; publishing the same input again", exc)
            reason = f"republish: v{current.version}'s data no longer matched its checksum"

    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    data = buffer.getvalue()
    sha256 = hashlib.sha256(data).hexdigest()
    keys = store.list(layout.curated_prefix(source))
    meta = _adoptable_orphan(
        store,
        source,
        keys,
        pointer,
        sha256=sha256,
        inputs=(input_sha256, contract_id, contract_version, masked_columns),
    )
    if meta is None:
        version = _next_version(source, keys, pointer)
        meta = CuratedVersion(
            source=source,
            version=version,
            created_at=datetime.now(UTC),
            run_id=run_id,
            rows=frame.height,
            columns=frame.columns,
            data_key=layout.curated_data_key(source, version),
            input_sha256=list(input_sha256),
            contract_id=contract_id,
            contract_version=contract_version,
            masked_columns=dict(masked_columns),
            bytes=len(data),
            sha256=sha256,
            sensitivity=data_tags["sensitivity"],
            pii=data_tags["pii"] == "true",
            attachments=sorted(attachments or {}),
        )
        _write_version(store, meta, data, attachments or {}, data_tags, meta_tags)
    move_pointer(
        store,
        source,
        meta.version,
        meta.data_key,
        action="publish",
        from_version=current.version if current is not None else None,
        run_id=run_id,
        reason=reason,
        tags=meta_tags,
    )
    return meta


def _write_version(
    store: ObjectStore,
    meta: CuratedVersion,
    data: bytes,
    attachments: dict[str, bytes],
    data_tags: dict[str, str],
    meta_tags: dict[str, str],
) -> None:
    """Claim the number, then data, attachments and last the description, each only if the slot is free:
    a concurrent publisher that picked the same number fails here instead of replacing the other's."""
    source, version = meta.source, meta.version
    claim = {"source": source, "version": version, "run_id": meta.run_id, "at": meta.created_at.isoformat()}
    if not store.put_bytes_if_absent(
        layout.claim_key(source, version), json.dumps(claim).encode(), tags=meta_tags
    ):
        raise StorageError(
            f"curated version {version} of {source!r} was claimed concurrently; retry the publish"
        )
    if not store.put_bytes_if_absent(meta.data_key, data, tags=data_tags):
        raise StorageError(
            f"curated version slot {meta.data_key!r} was taken concurrently; retry the publish"
        )
    record_written(store, source, meta.data_key, sha256=meta.sha256, tags=meta_tags)
    for name, content in sorted(attachments.items()):
        key = layout.curated_attachment_key(source, version, name)
        if not store.put_bytes_if_absent(key, content, tags=data_tags):
            raise StorageError(f"curated attachment {key!r} was written concurrently; retry the publish")
    meta_key = layout.curated_meta_key(source, version)
    if not store.put_bytes_if_absent(meta_key, meta.model_dump_json(indent=2).encode(), tags=meta_tags):
        raise StorageError(f"curated version {meta_key!r} was written concurrently; retry the publish")


def _next_version(source: str, keys: list[str], pointer: Pointer | None) -> int:
    """One past the highest number any version folder, claim, event or the pointer ever named, so a
    crashed attempt's number (even one whose folder was since removed) is never reused."""
    numbers = [
        layout.version_of(source, key)
        or layout.claim_version(source, key)
        or layout.event_version(source, key)
        for key in keys
    ]
    if pointer is not None:
        numbers.append(pointer.version)
    return max((n for n in numbers if n is not None), default=0) + 1


def _adoptable_orphan(
    store: ObjectStore,
    source: str,
    keys: list[str],
    pointer: Pointer | None,
    *,
    sha256: str,
    inputs: tuple[list[str], str, str, dict[str, str]],
) -> CuratedVersion | None:
    """The newest complete version if it was never current and holds exactly what we would write.

    "Never current" means newer than every version the pointer or any event ever named, so a version
    an operator rolled away from is never picked up again by a publish. Its stored bytes are re-hashed
    before adoption: its description alone does not prove the data object was written whole.
    """
    complete = _complete_numbers(source, keys)
    if not complete:
        return None
    named = [layout.event_version(source, key) for key in keys]
    if pointer is not None:
        named.append(pointer.version)
    if complete[-1] <= max((n for n in named if n is not None), default=0):
        return None
    try:
        meta = _read_version(store, source, complete[-1])
    except (ObjectNotFound, CorruptMetadata):
        return None
    if meta.sha256 != sha256 or not meta.same_inputs(*inputs):
        return None
    try:
        with store.open_read(meta.data_key) as stream:
            digest = hashlib.sha256()
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    except ObjectNotFound:
        return None
    return meta if digest.hexdigest() == meta.sha256 else None


def _complete_numbers(source: str, keys: list[str]) -> list[int]:
    """Versions with a ``_version.json``, ascending."""
    return sorted(
        number
        for key in keys
        if key.endswith("/" + layout.VERSION_FILE) and (number := layout.version_of(source, key)) is not None
    )


def _pointed_version(store: ObjectStore, source: str, pointer: Pointer | None) -> CuratedVersion | None:
    if pointer is None:
        return None
    try:
        return _read_version(store, source, pointer.version)
    except ObjectNotFound:
        key = layout.current_pointer_key(source)
        raise CorruptMetadata(
            f"{key!r} points to missing version {pointer.version} of {source!r}; "
            "`lockgate lake check --repair` rewrites it"
        ) from None


def _read_version(store: ObjectStore, source: str, version: int) -> CuratedVersion:
    key = layout.curated_meta_key(source, version)
    raw = store.get_bytes(key)
    try:
        meta = CuratedVersion.model_validate_json(raw)
    except ValueError:
        meta = None
    if meta is None or (meta.source, meta.version) != (source, version):
        raise CorruptMetadata(f"{key!r} is not a valid description of version {version} of {source!r}")
    return meta


def read_version(store: ObjectStore, source: str, version: int) -> CuratedVersion:
    """One version's description: `ObjectNotFound` if absent, `CorruptMetadata` if unreadable."""
    return _read_version(store, source, version)


def verify_version(store: ObjectStore, meta: CuratedVersion) -> bool:
    """Raise `IntegrityError` unless the version's data still has its recorded size and sha256 (True
    when it had to be hashed, False when unchanged since the last verified read)."""
    tags = access_tags("meta", meta.source, **_classification(meta, None, None))
    return verify_object(store, meta.source, meta.data_key, sha256=meta.sha256, size=meta.bytes, tags=tags)


def current_version(store: ObjectStore, source: str) -> CuratedVersion | None:
    """The version readers should use, or None before the first publish."""
    return _pointed_version(store, source, read_pointer(store, source))


def list_versions(store: ObjectStore, source: str) -> list[CuratedVersion]:
    """Every complete version (one with its ``_version.json``), oldest first."""
    numbers = _complete_numbers(source, store.list(layout.curated_prefix(source)))
    return [_read_version(store, source, n) for n in numbers]


def set_current(
    store: ObjectStore,
    source: str,
    version: int,
    *,
    reason: str,
    run_id: str | None = None,
    sensitivity: str | None = None,
    pii: bool | None = None,
) -> CuratedVersion:
    """Point readers at an existing, intact version (a rollback, roll-forward or repair); versions stay
    untouched.

    The move is recorded as a ``rollback`` event before the pointer moves (whichever direction: the
    event's from/to versions say which). Pointing at the version that is already current changes and
    records nothing. A pointer that cannot be read is replaced (the move is recorded from "none"), so
    an operator can repair it by naming a version. A version whose data no longer matches its checksum
    is refused. The pointer and event are tagged like the target version unless told otherwise.
    """
    try:
        meta = _read_version(store, source, version)
    except (ObjectNotFound, ValueError):  # ValueError: a number no version can have
        known = _complete_numbers(source, store.list(layout.curated_prefix(source)))
        raise UnknownVersion(
            f"{source!r} has no version {version}; known versions: {', '.join(map(str, known)) or 'none'}"
        ) from None
    verify_version(store, meta)
    pointer, _problem = pointer_or_problem(store, source)
    if pointer is not None and pointer.version == version:
        _log.info("version %d of %r is already current; nothing changed", version, source)
        return meta
    move_pointer(
        store,
        source,
        meta.version,
        meta.data_key,
        action="rollback",
        from_version=pointer.version if pointer is not None else None,
        run_id=run_id,
        reason=reason,
        tags=access_tags("meta", source, **_classification(meta, sensitivity, pii)),
    )
    return meta


def pointer_or_problem(store: ObjectStore, source: str) -> tuple[Pointer | None, str | None]:
    """The pointer if it names a readable version, else None and why not (None, None before a publish)."""
    try:
        pointer = read_pointer(store, source)
        _pointed_version(store, source, pointer)
    except CorruptMetadata as exc:
        return None, str(exc)
    return pointer, None


def rollback(
    store: ObjectStore,
    source: str,
    to_version: int,
    *,
    reason: str = "rollback",
    run_id: str | None = None,
) -> CuratedVersion:
    """Make an earlier (or later) version current again, recorded in the source's history.

    Rolling back to the version that is already current is a no-op (logged, nothing written); an
    unknown version raises :class:`UnknownVersion` listing the known ones.
    """
    return set_current(store, source, to_version, reason=reason, run_id=run_id)


def read_current(store: ObjectStore, source: str) -> pl.DataFrame:
    """The current version's data, verified first; local lakes are read in place, S3 objects through
    memory."""
    meta = current_version(store, source)
    if meta is None:
        raise ObjectNotFound(layout.current_pointer_key(source))
    verify_version(store, meta)
    uri = store.uri(meta.data_key)
    if is_s3(uri):
        return pl.read_parquet(io.BytesIO(store.get_bytes(meta.data_key)))
    return pl.read_parquet(uri)


class DatasetVersions(BaseModel):
    """What ``lockgate versions`` shows: a dataset's versions, the current one, and its history."""

    source: str
    versions: list[CuratedVersion]  # oldest first
    current: int | None  # the version readers follow, None before the first publish
    history: list[CurrentChange]  # every pointer move, oldest first
    problem: str | None = None  # why the current version must not be served (its data changed)


def dataset_versions(store: ObjectStore, source: str) -> DatasetVersions:
    """A dataset's complete versions, which one is current (its data verified), and every pointer move."""
    current = current_version(store, source)
    problem = None
    if current is not None:
        try:
            verify_version(store, current)
        except IntegrityError as exc:
            problem = f"{exc}; `lockgate run` publishes it again, `lockgate lake check` lists all problems"
    return DatasetVersions(
        source=source,
        versions=list_versions(store, source),
        current=current.version if current is not None else None,
        history=history(store, source),
        problem=problem,
    )


def lake_versions(lake: str, source: str) -> DatasetVersions:
    """`dataset_versions` of a lake that must already exist (reading never creates one)."""
    return dataset_versions(open_existing(lake), source)


__all__ = [
    "CuratedVersion",
    "CurrentChange",
    "DatasetVersions",
    "current_version",
    "dataset_versions",
    "history",
    "lake_versions",
    "list_versions",
    "pointer_or_problem",
    "publish",
    "read_current",
    "read_version",
    "rollback",
    "set_current",
    "verify_version",
]
