"""Erasure on request: one subject out of a source's lake layers and Label Studio, kept out afterwards.

``lockgate erase --source S --where COLUMN=VALUE`` takes the subject's value in clear and:

1. finds the subject everywhere first, changing nothing: in every raw object of the source (in clear,
   parsed in its own format, `sources.erase`), in every quarantine object (in clear), in the curated
   table (through the column's masking: the HMAC pseudonym under the recorded key, `contracts.
   suppression`; for a column masked by a rule that cannot be matched, by the primary keys of the rows
   found in raw), in the ``labels_<source>`` tables of its labeling plans, and the Label Studio tasks
   built from those rows in every project of those plans (review projects included);
2. adds the subject to the source's suppression list (a keyed hash), so that a run that lands the
   same person again leaves their rows out as soon as they are typed
   (`contracts.suppression.drop_suppressed`);
3. rewrites each raw object without the subject's records as a new object and deletes the old one
   (`storage.erasure`: manifests then name the new object and point to the receipt), rewrites or
   removes quarantine objects, deletes the rows from the curated tables and VACUUMs them so no past
   version holds them any more (those versions can no longer be restored), and deletes the tasks;
4. stores a receipt (``erasure/<id>.json``) listing every object touched, rows per layer, the curated
   versions now unrestorable and the tasks removed, and appends an ``erasure`` entry to the audit log.

Matching uses the value's normal form (trimmed, case-folded text; a phone's digits), so the spellings
a source used for the same person are all found. Neither the receipt, the audit log, the logs nor any
error message holds the value: only its keyed hash and counts.

A dry run does step 1 and reports what would be done; it changes nothing, and the audit log records that
the lookup happened (outcome ``dry-run``). A subject found nowhere raises `SubjectNotFound` (and is
audited as a failed request), and nothing is added to the suppression list.

This is not a Prefect flow on purpose: Prefect stores a flow run's parameters in its database, and the
subject's value would be one of them. Erasure is an operator's action, run from the command line.
Run it when no ingest of the same source is running: an ingest that lands or publishes between the
lookup and the deletion can bring rows back (run the erasure again; the suppression entry, written
before anything is removed, keeps every later run clean).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from contracts.keys import key_id, resolve_key
from contracts.model import HashRule
from contracts.suppression import (
    form_of,
    key_name,
    matchable,
    matcher,
    quarantine_hits,
    stored_values,
    subject_hash,
    suppression_key,
)
from flows.access import build_role_outputs
from flows.errors import ErasureError, SubjectNotFound
from flows.settings import Settings, current_settings
from labeling.plan import load_plans
from labeling.server import studio_settings
from labeling.studio import REVIEW_SUFFIX, Studio
from sources.catalog import load_catalog
from sources.erase import filter_file, landing_connector
from sources.errors import SourceReadError
from storage import audit
from storage.curated import delta_table, erase_rows, list_versions, scan_current
from storage.erasure import (
    CuratedErasure,
    ErasureReceipt,
    ObjectTouched,
    TasksRemoved,
    file_digest,
    new_erasure_id,
    quarantine_keys,
    raw_data_keys,
    raw_manifests,
    replace_quarantine,
    replace_raw_object,
    save_receipt,
    table_files_holding,
    vacuum_older,
)
from storage.errors import LockgateError
from storage.integrity import open_existing
from storage.suppression import SuppressionEntry, add_entry
from storage.tags import access_tags
from storage.workdir import step_folder

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from contracts.model import Property
    from labeling.plan import Plan
    from labeling.studio import Project
    from sources.catalog import Source
    from sources.erase import FilteredFile
    from sources.passport import Connector
    from storage.base import ObjectStore
    from storage.suppression import Form

_log = logging.getLogger(__name__)
AUDIT_ACTION = "erasure"


@dataclass(frozen=True)
class Where:
    """``COLUMN=VALUE``: the column that identifies the subject and their value in clear (never shown)."""

    column: str
    value: str = field(repr=False)


def parse_where(text: str) -> Where:
    """Split ``COLUMN=VALUE`` at the first ``=`` (the value may hold more of them)."""
    column, sep, value = text.partition("=")
    column = column.strip()
    if not sep or not column or not value.strip():
        raise ErasureError("--where takes COLUMN=VALUE, e.g. --where email=ann@example.com")
    return Where(column, value)


# --- what was found --------------------------------------------------------------------------------


@dataclass
class _RawHit:
    key: str
    sha256: str
    connector: Connector
    path: Path  # a local copy (on a local lake, the object itself)
    found: FilteredFile


@dataclass
class _QuarantineHit:
    key: str
    removed: int
    left: pl.DataFrame = field(repr=False)  # the rows that stay (other people's: in memory only)
    matched: list[dict[str, Any]] = field(default_factory=list, repr=False)


@dataclass
class _TableHit:
    dataset: str
    column: str
    values: list[str] = field(repr=False)  # as stored: pseudonyms, or clear keys
    rows: int = 0  # in the current version
    files: list[str] = field(default_factory=list)  # what VACUUM would remove
    older: int = 0  # files kept for older versions that hold the subject


@dataclass
class _TaskHit:
    plan: str
    project: Project
    keys: set[str] = field(repr=False)
    task_ids: list[int] = field(default_factory=list)


@dataclass
class _Found:
    raw: list[_RawHit] = field(default_factory=list)
    quarantine: list[_QuarantineHit] = field(default_factory=list)
    tables: list[_TableHit] = field(default_factory=list)
    tasks: list[_TaskHit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(self.raw or self.quarantine or self.tables or self.task_count)

    @property
    def task_count(self) -> int:
        return sum(len(t.task_ids) for t in self.tasks)

    def matched(self) -> list[dict[str, Any]]:
        """What the subject's raw and quarantine records hold in the captured columns (personal data)."""
        return [m for hit in self.raw for m in hit.found.matched] + [
            m for q in self.quarantine for m in q.matched
        ]


