"""The current pointer of a curated dataset and its history: which version readers follow, and why.

``curated/<source>/_current.json`` is the only curated object ever overwritten. Every move of it is
also kept as its own immutable object, ``curated/<source>/_events/<UTC timestamp>-<version>-<action>.json``
(:class:`CurrentChange`), and the pointer names the event that explains it. The two actions write in
opposite orders, on purpose:

* ``rollback`` (an operator's move, or a repair by ``lockgate lake check``): event first, then pointer.
  A human moving what every consumer reads must never go unrecorded; if the pointer write then fails,
  the caller gets the error and :func:`history` marks that event ``applied=False``.
* ``publish``: pointer first, then event. A publish event must never describe a version that did not
  become current. If the event write fails after the pointer moved, publish raises; the retry finds
  the version current and writes the missing event from the pointer, which carries everything it holds.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from storage import layout
from storage.errors import CorruptMetadata, ObjectNotFound, StorageError

if TYPE_CHECKING:
    from storage.base import ObjectStore

_log = logging.getLogger(__name__)
_EVENT_TRIES = 5

Action = Literal["publish", "rollback"]


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


class Pointer(BaseModel):
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


def move_pointer(
    store: ObjectStore,
    source: str,
    version: int,
    data_key: str,
    *,
    action: Action,
    from_version: int | None,
    run_id: str | None,
    reason: str,
    tags: dict[str, str],
) -> None:
    """Move readers to `version` and record the move, in the order the module docstring explains."""
    change = CurrentChange(
        source=source,
        action=action,
        from_version=from_version,
        to_version=version,
        run_id=run_id,
        reason=reason,
        at=datetime.now(UTC),
    )
    pointer_key = layout.current_pointer_key(source)
    if action == "rollback":
        change = _write_new_event(store, change, tags)
        store.put_bytes(pointer_key, _pointer_bytes(data_key, change), tags=tags)
        return
    change.key = layout.event_key(source, change.at, change.to_version, change.action)
    store.put_bytes(pointer_key, _pointer_bytes(data_key, change), tags=tags)
    try:
        store.put_bytes_if_absent(change.key, change.model_dump_json(indent=2).encode(), tags=tags)
    except StorageError as exc:
        raise StorageError(
            f"version {version} of {source!r} is current, but its history event {change.key!r} "
            "could not be written; publishing again records it"
        ) from exc


def _pointer_bytes(data_key: str, change: CurrentChange) -> bytes:
    pointer = Pointer(
        version=change.to_version,
        data_key=data_key,
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


def record_missing_event(store: ObjectStore, source: str, pointer: Pointer, tags: dict[str, str]) -> None:
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


def read_pointer(store: ObjectStore, source: str) -> Pointer | None:
    """The pointer, or None before the first publish; `CorruptMetadata` when it cannot be parsed."""
    key = layout.current_pointer_key(source)
    try:
        raw = store.get_bytes(key)
    except ObjectNotFound:
        return None
    try:
        return Pointer.model_validate_json(raw)
    except ValueError:
        raise CorruptMetadata(
            f"{key!r} is not a valid current-version pointer; `lockgate lake check --repair` rewrites it"
        ) from None


def read_event(store: ObjectStore, key: str) -> CurrentChange | None:
    """One recorded move, None if it vanished; `CorruptMetadata` when it cannot be parsed."""
    try:
        raw = store.get_bytes(key)
    except ObjectNotFound:
        return None
    try:
        return CurrentChange.model_validate_json(raw).model_copy(update={"key": key})
    except ValueError:
        raise CorruptMetadata(f"{key!r} is not a valid history event") from None


def history(store: ObjectStore, source: str) -> list[CurrentChange]:
    """Every recorded pointer move of the source, oldest first, each marked applied or not.

    A publish event is written after its pointer, so it always happened. A rollback event is written
    first; it took effect if the next move started from its version, or, for the latest event, if the
    pointer names it. An unreadable event is left out (and logged); ``lockgate lake check`` reports it.
    """
    changes: list[CurrentChange] = []
    for key in store.list(layout.events_prefix(source)):
        if layout.event_version(source, key) is None:
            continue
        try:
            change = read_event(store, key)
        except CorruptMetadata as exc:
            _log.warning("%s", exc)
            continue
        if change is not None:
            changes.append(change)
    changes.sort(key=lambda c: (c.at, c.key))
    pointer = read_pointer(store, source)
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


__all__ = ["Action", "CurrentChange", "Pointer", "history", "move_pointer", "read_pointer"]
