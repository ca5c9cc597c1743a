"""Retention: remove what each source's passport no longer allows the lake to keep, and account for it.

For every source, with its ``retention_days``, five layers are cut back to ``now - retention_days``:

* ``raw``        landings (objects, manifests) and the checksum-index entries naming removed objects;
                 an expired object that a landing still within retention reuses stays (see
                 :mod:`storage.expired`);
* ``quarantine`` whole run folders;
* ``docs``       the source's validations in the lake's Data Docs site: each expired run's result record
                 and the pages rendered from it (:func:`storage.docs.expired_docs`); the flow then
                 rebuilds the site's index, which takes Great Expectations;
* ``curated``    the Delta table's history, through VACUUM and log cleanup
                 (:func:`storage.curated.vacuum_history`): never the current version.
* ``runs``       the run history (:mod:`storage.run_history`): never the newest run, nor the newest
                 that succeeded.

Storage takes ``{source: retention_days}`` and an actor; where those come from (the catalog, the
settings) is the flow's business. ``now`` is a parameter so that tests age a lake without waiting.

Every layer that removed something (or, on a dry run, would) gets one audit entry,
``retention.delete``, listing the keys and bytes, never data values. An entry is written after its
deletions, with the outcome they had; a failure part-way is recorded as ``failed`` with the keys
already gone, and the other layers and sources still run. An audit entry that cannot be written stops
the pass there, with that error: no further removal goes unrecorded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from storage import audit, layout
from storage.curated import vacuum_history
from storage.docs import expired_docs
from storage.errors import StorageError
from storage.expired import (
    Expired,
    expired_raw,
    expired_runs,
    index_entry,
    object_bytes,
    references_now,
)
from storage.run_history import expired_run_history

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from storage.base import ObjectStore

LAYERS = ("raw", "quarantine", "docs", "curated", "runs")
AUDIT_ACTION = "retention.delete"


class KeptObject(BaseModel):
    """An expired object retention leaves in place, and why."""

    key: str
    reason: str


class LayerRetention(BaseModel):
    """One source's layer: what was (or would be) removed, how many bytes that frees, what stays."""

    source: str
    layer: str
    retention_days: int
    cutoff: datetime  # objects from before this are expired
    removed: list[str] = Field(default_factory=list)  # keys removed (by a plan or dry run: to remove)
    bytes: int = 0
    kept: list[KeptObject] = Field(default_factory=list)
    error: str | None = None  # removal stopped part-way: `removed` lists what is gone
    audit_seq: int | None = None  # the audit entry that records it
    sizes: dict[str, int] = Field(default_factory=dict, exclude=True)  # key -> bytes, measured when planned

    @property
    def objects(self) -> int:
        return len(self.removed)


class RetentionReport(BaseModel):
    """What a retention pass removed (or, as a dry run or plan, would remove), per source and layer."""

    now: datetime
    dry_run: bool
    layers: list[LayerRetention]

    @property
    def ok(self) -> bool:
        return all(layer.error is None for layer in self.layers)

    @property
    def objects(self) -> int:
        return sum(layer.objects for layer in self.layers)

    @property
    def bytes(self) -> int:
        return sum(layer.bytes for layer in self.layers)

    def to_json_dict(self) -> dict[str, Any]:
        """The report with its totals and each layer's object count, for ``--format json``."""
        document = self.model_dump(mode="json")
        for shown, layer in zip(document["layers"], self.layers, strict=True):
            shown["objects"] = layer.objects
        document.update(ok=self.ok, objects=self.objects, bytes=self.bytes)
        return document


def _aware(now: datetime) -> datetime:
    """A naive `now` is taken as UTC, as run ids and landing times are."""
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _history_age(cutoff: datetime) -> timedelta:
    """Delta's VACUUM measures age against the real clock: the age that puts its cutoff at ours, so an
    injected `now` moves the curated cutoff like every other layer's (never below zero)."""
    return max(timedelta(0), datetime.now(UTC) - cutoff)


def plan_retention(store: ObjectStore, retention: Mapping[str, int], *, now: datetime) -> RetentionReport:
    """What retention would remove now, per source and layer, with bytes; changes nothing, audits nothing."""
    now = _aware(now)
    layers = [
        layer
        for source, days in sorted(retention.items())
        for layer in _plan_source(store, source, days, now)
    ]
    return RetentionReport(now=now, dry_run=True, layers=layers)


def _plan_source(store: ObjectStore, source: str, days: int, now: datetime) -> list[LayerRetention]:
    """Each layer's expired objects; a layer that cannot be read is reported with its error, and the
    others are still planned."""
    cutoff = now - timedelta(days=days)
    finders: dict[str, Callable[[], Expired]] = {
        "raw": lambda: _raw(store, source, cutoff),
        "quarantine": lambda: expired_runs(store, layout.quarantine_source_prefix(source), cutoff),
        "docs": lambda: expired_docs(store, source, cutoff),
        "curated": lambda: Expired(keys=vacuum_history(store, source, _history_age(cutoff), dry_run=True)),
        "runs": lambda: expired_run_history(store, source, cutoff),
    }
    layers = []
    for name in LAYERS:
        try:
            layers.append(_layer(store, source, name, days, cutoff, finders[name]()))
        except StorageError as exc:
            layers.append(
                LayerRetention(source=source, layer=name, retention_days=days, cutoff=cutoff, error=str(exc))
            )
    return layers