@dataclass(frozen=True)
class _Request:
    """Everything an erasure needs, resolved before anything is read (values kept out of the repr)."""

    store: ObjectStore
    source: Source
    plans: list[Plan]
    prop: Property
    form: Form
    target: str = field(repr=False)
    matches: Callable[[Sequence[str | None]], list[bool]] = field(repr=False)
    keys: dict[str, bytes] = field(repr=False)
    settings: Settings = field(repr=False)
    erasure_id: str

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def column(self) -> str:
        return self.prop.name

    @property
    def primary_key(self) -> str | None:
        keys = [p.name for p in self.source.contract.columns if p.primary_key]
        return keys[0] if len(keys) == 1 else None

    @property
    def capture(self) -> list[str]:
        """Columns whose values the subject's raw records give: the column itself (its spellings), the
        primary key and the plans' task keys, to find the same rows in curated and Label Studio."""
        wanted = [
            self.column,
            *([self.primary_key] if self.primary_key else []),
            *(p.key for p in self.plans),
        ]
        return list(dict.fromkeys(wanted))

    @property
    def sensitivity(self) -> str:
        return self.source.passport.sensitivity.value

    @property
    def pii(self) -> bool:
        return any(p.pii is not None for p in self.source.contract.columns)

    def tags(self, layer: str) -> dict[str, str]:
        return access_tags(layer, self.name, sensitivity=self.sensitivity, pii=self.pii)


INCOMPLETE = "not erased:"  # notes starting with this name what the erasure could not search or match


# --- the command's entry point ---------------------------------------------------------------------


