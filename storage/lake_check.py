"""``lockgate lake check``: what in a lake's curated layer and warehouse is broken, and the safe repairs.

Found: orphans (version folders without a ``_version.json``: a publish that died part-way), leftover
working files, metadata that cannot be parsed (pointer, version description, history event), data
whose bytes no longer match the checksum recorded at publish, and warehouse views that read another
version than the current one or a path outside the lake (a lake copied from before views were stored
relative to it).

Repaired, with ``repair=True``, only where nothing is lost or guessed:

* an unreadable pointer, or one naming a missing or unreadable version, is rewritten to the version the
  latest history event made current when that one is intact, else to the newest intact version; the
  move is recorded in the dataset's history with reason "repair", and its view follows;
* an orphan folder is removed once it is older than `ORPHAN_GRACE` (a younger one may belong to a
  publish still writing); its number stays claimed, so it is never reused;
* a stale view is registered again over the current, verified version.

Corrupt descriptions, events and data are reported, never rewritten: the lake cannot tell what they
held. A current version whose data changed is published again by the next ``lockgate run``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from storage import layout
from storage.curated import (
    CuratedVersion,
    pointer_or_problem,
    read_version,
    set_current,
    verify_version,
)
from storage.errors import CorruptMetadata, IntegrityError, ObjectNotFound, StorageError
from storage.integrity import modified_at, open_existing
from storage.pointer import CurrentChange, read_event
from storage.warehouse import connect, register_views, view_objects
from storage.workdir import clean_leftovers

if TYPE_CHECKING:
    from pathlib import Path

    from storage.base import ObjectStore

ORPHAN_GRACE = timedelta(minutes=10)

Kind = Literal["orphan", "leftover", "corrupt-metadata", "checksum-mismatch", "missing-data", "stale-view"]


class Finding(BaseModel):
    """One problem: what kind, where (a lake key or a view name), why, and what a repair did about it."""

    kind: Kind
    source: str | None
    key: str
    detail: str
    repaired: str | None = None

    def describe(self) -> str:
        text = f"{self.kind}: {self.key}: {self.detail}"
        return f"{text} → repaired: {self.repaired}" if self.repaired else text


class LakeCheck(BaseModel):
    """The outcome of a check: the datasets looked at and every finding, repaired or not."""

    lake: str
    repair: bool
    sources: list[str]
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """Nothing left to act on: no findings, or every one repaired."""
        return all(f.repaired for f in self.findings)


def check_lake(
    lake: str,
    *,
    repair: bool = False,
    warehouse: str | Path | None = None,
    orphan_grace: timedelta = ORPHAN_GRACE,
) -> LakeCheck:
    """Check every curated dataset of an existing lake and its warehouse; with `repair`, fix what is safe.

    `warehouse` is an S3 lake's warehouse file (the ``LOCKGATE_WAREHOUSE`` setting).
    """
    store = open_existing(lake)
    sources = sorted({key.split("/")[1] for key in store.list("curated/") if key.count("/") >= 2})
    findings = leftovers(lake, repair=repair)
    current: dict[str, CuratedVersion] = {}
    for source in sources:
        found, meta = _check_source(store, lake, source, repair, warehouse, orphan_grace)
        findings.extend(found)
        if meta is not None:
            current[source] = meta
    findings.extend(_check_views(store, lake, warehouse, current, repair))
    return LakeCheck(lake=lake, repair=repair, sources=sources, findings=findings)


def leftovers(lake: str, *, repair: bool) -> list[Finding]:
    """What crashed runs left (working folders nobody holds, ``.lockgate-tmp-*`` files no writer holds),
    found and, on repair, removed by `storage.workdir.clean_leftovers`."""
    report = clean_leftovers(lake, remove=repair)
    done = "removed" if report.removed else None
    found = [
        Finding(
            kind="leftover",
            source=None,
            key=f"{report.work_root}/{name}",
            detail="working folder of a run that ended",
            repaired=done,
        )
        for name in report.folders
    ]
    found += [
        Finding(
            kind="leftover",
            source=None,
            key=name,
            detail="working file of an interrupted write",
            repaired=done,
        )
        for name in report.temp_files
    ]
    return found


def _check_source(
    store: ObjectStore,
    lake: str,
    source: str,
    repair: bool,
    warehouse: str | Path | None,
    grace: timedelta,
) -> tuple[list[Finding], CuratedVersion | None]:
    """Findings of one dataset, and its current version when that one is readable and intact."""
    keys = store.list(layout.curated_prefix(source))
    folders: dict[int, list[str]] = {}
    for key in keys:
        if (number := layout.version_of(source, key)) is not None:
            folders.setdefault(number, []).append(key)
    findings: list[Finding] = []
    intact: dict[int, CuratedVersion] = {}
    for number, contents in sorted(folders.items()):
        if layout.curated_meta_key(source, number) not in contents:
            findings.append(_orphan(store, source, number, contents, keys, repair, grace))
            continue
        finding, meta = _check_version(store, source, number)
        if finding is not None:
            findings.append(finding)
        elif meta is not None:
            intact[number] = meta
    events = _events(store, source, keys, findings)
    pointer, problem = pointer_or_problem(store, source)
    if pointer is None and problem is None and events:
        problem = f"{layout.current_pointer_key(source)!r} is missing, though the history records moves"
    if problem is None:
        current = intact.get(pointer.version) if pointer is not None else None
        return findings, current
    finding = Finding(
        kind="corrupt-metadata", source=source, key=layout.current_pointer_key(source), detail=problem
    )
    findings.append(finding)
    target = _repair_target(intact, events)
    if not repair or target is None:
        if repair:
            finding.detail += "; not repaired: no intact version to point at"
        return findings, None
    set_current(store, source, target.version, reason="repair")
    register_views(layout.warehouse_path(lake, warehouse), {source: store.uri(target.data_key)})
    finding.repaired = f"pointer rewritten to v{target.version} (recorded in the history as a repair)"
    return findings, target


def _check_version(
    store: ObjectStore, source: str, number: int
) -> tuple[Finding | None, CuratedVersion | None]:
    """A complete version's description, data and attachments."""
    try:
        meta = read_version(store, source, number)
    except CorruptMetadata as exc:
        key = layout.curated_meta_key(source, number)
        return Finding(kind="corrupt-metadata", source=source, key=key, detail=str(exc)), None
    except ObjectNotFound:  # removed since the listing
        return None, None
    if not store.exists(meta.data_key):
        return Finding(
            kind="missing-data", source=source, key=meta.data_key, detail="the data object is missing"
        ), None
    try:
        verify_version(store, meta)
    except IntegrityError as exc:
        return Finding(kind="checksum-mismatch", source=source, key=meta.data_key, detail=str(exc)), None
    missing = [name for name in meta.attachments if not store.exists(meta.attachment_key(name))]
    if missing:
        key = layout.curated_version_prefix(source, number)
        detail = f"attachment(s) {', '.join(missing)} missing"
        return Finding(kind="missing-data", source=source, key=key, detail=detail), None
    return None, meta