def _raw(store: ObjectStore, source: str, cutoff: datetime) -> Expired:
    """Expired raw objects, with the index entries that name them among the keys."""
    raw, index = expired_raw(store, source, cutoff)
    raw.keys.extend(index)
    return raw


def _layer(
    store: ObjectStore, source: str, name: str, days: int, cutoff: datetime, expired: Expired
) -> LayerRetention:
    sizes = {key: object_bytes(store, key) for key in expired.keys}
    return LayerRetention(
        source=source,
        layer=name,
        retention_days=days,
        cutoff=cutoff,
        removed=sorted(sizes),
        bytes=sum(sizes.values()),
        kept=[KeptObject(key=k.key, reason=k.reason) for k in expired.kept],
        sizes=sizes,
    )


def apply_retention(
    store: ObjectStore,
    retention: Mapping[str, int],
    *,
    actor: str,
    now: datetime,
    dry_run: bool = False,
) -> RetentionReport:
    """Remove every source's expired objects and audit each layer's removals; `dry_run` removes nothing
    and audits the plan as ``dry-run``. Returns what was removed (or would be), per source and layer."""
    now = _aware(now)
    layers: list[LayerRetention] = []
    for source, days in sorted(retention.items()):
        planned = _plan_source(store, source, days, now)
        for layer in planned:
            done = layer if dry_run or layer.error else _remove(store, layer)
            if done.removed or done.error:
                done.audit_seq = _audit(store, actor, done, dry_run=dry_run)
            layers.append(done)
    return RetentionReport(now=now, dry_run=dry_run, layers=layers)


def _remove(store: ObjectStore, layer: LayerRetention) -> LayerRetention:
    """Remove a planned layer; the result lists only what is gone, and any error that stopped it."""
    removed: list[str] = []
    kept = list(layer.kept)
    error = None
    try:
        if layer.layer == "curated":
            removed.extend(vacuum_history(store, layer.source, _history_age(layer.cutoff)))
        elif layer.layer == "raw":
            kept.extend(_remove_raw(store, layer, removed))
        else:
            for key in layer.removed:
                store.delete(key)
                removed.append(key)
    except StorageError as exc:
        error = str(exc)
    freed = sum(layer.sizes.get(key, 0) for key in removed)  # measured by the plan, before removal
    return layer.model_copy(update={"removed": sorted(removed), "bytes": freed, "kept": kept, "error": error})


def _remove_raw(store: ObjectStore, layer: LayerRetention, removed: list[str]) -> list[KeptObject]:
    """Index entries first (so no new landing starts reusing an object on its way out), then a fresh
    look at what landings within retention list, then the objects still unlisted, manifests last (a
    manifest is what explains its objects, so it is the last thing of a landing to go)."""
    index_prefix = layout.raw_index_prefix(layer.source)
    objects = {k for k in layer.removed if not k.startswith(index_prefix)}
    for key in (k for k in layer.removed if k.startswith(index_prefix)):
        entry = index_entry(store, key)  # re-read: a landing may have pointed it at a new object since
        if entry is not None and (entry.key in objects or not store.exists(entry.key)):
            store.delete(key)
            removed.append(key)
    listed = references_now(store, layer.source, layer.cutoff)
    manifests = sorted(k for k in objects if k.endswith("/" + layout.MANIFEST_FILE))
    for key in [*sorted(objects - set(manifests)), *manifests]:
        if key not in listed:
            store.delete(key)
            removed.append(key)
    return [
        KeptObject(key=key, reason=f"listed by run {listed[key]} (within retention), landed meanwhile")
        for key in sorted(objects)
        if key in listed
    ]


def _audit(store: ObjectStore, actor: str, layer: LayerRetention, *, dry_run: bool) -> int:
    outcome = "dry-run" if dry_run else ("failed" if layer.error else "ok")
    details: dict[str, Any] = {
        "layer": layer.layer,
        "retention_days": layer.retention_days,
        "cutoff": layer.cutoff.isoformat(),
        "objects": layer.objects,
        "bytes": layer.bytes,
        "keys": layer.removed,
    }
    if layer.kept:
        details["kept"] = [k.key for k in layer.kept]
    if layer.error:
        details["error"] = layer.error
    entry = audit.append(
        store, actor=actor, action=AUDIT_ACTION, source=layer.source, outcome=outcome, details=details
    )
    return entry.seq


__all__ = [
    "AUDIT_ACTION",
    "LAYERS",
    "KeptObject",
    "LayerRetention",
    "RetentionReport",
    "apply_retention",
    "plan_retention",
]