def erase(
    catalog: str,
    lake: str,
    source: str,
    where: Where,
    *,
    dry_run: bool = False,
    settings: Settings | None = None,
) -> ErasureReceipt:
    """Erase the subject `where` names from `source` (see the module docstring); returns the receipt.

    Raises `SubjectNotFound` when the subject is nowhere and `ErasureError` for a request that cannot
    be carried out as given. A failure part-way is recorded (a receipt with status ``failed`` and an
    audit entry) and raised; erasing again finishes the job.
    """
    settings = settings or current_settings()
    request = _request(catalog, lake, source, where, settings)
    subject_key = suppression_key(request.prop, settings.keys)
    receipt = ErasureReceipt(
        erasure_id=request.erasure_id,
        at=datetime.now(UTC),
        by=settings.user,
        source=request.name,
        column=request.column,
        subject_hash=subject_hash(request.name, request.column, where.value, request.form, subject_key),
        key_id=key_id(subject_key),
        status="dry-run" if dry_run else "done",
    )
    with step_folder(request.store, None, "erase-") as work:
        try:
            found = _find(request, where.value, work)
        except Exception as exc:  # nothing changed; the request is still on record
            receipt.error = str(exc) if isinstance(exc, LockgateError) else type(exc).__name__
            _audit(request, receipt, "failed", reason="lookup failed")
            raise
        receipt.notes = list(found.notes)
        receipt.complete = not any(note.startswith(INCOMPLETE) for note in found.notes)
        _describe(receipt, found)
        if not found.anything:
            _audit(request, receipt, "failed", reason="subject not found")
            unsearched = [
                note.removeprefix(INCOMPLETE).strip() for note in found.notes if note.startswith(INCOMPLETE)
            ]
            raise SubjectNotFound(
                f"{request.name}: no record with that {request.column} in raw or quarantine, no row in "
                "curated and no Label Studio task; nothing erased"
                + (f"; but not searched: {'; '.join(unsearched)}" if unsearched else "")
            )
        if dry_run:
            _audit(request, receipt, "dry-run")
            return receipt
        try:
            _apply(request, receipt, found, work)
        except Exception as exc:
            receipt.status = "failed"
            receipt.error = str(exc) if isinstance(exc, LockgateError) else type(exc).__name__
            save_receipt(request.store, receipt, sensitivity=request.sensitivity)
            _audit(request, receipt, "failed")
            raise
    save_receipt(request.store, receipt, sensitivity=request.sensitivity)
    _audit(request, receipt, "ok")
    # Role outputs are copies of curated data: rebuilt, their copies holding the subject are deleted.
    build_role_outputs(Path(catalog), lake, warehouse=settings.warehouse, settings=settings)
    _log.info(
        "erasure %s of %s: %s; receipt %s",
        receipt.erasure_id,
        request.name,
        ", ".join(f"{n} {layer} row(s)" for layer, n in receipt.rows.items()),
        receipt.key,
    )
    return receipt


def _request(catalog: str, lake: str, source: str, where: Where, settings: Settings) -> _Request:
    loaded = load_catalog(Path(catalog))
    [selected] = loaded.select([source])
    columns = [p.name for p in selected.contract.columns]
    if where.column not in columns:
        raise ErasureError(f"{source} has no column {where.column!r}; its columns: {', '.join(columns)}")
    prop = selected.contract.column(where.column)
    form = form_of(prop)
    target, matches = matcher(where.value, form)
    store = open_existing(lake)
    request = _Request(
        store=store,
        source=selected,
        plans=[p for p in load_plans(loaded) if p.source.name == selected.name],
        prop=prop,
        form=form,
        target=target,
        matches=matches,
        keys={},
        settings=settings,
        erasure_id=new_erasure_id(),
    )
    # Keys of the columns whose curated values are computed: hashed ones need theirs.
    needed = {
        rule.key
        for name in request.capture
        if isinstance(rule := selected.contract.column(name).masking, HashRule)
    }
    request.keys.update({name: resolve_key(name, settings.keys) for name in sorted(needed)})
    return request


# --- finding ---------------------------------------------------------------------------------------


def _find(request: _Request, value: str, work: Path) -> _Found:
    """Every place the subject is, changing nothing."""
    found = _Found()
    _find_raw(request, work, found)
    _find_quarantine(request, found)
    task_keys = _find_curated(request, value, found)
    _find_labels(request, found, task_keys)
    _find_tasks(request, found, task_keys)
    return found


