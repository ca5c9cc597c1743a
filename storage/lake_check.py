"""``lockgate lake check``: what in a lake's curated tables and warehouse is broken, and the safe repairs.

Found: leftover working files of crashed runs, curated tables whose Delta log cannot be read, current
versions with a data file missing or not the size its log recorded (changed outside Lockgate), and
warehouse views that do not read their dataset's table, or read it through a fixed path outside the
lake (a lake copied from before views were stored relative to it).

Repaired, with ``repair=True``, only where nothing is lost or guessed: leftovers are removed and stale
views registered again. A broken table is reported, never rewritten: ``lockgate rollback`` restores an
intact version, and the next ``lockgate run`` publishes the input again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from storage import layout
from storage.curated import check_current, delta_table, table_key, table_uri
from storage.errors import IntegrityError, StorageError
from storage.integrity import open_existing
from storage.warehouse import connect, register_views, view_objects
from storage.workdir import clean_leftovers

if TYPE_CHECKING:
    from pathlib import Path

    from storage.base import ObjectStore

Kind = Literal["leftover", "corrupt-metadata", "missing-data", "stale-view"]


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


def check_lake(lake: str, *, repair: bool = False, warehouse: str | Path | None = None) -> LakeCheck:
    """Check every curated table of an existing lake and its warehouse; with `repair`, fix what is safe.

    `warehouse` is an S3 lake's warehouse file (the ``LOCKGATE_WAREHOUSE`` setting).
    """
    store = open_existing(lake)
    sources = sorted({key.split("/")[1] for key in store.list("curated/") if key.count("/") >= 2})
    findings = leftovers(lake, repair=repair)
    whole: list[str] = []
    for source in sources:
        finding = _check_table(store, source)
        if finding is None:
            whole.append(source)
        else:
            findings.append(finding)
    findings.extend(_check_views(store, lake, warehouse, whole, repair))
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


def _check_table(store: ObjectStore, source: str) -> Finding | None:
    """One dataset's table: its log readable, every file of its current version there and whole."""
    key = table_key(source)
    try:
        if delta_table(store, source) is None:
            return Finding(
                kind="corrupt-metadata", source=source, key=key, detail="the folder holds no Delta table log"
            )
        check_current(store, source)
    except IntegrityError as exc:
        return Finding(kind="missing-data", source=source, key=key, detail=str(exc))
    except StorageError as exc:
        return Finding(kind="corrupt-metadata", source=source, key=key, detail=str(exc))
    return None


def _check_views(
    store: ObjectStore, lake: str, warehouse: str | Path | None, tables: list[str], repair: bool
) -> list[Finding]:
    """Views of whole tables that read something else, or read their table through a fixed path."""
    path = layout.warehouse_path(lake, warehouse)
    if not path.is_file():
        return []
    con = connect(path, read_only=True)
    try:
        targets = view_objects(con)
    finally:
        con.close()
    findings: list[Finding] = []
    for name in tables:
        target = targets.get(name)
        if target is None or (target.key == table_key(name) and target.portable):
            continue
        detail = (
            f"reads {target.key or 'something else'}, not the table {table_key(name)}"
            if target.key != table_key(name)
            else "reads a fixed path, not the lake it lives in (the lake was copied or moved)"
        )
        findings.append(Finding(kind="stale-view", source=name, key=f"view {name}", detail=detail))
    if repair and findings:
        register_views(path, {view: table_uri(store, view) for f in findings if (view := f.source)})
        for finding in findings:
            finding.repaired = "view registered again over its table"
    return findings


__all__ = ["Finding", "LakeCheck", "check_lake", "leftovers"]