def _orphan(
    store: ObjectStore,
    source: str,
    number: int,
    contents: list[str],
    keys: list[str],
    repair: bool,
    grace: timedelta,
) -> Finding:
    """A folder without its description; removed on repair once old enough, its number kept claimed."""
    folder = layout.curated_version_prefix(source, number)
    finding = Finding(
        kind="orphan", source=source, key=folder, detail=f"no {layout.VERSION_FILE}: a publish did not finish"
    )
    if not repair:
        return finding
    stamps = [stamp for key in contents if (stamp := _modified(store, key)) is not None]
    if stamps and datetime.now(UTC) - max(stamps) < grace:
        finding.detail += f"; left alone: written less than {grace} ago, a publish may still be writing it"
        return finding
    claim = layout.claim_key(source, number)
    if claim not in keys:
        record = {"source": source, "version": number, "run_id": None, "at": datetime.now(UTC).isoformat()}
        store.put_bytes_if_absent(claim, json.dumps(record).encode())
    for key in contents:
        store.delete(key)
    finding.repaired = f"removed {len(contents)} object(s); number {number} stays claimed, never reused"
    return finding


def _modified(store: ObjectStore, key: str) -> datetime | None:
    try:
        return modified_at(store, key)
    except (ObjectNotFound, StorageError):
        return None


def _events(store: ObjectStore, source: str, keys: list[str], findings: list[Finding]) -> list[CurrentChange]:
    """The readable history events, oldest first; unreadable ones become findings."""
    events = []
    for key in keys:
        if layout.event_version(source, key) is None:
            continue
        try:
            change = read_event(store, key)
        except CorruptMetadata as exc:
            findings.append(Finding(kind="corrupt-metadata", source=source, key=key, detail=str(exc)))
            continue
        if change is not None:
            events.append(change)
    return sorted(events, key=lambda c: (c.at, c.key))


def _repair_target(intact: dict[int, CuratedVersion], events: list[CurrentChange]) -> CuratedVersion | None:
    """What the pointer most likely said: the latest recorded move's version if intact (so an operator's
    rollback is kept), else the newest intact version."""
    if events and events[-1].to_version in intact:
        return intact[events[-1].to_version]
    return intact[max(intact)] if intact else None


def _check_views(
    store: ObjectStore,
    lake: str,
    warehouse: str | Path | None,
    current: dict[str, CuratedVersion],
    repair: bool,
) -> list[Finding]:
    """Views that read another object than their dataset's current version, or outside the lake."""
    path = layout.warehouse_path(lake, warehouse)
    if not path.is_file():
        return []
    con = connect(path, read_only=True)
    try:
        targets = view_objects(con)
    finally:
        con.close()
    findings: list[Finding] = []
    for name, target in sorted(targets.items()):
        meta = current.get(name)
        if meta is None or (target.key == meta.data_key and target.portable):
            continue
        detail = (
            f"reads {target.key or 'another object'}, not the current v{meta.version}"
            if target.key != meta.data_key
            else "reads a fixed path, not the lake it lives in (the lake was copied or moved)"
        )
        findings.append(Finding(kind="stale-view", source=name, key=f"view {name}", detail=detail))
    if repair and findings:
        register_views(
            path, {view: store.uri(current[view].data_key) for f in findings if (view := f.source)}
        )
        for finding in findings:
            finding.repaired = "view registered again over the current version"
    return findings


__all__ = ["ORPHAN_GRACE", "Finding", "LakeCheck", "check_lake", "leftovers"]