def _find_raw(request: _Request, work: Path, found: _Found) -> None:
    store = request.store
    connectors: dict[str, Connector] = {}
    for manifest in raw_manifests(store, request.name).values():
        for f in manifest.files:
            connectors[f.key] = landing_connector(manifest.passport, request.source.passport.connector)
    for number, key in enumerate(raw_data_keys(store, request.name)):
        local = Path(store.uri(key))
        downloaded = not local.is_file()
        path = work / f"raw-{number:06d}" if downloaded else local
        if downloaded:
            store.download(key, path)
        connector = connectors.get(key, request.source.passport.connector)
        try:
            result = filter_file(
                connector,
                path,
                None,
                column=request.column,
                matches=request.matches,
                capture=request.capture,
                label=key,
            )
        except SourceReadError as exc:  # the subject may be in it: say so, erase the rest
            found.notes.append(f"{INCOMPLETE} raw object {key} cannot be read record by record ({exc})")
            if downloaded:
                path.unlink(missing_ok=True)
            continue
        if result.records and not result.column_found:
            found.notes.append(f"raw object {key} has no column {request.column}: nothing in it could match")
        if result.unreadable_lines:
            found.notes.append(
                f"{INCOMPLETE} raw object {key}: {result.unreadable_lines} line(s) are not JSON objects "
                "and were not searched"
            )
        if result.removed:
            found.raw.append(_RawHit(key, file_digest(path)[0], connector, path, result))
        elif downloaded:
            path.unlink(missing_ok=True)


def _find_quarantine(request: _Request, found: _Found) -> None:
    store = request.store
    for key in quarantine_keys(store, request.name):
        frame = pl.read_parquet(io.BytesIO(store.get_bytes(key)))
        hits = quarantine_hits(frame, request.column, request.form, request.target)
        removed = int(hits.sum())
        if not removed:
            continue
        present = [c for c in request.capture if c in frame.columns]
        matched = frame.filter(hits).select(pl.col(present).cast(pl.String)).to_dicts() if present else []
        found.quarantine.append(_QuarantineHit(key, removed, frame.filter(~hits), matched))


def _texts(matched: list[dict[str, Any]], column: str) -> list[str]:
    return sorted({str(m[column]) for m in matched if m.get(column) is not None})


def _find_curated(request: _Request, value: str, found: _Found) -> dict[str, set[str]]:
    """The rows in the source's curated table, and the task keys (per plan) of every row found."""
    contract, store = request.source.contract, request.store
    matched = found.matched()
    task_keys: dict[str, set[str]] = {}
    for plan in request.plans:  # keys of the raw and quarantine records, as the tasks carry them
        key_prop = contract.column(plan.key)
        clear = _texts(matched, plan.key)
        task_keys[plan.name] = (
            set(stored_values(contract, plan.key, clear, request.keys)) if matchable(key_prop) else set()
        )
    if delta_table(store, request.name) is None:
        return task_keys
    on, clear = _curated_match(request, value, matched, found)
    if on is None:
        return task_keys
    stored = stored_values(contract, on, clear, request.keys)
    hit = _table_hit(request, found, request.name, on, stored)
    if hit is not None and hit.rows and request.plans:
        wanted = sorted({p.key for p in request.plans})
        rows = (
            scan_current(store, request.name)
            .filter(pl.col(on).cast(pl.String).is_in(stored))
            .select(pl.col(wanted).cast(pl.String))
            .collect()
        )
        for plan in request.plans:
            task_keys[plan.name] |= set(rows.get_column(plan.key).drop_nulls().to_list())
    return task_keys


def _curated_match(
    request: _Request, value: str, matched: list[dict[str, Any]], found: _Found
) -> tuple[str | None, list[str]]:
    """Which curated column to match and the clear values to compute its stored values from."""
    if matchable(request.prop):
        # Every spelling the source used for the subject: each was masked as written.
        return request.column, sorted({value, *_texts(matched, request.column)})
    rule = request.prop.masking.rule if request.prop.masking is not None else "none"
    pk = request.primary_key
    if pk is not None and matchable(request.source.contract.column(pk)):
        keys = _texts(matched, pk)
        found.notes.append(
            f"column {request.column} is masked by {rule}, whose curated values name no one subject: curated "
            f"rows matched by primary key {pk} of the {len(matched)} raw and quarantine record(s) found"
        )
        if not keys:
            found.notes.append(
                f"{INCOMPLETE} curated {request.name}: no raw or quarantine record gave a {pk} to match "
                "(rows whose raw objects retention removed cannot be found)"
            )
        return pk, keys
    found.notes.append(
        f"{INCOMPLETE} curated {request.name}: column {request.column} is masked by {rule} and the "
        "contract has no primary key kept as it is or hashed, so curated rows cannot be matched; "
        "erase by another column"
    )
    return None, []


