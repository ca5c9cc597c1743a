"""Run history: what every run did to every source, kept in the lake so status and freshness outlive Prefect.

One object per run and source, ``runs/<source>/<run_id>.json``: the run's result for that source (the
flow's ``SourceResult`` as JSON: counts, names and ids, never data values), when the source's steps
started and finished, and whether the run left the source's curated data current (``ok``). Prefect's
own run history lives in its database, which a lake reader may not reach and which is pruned on its own
terms; this one travels with the lake and is cut by the passport's retention like the rest of it.

Reading the last N runs costs one listing and N reads: run ids start with their UTC time
(``20260101T030000Z-…``), so the keys list in run order.

``runs/<source>/late/<due>.json`` marks that a missed due time was announced (:func:`claim_late_notice`),
so a check every few minutes raises one alarm per missed due time, not one per check.

Records are tagged ``layer=meta`` with the source's classification: they hold no data values, and the
people who watch the pipeline must be able to read them without reading the data.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from storage import layout
from storage.errors import ObjectNotFound, StorageError
from storage.expired import RUN_STAMP, Expired, Kept, run_stamp
from storage.tags import access_tags

if TYPE_CHECKING:
    from collections.abc import Iterable

    from storage.base import ObjectStore


class RunRecord(BaseModel):
    """One run of one source, as the run history keeps it."""

    source: str
    run_id: str
    status: str  # published, unchanged, stopped, failed, interrupted
    ok: bool  # the run left the source's curated data current (published or unchanged)
    started_at: datetime
    finished_at: datetime
    result: dict[str, Any] = Field(default_factory=dict)  # the flow's SourceResult, as JSON


def write_run(
    store: ObjectStore,
    record: RunRecord,
    *,
    sensitivity: str | None = None,
    pii: bool | None = None,
) -> str:
    """Store one run's record and return its key; a retried run replaces its own record, nobody else's."""
    key = layout.run_history_key(record.source, record.run_id)
    store.put_bytes(
        key,
        record.model_dump_json(indent=2).encode(),
        tags=access_tags("meta", record.source, sensitivity=sensitivity, pii=pii),
    )
    return key


def run_keys(store: ObjectStore, source: str) -> list[str]:
    """The keys of the source's run records, oldest run first (late notices and other objects left out)."""
    prefix = layout.run_history_prefix(source)
    return [
        key for key in store.list(prefix) if key.endswith(".json") and "/" not in key.removeprefix(prefix)
    ]


def read_run(store: ObjectStore, key: str) -> RunRecord:
    """One record; `StorageError` naming the key when it is missing or not a run record."""
    try:
        return RunRecord.model_validate_json(store.get_bytes(key))
    except ObjectNotFound:
        raise StorageError(f"run record {key!r} is missing (removed while being read?)") from None
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "(document)" for e in exc.errors()})
        raise StorageError(f"{key!r} is not a run record: check {', '.join(fields)}") from None


def read_runs(store: ObjectStore, source: str, last: int | None = None) -> list[RunRecord]:
    """The source's runs, oldest first: all of them, or the `last` ones (one listing, `last` reads)."""
    keys = run_keys(store, source)
    if last is not None:
        keys = keys[-last:] if last > 0 else []
    return [read_run(store, key) for key in keys]


def last_ok_run(
    store: ObjectStore, source: str, *, known: Iterable[RunRecord] = (), keys: list[str] | None = None
) -> RunRecord | None:
    """The newest run that left the source's curated data current, or None.

    Records already read (`known`, e.g. the last ten for a trend) are looked at first and not read again;
    older ones are read newest first until one is found.
    """
    seen = {r.run_id: r for r in known}
    for key in reversed(run_keys(store, source) if keys is None else keys):
        record = seen.get(_run_id(key)) or read_run(store, key)
        if record.ok:
            return record
    return None


def due_stamp(due: datetime) -> str:
    """A due time as a key segment (UTC, to the second), as run ids write time."""
    return due.astimezone(UTC).strftime(RUN_STAMP)


def claim_late_notice(
    store: ObjectStore,
    source: str,
    due: datetime,
    details: dict[str, Any],
    *,
    sensitivity: str | None = None,
    pii: bool | None = None,
) -> bool:
    """Mark the missed due time as announced; False when it already was (by this or another checker).

    Create-if-absent on both backends, so two checks running at once announce it once between them.
    """
    body = {"source": source, "due": due.astimezone(UTC).isoformat(), **details}
    return store.put_bytes_if_absent(
        layout.late_notice_key(source, due_stamp(due)),
        json.dumps(body, indent=2, sort_keys=True).encode(),
        tags=access_tags("meta", source, sensitivity=sensitivity, pii=pii),
    )


def expired_run_history(store: ObjectStore, source: str, cutoff: datetime) -> Expired:
    """Run records and late notices older than the cutoff, for retention.

    The newest run and the newest run that succeeded always stay (reported as kept): without them a
    source that stopped longer ago than its retention would look as if it had never run, and its
    freshness could no longer be told. Objects whose age cannot be read from their name stay too.
    """
    prefix = layout.run_history_prefix(source)
    keys = run_keys(store, source)
    expired = Expired()
    old = [k for k in keys if (at := run_stamp(_run_id(k))) is not None and at < cutoff]
    if old:
        keep = {keys[-1]: "the newest run (status and freshness read it)"}
        newest_ok = last_ok_run(store, source, keys=keys)
        if newest_ok is not None:
            ok_key = layout.run_history_key(source, newest_ok.run_id)
            keep.setdefault(ok_key, "the newest successful run (freshness counts from it)")
        expired.keys.extend(k for k in old if k not in keep)
        expired.kept.extend(Kept(key=k, reason=reason) for k, reason in keep.items() if k in old)
    late = f"{prefix}{layout.LATE_DIR}/"
    for key in store.list(late):
        at = run_stamp(key.removeprefix(late).removesuffix(".json"))
        if at is not None and at < cutoff:
            expired.keys.append(key)
    return expired


def _run_id(key: str) -> str:
    return key.rsplit("/", 1)[-1].removesuffix(".json")


__all__ = [
    "RunRecord",
    "claim_late_notice",
    "due_stamp",
    "expired_run_history",
    "last_ok_run",
    "read_run",
    "read_runs",
    "run_keys",
    "write_run",
]
