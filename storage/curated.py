"""The curated layer: immutable, numbered versions of each dataset and one pointer to the current one.

A version is written completely (data, then its ``_version.json``) before ``_current.json`` moves to it,
so a reader following the pointer never sees a half-written version, and a rollback is one pointer
write. Versions are claimed with create-if-absent writes, so two concurrent publishers of the same
source cannot overwrite each other: the loser gets an error and its task retries on the next number.

History. Every pointer move is also kept as its own immutable object,
``curated/<source>/_events/<UTC timestamp>-<version>-<action>.json`` (:class:`CurrentChange`), and the
pointer names the event that explains it. The two actions write in opposite orders, on purpose:

* ``rollback`` (an operator's :func:`set_current` / :func:`rollback`): event first, then pointer. A
  human moving what every consumer reads must never go unrecorded; if the pointer write then fails,
  the caller gets the error and :func:`history` marks that event ``applied=False`` (the pointer does
  not name it and the next move starts from the old version).
* ``publish``: pointer first, then event. A publish event must never describe a version that did not
  become current (an orphan from a crash before the pointer, which readers skip). If the event write
  fails after the pointer moved, publish raises; the retry finds the version current, unchanged, and
  writes the missing event from the pointer, which carries everything the event holds.

Publishing compares only with the *current* version. After a rollback, input identical to the current
version returns it unchanged; input identical to a newer, rolled-back version makes a new version
with a new number rather than silently moving the pointer back to what an operator rolled away from.
Moving forward again is an explicit :func:`set_current`. (So if a source keeps delivering the
rejected bytes, each run publishes them again: stopping that belongs upstream or in the contract.)

Crash recovery. A publish that dies after writing a complete version but before the pointer leaves a
version that was never current. The next publish of the same input adopts it (same inputs, same
Parquet checksum, stored bytes verified) instead of writing a duplicate; any other orphan, complete or
not, is skipped and its number never reused.
"""

from __future__ import annotations

import hashlib
import io
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, TypedDict

import polars as pl
from pydantic import BaseModel, Field

from storage import layout
from storage.errors import ObjectNotFound, StorageError, UnknownVersion
from storage.layout import is_s3
from storage.tags import access_tags

if TYPE_CHECKING:
    from storage.base import ObjectStore

_log = logging.getLogger(__name__)
_CHUNK = 1024 * 1024
_EVENT_TRIES = 5

Action = Literal["publish", "rollback"]


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


class CurrentChange(BaseModel):
    """One move of the current pointer, stored as its own immutable object under ``_events/``.

    ``run_id`` is the publishing run, or whoever moved the pointer by hand when they said so.
    ``applied`` is not stored: :func:`history` works it out (False for a rollback whose pointer write
    failed after its event was recorded).
    """

    source: str
    action: Action
    from_version: int | None
    to_version: int
    run_id: str | None = None
    reason: str
    at: datetime
    key: str = Field(default="", exclude=True)
    applied: bool | None = Field(default=None, exclude=True)

    def describe(self) -> str:
        """One line for people: what moved, from where to where, by which run, and why."""
        was = f"v{self.from_version}" if self.from_version is not None else "none"
        text = f"{self.action} {was} → v{self.to_version}"
        if self.run_id:
            text += f" (run {self.run_id})"
        if self.reason and self.reason != self.action:
            text += f": {self.reason}"
        if self.applied is False:
            text += " [not applied: the pointer write failed]"
        return text