def _find_labels(request: _Request, found: _Found, task_keys: dict[str, set[str]]) -> None:
    """Accepted labels of the subject's rows, in each plan's ``labels_<dataset>`` table."""
    for plan in request.plans:
        _table_hit(
            request, found, plan.plan.labels_dataset, plan.key, sorted(task_keys.get(plan.name, set()))
        )


def _table_hit(
    request: _Request, found: _Found, dataset: str, column: str, values: list[str]
) -> _TableHit | None:
    """The subject's rows in one curated table: in its current version (to delete), and in files only
    older versions need (which VACUUM removes, with or without a delete)."""
    store = request.store
    if not values or delta_table(store, dataset) is None:
        return None
    preview = erase_rows(
        store, dataset, column, values, erasure_id=request.erasure_id, by=request.settings.user, dry_run=True
    )
    older = table_files_holding(store, dataset, column, values).older
    if not preview.rows and not older:
        return None
    files = preview.removed_files if preview.rows else vacuum_older(store, dataset, dry_run=True)
    if older and not preview.rows:
        found.notes.append(
            f"curated {dataset}: the subject is only in {len(older)} file(s) kept for older versions; "
            "those are vacuumed"
        )
    hit = _TableHit(dataset, column, values, preview.rows, files, older=len(older))
    found.tables.append(hit)
    return hit


def _studio(settings: Settings) -> Studio:
    return Studio.from_settings(studio_settings(settings.label_studio_url, settings.label_studio_token))


def _find_tasks(request: _Request, found: _Found, task_keys: dict[str, set[str]]) -> None:
    """The tasks built from the subject's rows, in every project of the source's plans (and their review
    projects). Label Studio is asked only when some row was found: no row, no task."""
    if not any(task_keys.values()):
        return
    studio = _studio(request.settings)
    for plan in request.plans:
        keys = task_keys.get(plan.name, set())
        if not keys:
            continue
        for title in (plan.plan.project_title, plan.plan.project_title + REVIEW_SUFFIX):
            project = studio.find_project(title)
            if project is None:
                continue
            ids = studio.delete_tasks(project.id, keys, dry_run=True)
            if ids:
                found.tasks.append(_TaskHit(plan.name, project, keys, ids))


# --- reporting ---------------------------------------------------------------------------------------


def _describe(receipt: ErasureReceipt, found: _Found) -> None:
    """The receipt as the lookup found things: what an erasure would touch (a dry run stops here)."""
    receipt.rows = {
        "raw": sum(h.found.removed for h in found.raw),
        "quarantine": sum(q.removed for q in found.quarantine),
        "curated": 0,
    }
    for table in found.tables:
        layer = "curated" if table.dataset == receipt.source else "labels"
        receipt.rows[layer] = receipt.rows.get(layer, 0) + table.rows
    receipt.objects = [
        ObjectTouched(layer="raw", key=h.key, change="rewritten", rows_removed=h.found.removed)
        for h in found.raw
    ]
    receipt.objects += [
        ObjectTouched(
            layer="quarantine",
            key=q.key,
            change="rewritten" if q.left.height else "removed",
            rows_removed=q.removed,
        )
        for q in found.quarantine
    ]
    receipt.objects += [
        ObjectTouched(layer="curated", key=key, change="removed")
        for table in found.tables
        for key in table.files
    ]
    receipt.curated = [
        CuratedErasure(dataset=t.dataset, column=t.column, rows=t.rows, removed_files=t.files)
        for t in found.tables
    ]
    receipt.label_studio = [
        TasksRemoved(plan=t.plan, project_id=t.project.id, project=t.project.title, task_ids=t.task_ids)
        for t in found.tasks
    ]


