"""Connector state: where an incremental source's next extract starts (a watermark, a cursor, ...).

The state of one source lives in ``state/<source>/state.json``, replaced whole on every commit (an S3
put or the local temp-file-and-replace is atomic: a reader sees the old state or the new one, never a
mix). Every committed state is also kept as ``state/<source>/history/<run_id>.json``, so an owner can
see how the watermark moved and put an earlier one back (:func:`restore_state`), e.g. to re-extract a
period after a bad delivery.

Order of writes: the history entry first, then ``state.json``. Every state that was ever current is
then in the history; a crash between the two leaves a history entry that never became current (its
``written_at`` is later than the current state's), which is harmless.

The flow commits state only after the curated version is current: a crash before that leaves the old
watermark, so the next run extracts the same rows again and publishing recognises them. State is
tagged ``layer=state`` with the source's classification: a watermark can itself be a data value.
Errors and logs never show state values.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from storage import layout
from storage.errors import ObjectNotFound, StorageError
from storage.tags import access_tags

if TYPE_CHECKING:
    from storage.base import ObjectStore


class StateRecord(BaseModel):
    """A committed state and where it came from: the run, and the curated version it belongs to."""

    source: str
    run_id: str
    curated_version: int | None
    written_at: datetime
    state: dict[str, Any]
    restored_from: str | None = None  # the run whose state an owner put back


def _plain_json(source: str, state: dict[str, Any]) -> None:
    """Refuse what JSON cannot round-trip: a datetime would come back as a string and silently change type.

    The message names the type, never the value (a watermark can be personal data).
    """
    if not isinstance(state, dict):
        raise StorageError(f"connector state of {source!r} must be a dict, not {type(state).__name__}")
    try:
        same = json.loads(json.dumps(state, allow_nan=False)) == state
        detail = "it would not read back the same (tuples or non-string keys?)"
    except (TypeError, ValueError) as exc:
        same, detail = False, type(exc).__name__
    if not same:
        raise StorageError(
            f"connector state of {source!r} is not plain JSON: {detail}; use str, int, float, bool, "
            "None, lists and dicts with string keys (write dates as ISO strings)"
        )


def read_state(store: ObjectStore, source: str) -> dict[str, Any] | None:
    """The state the source's next extract starts from, or None before its first commit."""
    record = read_state_record(store, source)
    return None if record is None else record.state


def read_state_record(store: ObjectStore, source: str) -> StateRecord | None:
    """The current state with its provenance (run, curated version, time), or None."""
    key = layout.state_key(source)
    try:
        data = store.get_bytes(key)
    except ObjectNotFound:
        return None
    try:
        return StateRecord.model_validate_json(data)
    except ValueError as exc:
        # Not chained: pydantic's message quotes the input, and a watermark can be a data value.
        count = exc.error_count() if isinstance(exc, ValidationError) else 1
        raise StorageError(f"{key!r} is not a valid connector state ({count} problem(s))") from None


def write_state(
    store: ObjectStore,
    source: str,
    state: dict[str, Any],
    *,
    run_id: str,
    curated_version: int | None,
    sensitivity: str | None = None,
    pii: bool | None = None,
    restored_from: str | None = None,
) -> None:
    """Commit the source's state for the next run: history entry first, then the current state.

    A retried commit of the same run writes the same history entry again; if that run commits a
    different state, its entry is replaced (the history keeps one entry per run: what it committed last).
    """
    _commit(
        store,
        source,
        state,
        run_id=run_id,
        curated_version=curated_version,
        tags=access_tags("state", source, sensitivity=sensitivity, pii=pii),
        restored_from=restored_from,
    )


def _commit(
    store: ObjectStore,
    source: str,
    state: dict[str, Any],
    *,
    run_id: str,
    curated_version: int | None,
    tags: dict[str, str],
    restored_from: str | None,
) -> StateRecord:
    _plain_json(source, state)
    record = StateRecord(
        source=source,
        run_id=run_id,
        curated_version=curated_version,
        written_at=datetime.now(UTC),
        state=state,
        restored_from=restored_from,
    )
    data = record.model_dump_json(indent=2).encode()
    history_key = layout.state_history_key(source, run_id)
    if not store.put_bytes_if_absent(history_key, data, tags=tags):
        earlier = _read_record(store, history_key)
        same = earlier is not None and earlier.model_dump(exclude={"written_at"}) == record.model_dump(
            exclude={"written_at"}
        )
        if same and earlier is not None:
            record, data = earlier, earlier.model_dump_json(indent=2).encode()  # state.json == its entry
        else:
            store.put_bytes(history_key, data, tags=tags)
    store.put_bytes(layout.state_key(source), data, tags=tags)
    return record


def state_history(store: ObjectStore, source: str) -> list[StateRecord]:
    """Every committed state of the source, oldest first."""
    prefix = f"{layout.state_prefix(source)}{layout.STATE_HISTORY_DIR}/"
    records = [
        record
        for key in store.list(prefix)
        if key.endswith(".json") and (record := _read_record(store, key)) is not None
    ]
    return sorted(records, key=lambda r: (r.written_at, r.run_id))


def restore_state(
    store: ObjectStore,
    source: str,
    from_run_id: str,
    *,
    run_id: str | None = None,
    sensitivity: str | None = None,
    pii: bool | None = None,
) -> StateRecord:
    """Make the state a past run committed current again, as a new commit (so the restore is in the
    history too, with ``restored_from``); the next extract starts from there.

    ``run_id`` names the restore in the history (default ``restore-<UTC time>``).
    """
    earlier = _read_record(store, layout.state_history_key(source, from_run_id))
    if earlier is None:
        known = [r.run_id for r in state_history(store, source)]
        raise StorageError(
            f"{source!r} has no state committed by run {from_run_id!r}; known runs: "
            f"{', '.join(known) or 'none'}"
        )
    return _commit(
        store,
        source,
        earlier.state,
        run_id=run_id or f"restore-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}",
        curated_version=earlier.curated_version,
        tags=access_tags("state", source, sensitivity=sensitivity, pii=pii),
        restored_from=from_run_id,
    )


def _read_record(store: ObjectStore, key: str) -> StateRecord | None:
    try:
        return StateRecord.model_validate_json(store.get_bytes(key))
    except ObjectNotFound:
        return None


__all__ = [
    "StateRecord",
    "read_state",
    "read_state_record",
    "restore_state",
    "state_history",
    "write_state",
]