class _Pointer(BaseModel):
    """``_current.json``. Only ``version`` is needed to read; the rest explains the move and lets a
    later publish rewrite a lost event. Pointers from before events existed lack those fields."""

    version: int
    data_key: str
    updated_at: datetime
    reason: str
    action: Action | None = None
    from_version: int | None = None
    run_id: str | None = None
    event: str | None = None


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

    If the current version came from the same raw checksums, contract id+version and masking, it is
    returned as is and nothing is written (its run_id is the earlier run's, which is how callers tell).
    Only the current version is compared; see the module docstring for why a rolled-back version with
    the same input is not reused. ``sensitivity`` and ``pii`` become the access tags of every object
    written (see :mod:`storage.tags`). ``attachments`` are small files stored in the version's folder
    next to the data, before its description, so a version that became current has all of them.
    """
    data_tags = access_tags("curated", source, sensitivity=sensitivity, pii=pii)
    meta_tags = access_tags("meta", source, sensitivity=sensitivity, pii=pii)
    pointer = _read_pointer(store, source)
    if pointer is not None:
        _record_missing_event(store, source, pointer, meta_tags)
    current = _pointed_version(store, source, pointer)
    if current is not None and current.same_inputs(
        input_sha256, contract_id, contract_version, masked_columns
    ):
        return current

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
        version = _next_version(source, keys)
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
        attached = {
            layout.curated_attachment_key(source, version, name): content
            for name, content in sorted((attachments or {}).items())
        }
        # Data first, then its description, each only if the slot is free: a concurrent publisher that
        # picked the same number fails here instead of replacing what the other one wrote.
        if not store.put_bytes_if_absent(meta.data_key, data, tags=data_tags):
            raise StorageError(
                f"curated version slot {meta.data_key!r} was taken concurrently; retry the publish"
            )
        for key, content in attached.items():
            if not store.put_bytes_if_absent(key, content, tags=data_tags):
                raise StorageError(f"curated attachment {key!r} was written concurrently; retry the publish")
        meta_key = layout.curated_meta_key(source, version)
        if not store.put_bytes_if_absent(meta_key, meta.model_dump_json(indent=2).encode(), tags=meta_tags):
            raise StorageError(f"curated version {meta_key!r} was written concurrently; retry the publish")
    _move_pointer(
        store,
        meta,
        action="publish",
        from_version=current.version if current is not None else None,
        run_id=run_id,
        reason="publish",
        tags=meta_tags,
    )
    return meta


def _next_version(source: str, keys: list[str]) -> int:
    """One past the highest version directory seen, complete or not, so a crashed attempt is never reused."""
    numbers = [layout.version_of(source, key) for key in keys]
    return max((n for n in numbers if n is not None), default=0) + 1


def _adoptable_orphan(
    store: ObjectStore,
    source: str,
    keys: list[str],
    pointer: _Pointer | None,
    *,
    sha256: str,
    inputs: tuple[list[str], str, str, dict[str, str]],
) -> CuratedVersion | None:
    """The newest complete version if it was never current and holds exactly what we would write.

    "Never current" means newer than every version the pointer or any event ever named, so a version
    an operator rolled away from is never picked up again by a publish. Its stored bytes are re-hashed
    before adoption: its description alone does not prove the data object was written whole.
    """
    complete = sorted(
        number
        for key in keys
        if key.endswith("/" + layout.VERSION_FILE) and (number := layout.version_of(source, key)) is not None
    )
    if not complete:
        return None
    named = [layout.event_version(source, key) for key in keys]
    if pointer is not None:
        named.append(pointer.version)
    if complete[-1] <= max((n for n in named if n is not None), default=0):
        return None
    try:
        meta = _read_version(store, source, complete[-1])
    except ObjectNotFound:
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


def _move_pointer(
    store: ObjectStore,
    meta: CuratedVersion,
    *,
    action: Action,
    from_version: int | None,
    run_id: str | None,
    reason: str,
    tags: dict[str, str],
) -> None:
    """Move readers to meta's version and record the move; the write order per action is explained in
    the module docstring. The pointer is the only curated object ever overwritten: one small put."""
    change = CurrentChange(
        source=meta.source,
        action=action,
        from_version=from_version,
        to_version=meta.version,
        run_id=run_id,
        reason=reason,
        at=datetime.now(UTC),
    )
    pointer_key = layout.current_pointer_key(meta.source)
    if action == "rollback":
        change = _write_new_event(store, change, tags)
        store.put_bytes(pointer_key, _pointer_bytes(meta, change), tags=tags)
        return
    change.key = layout.event_key(meta.source, change.at, change.to_version, change.action)
    store.put_bytes(pointer_key, _pointer_bytes(meta, change), tags=tags)
    try:
        store.put_bytes_if_absent(change.key, change.model_dump_json(indent=2).encode(), tags=tags)
    except StorageError as exc:
        raise StorageError(
            f"version {meta.version} of {meta.source!r} is current, but its history event {change.key!r} "
            "could not be written; publishing again records it"
        ) from exc


def _pointer_bytes(meta: CuratedVersion, change: CurrentChange) -> bytes:
    pointer = _Pointer(
        version=meta.version,
        data_key=meta.data_key,
        updated_at=change.at,
        reason=change.reason,
        action=change.action,
        from_version=change.from_version,
        run_id=change.run_id,
        event=change.key,
    )
    return pointer.model_dump_json(indent=2).encode()


def _write_new_event(store: ObjectStore, change: CurrentChange, tags: dict[str, str]) -> CurrentChange:
    """Store the event under a fresh key; a clash (same microsecond, version and action) takes a new
    timestamp rather than replacing a recorded event."""
    for _ in range(_EVENT_TRIES):
        key = layout.event_key(change.source, change.at, change.to_version, change.action)
        if store.put_bytes_if_absent(key, change.model_dump_json(indent=2).encode(), tags=tags):
            return change.model_copy(update={"key": key})
        change = change.model_copy(update={"at": datetime.now(UTC)})
    raise StorageError(f"could not find a free history key for {change.source!r} version {change.to_version}")


def _record_missing_event(store: ObjectStore, source: str, pointer: _Pointer, tags: dict[str, str]) -> None:
    """Write the event a pointer names if it is missing (a publish that died between the two writes)."""
    if pointer.event is None or store.exists(pointer.event):
        return
    change = CurrentChange(
        source=source,
        action=pointer.action or "publish",
        from_version=pointer.from_version,
        to_version=pointer.version,
        run_id=pointer.run_id,
        reason=pointer.reason,
        at=pointer.updated_at,
    )
    store.put_bytes_if_absent(pointer.event, change.model_dump_json(indent=2).encode(), tags=tags)


def _read_pointer(store: ObjectStore, source: str) -> _Pointer | None:
    key = layout.current_pointer_key(source)
    try:
        raw = store.get_bytes(key)
    except ObjectNotFound:
        return None
    try:
        return _Pointer.model_validate_json(raw)
    except ValueError as exc:
        raise StorageError(f"{key!r} is not a valid current-version pointer") from exc


def _pointed_version(store: ObjectStore, source: str, pointer: _Pointer | None) -> CuratedVersion | None:
    if pointer is None:
        return None
    try:
        return _read_version(store, source, pointer.version)
    except ObjectNotFound as exc:
        key = layout.current_pointer_key(source)
        raise StorageError(f"{key!r} points to missing version {pointer.version} of {source!r}") from exc


def _read_version(store: ObjectStore, source: str, version: int) -> CuratedVersion:
    return CuratedVersion.model_validate_json(store.get_bytes(layout.curated_meta_key(source, version)))


def current_version(store: ObjectStore, source: str) -> CuratedVersion | None:
    """The version readers should use, or None before the first publish."""
    return _pointed_version(store, source, _read_pointer(store, source))


def list_versions(store: ObjectStore, source: str) -> list[CuratedVersion]:
    """Every complete version (one with its ``_version.json``), oldest first."""
    numbers = sorted(
        number
        for key in store.list(layout.curated_prefix(source))
        if key.endswith("/" + layout.VERSION_FILE) and (number := layout.version_of(source, key)) is not None
    )
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
    """Point readers at an existing version (a rollback or roll-forward); the versions stay untouched.

    The move is recorded as a ``rollback`` event before the pointer moves (whichever direction: the
    event's from/to versions say which). Pointing at the version that is already current changes and
    records nothing. The pointer and event are tagged like the target version unless told otherwise.
    """
    try:
        meta = _read_version(store, source, version)
    except (ObjectNotFound, ValueError):
        known = [v.version for v in list_versions(store, source)]
        raise UnknownVersion(
            f"{source!r} has no version {version}; known versions: {', '.join(map(str, known)) or 'none'}"
        ) from None
    pointer = _read_pointer(store, source)
    if pointer is not None and pointer.version == version:
        _log.info("version %d of %r is already current; nothing changed", version, source)
        return meta
    _move_pointer(
        store,
        meta,
        action="rollback",
        from_version=pointer.version if pointer is not None else None,
        run_id=run_id,
        reason=reason,
        tags=access_tags("meta", source, **_classification(meta, sensitivity, pii)),
    )
    return meta


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


def history(store: ObjectStore, source: str) -> list[CurrentChange]:
    """Every recorded pointer move of the source, oldest first, each marked applied or not.

    A publish event is written after its pointer, so it always happened. A rollback event is written
    first; it took effect if the next move started from its version, or, for the latest event, if the
    pointer names it.
    """
    changes: list[CurrentChange] = []
    for key in store.list(layout.events_prefix(source)):
        if layout.event_version(source, key) is None:
            continue
        try:
            change = CurrentChange.model_validate_json(store.get_bytes(key))
        except ObjectNotFound:
            continue
        changes.append(change.model_copy(update={"key": key}))
    changes.sort(key=lambda c: (c.at, c.key))
    pointer = _read_pointer(store, source)
    for i, change in enumerate(changes):
        if change.action == "publish":
            change.applied = True
        elif i + 1 < len(changes):
            change.applied = changes[i + 1].from_version == change.to_version
        elif pointer is None:
            change.applied = False
        else:
            change.applied = (
                pointer.event == change.key if pointer.event else pointer.version == change.to_version
            )
    return changes


def read_current(store: ObjectStore, source: str) -> pl.DataFrame:
    """The current version's data; local lakes are read in place, S3 objects through memory."""
    meta = current_version(store, source)
    if meta is None:
        raise ObjectNotFound(layout.current_pointer_key(source))
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


def dataset_versions(store: ObjectStore, source: str) -> DatasetVersions:
    """A dataset's complete versions, which one is current, and every recorded pointer move."""
    current = current_version(store, source)
    return DatasetVersions(
        source=source,
        versions=list_versions(store, source),
        current=current.version if current is not None else None,
        history=history(store, source),
    )


__all__ = [
    "CuratedVersion",
    "CurrentChange",
    "DatasetVersions",
    "current_version",
    "dataset_versions",
    "history",
    "list_versions",
    "publish",
    "read_current",
    "rollback",
    "set_current",
]