def _audit(request: _Request, receipt: ErasureReceipt, outcome: str, reason: str | None = None) -> None:
    """One audit entry per request: the keyed hash, counts and the receipt, never the value."""
    details: dict[str, Any] = {
        "erasure_id": receipt.erasure_id,
        "column": receipt.column,
        "subject_hash": receipt.subject_hash,
        "key_id": receipt.key_id,
        "rows": dict(receipt.rows),
        "objects": len(receipt.objects),
        "tasks": sum(len(t.task_ids) for t in receipt.label_studio),
        "complete": receipt.complete,
    }
    if outcome in ("ok", "failed") and reason is None:
        details["receipt"] = receipt.key
    if reason is not None:
        details["reason"] = reason
    if receipt.error is not None:
        details["error"] = receipt.error
    audit.append(
        request.store,
        actor=request.settings.user,
        action=AUDIT_ACTION,
        source=request.name,
        outcome=outcome,
        details=details,
    )


# --- erasing -------------------------------------------------------------------------------------


def _apply(request: _Request, receipt: ErasureReceipt, found: _Found, work: Path) -> None:
    """Suppress first (so nothing erased can come back), then raw, quarantine, curated, Label Studio.

    The receipt records each change as it is made, so a failure part-way leaves a true account.
    """
    store = request.store
    receipt.objects, receipt.curated, receipt.label_studio = [], [], []
    receipt.rows = {"raw": 0, "quarantine": 0, "curated": 0}
    entry = SuppressionEntry(
        source=request.name,
        column=request.column,
        digest=receipt.subject_hash,
        form=request.form,
        key_name=key_name(request.prop),
        key_id=receipt.key_id,
        erasure_id=receipt.erasure_id,
        at=receipt.at,
    )
    add_entry(store, entry, sensitivity=request.sensitivity)
    receipt.suppression = entry.key
    manifests = raw_manifests(store, request.name)
    for number, hit in enumerate(found.raw):
        rewritten = work / f"rewritten-{number:06d}"
        again = filter_file(
            hit.connector, hit.path, rewritten, column=request.column, matches=request.matches, label=hit.key
        )
        receipt.objects += replace_raw_object(
            store,
            request.name,
            hit.key,
            hit.sha256,
            rewritten,
            erasure_id=receipt.erasure_id,
            rows_removed=again.removed,
            manifests=manifests,
            tags=request.tags("raw"),
        )
        receipt.rows["raw"] += again.removed
        rewritten.unlink(missing_ok=True)
    for q in found.quarantine:
        data = None
        if q.left.height:
            buffer = io.BytesIO()
            q.left.write_parquet(buffer, compression="zstd")
            data = buffer.getvalue()
        receipt.objects.append(
            replace_quarantine(store, q.key, data, rows_removed=q.removed, tags=request.tags("quarantine"))
        )
        receipt.rows["quarantine"] += q.removed
    for table in found.tables:
        receipt.curated.append(_erase_table(request, receipt, table))
    if found.tasks:
        studio = _studio(request.settings)
        for task in found.tasks:
            ids = studio.delete_tasks(task.project.id, task.keys)
            receipt.label_studio.append(
                TasksRemoved(
                    plan=task.plan, project_id=task.project.id, project=task.project.title, task_ids=ids
                )
            )


def _erase_table(request: _Request, receipt: ErasureReceipt, table: _TableHit) -> CuratedErasure:
    """Delete the subject's rows from one curated table and vacuum it; older versions become unrestorable."""
    store = request.store
    before = _restorable(store, table.dataset)
    if table.rows:
        erased = erase_rows(
            store,
            table.dataset,
            table.column,
            table.values,
            erasure_id=receipt.erasure_id,
            by=receipt.by,
            subject=receipt.subject_hash,
        )
        count, version, removed = erased.rows, erased.version, erased.removed_files
    else:  # only older versions hold the subject: nothing to delete, their files to vacuum
        count, version, removed = 0, None, vacuum_older(store, table.dataset)
    layer = "curated" if table.dataset == request.name else "labels"
    receipt.rows[layer] = receipt.rows.get(layer, 0) + count
    receipt.objects += [ObjectTouched(layer="curated", key=key, change="removed") for key in removed]
    return CuratedErasure(
        dataset=table.dataset,
        column=table.column,
        rows=count,
        version=version,
        removed_files=removed,
        unrestorable_versions=sorted(before - _restorable(store, table.dataset)),
    )


def _restorable(store: ObjectStore, dataset: str) -> set[int]:
    return {
        v.version for v in list_versions(store, dataset, check_restorable=True) if v.restorable is not False
    }
