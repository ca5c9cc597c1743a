"""Erasure on request, the storage side: receipts, and replacing raw and quarantine objects without a subject.

The raw layer never rewrites an object in place; an erasure is the one operation that must change what
it holds. It does so as a replacement, in an order that never loses a reference: the object without the
subject's records is stored under a new key (:func:`storage.layout.erased_raw_key`) and indexed, every
manifest that named the old object is rewritten to name the new one (with its checksum and a pointer to
the erasure's receipt), and only then are the old object and its index entry deleted. A crash part-way
leaves the old object in place, possibly unreferenced; erasing again finds it, because erasure searches
every data object under ``raw/<source>/``, not only those manifests name.

Quarantine objects (one per run) are replaced in place, or deleted when only the subject's rows were in
them. The receipt, ``erasure/<erasure_id>.json``, lists every object touched and how many rows each layer
lost, with the subject's keyed hash and never the value; it is tagged ``layer=audit``.

What a record is and how to find the subject's records is not known here: the layers above parse the
objects (`sources.erase`) and compute hashes and pseudonyms (`contracts.suppression`).
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import polars as pl
import pyarrow as pa
from deltalake.exceptions import DeltaError
from pydantic import AwareDatetime, BaseModel, Field

from storage import layout
from storage.curated import delta_table, table_uri
from storage.errors import ObjectNotFound, StorageError
from storage.raw import RawIndexEntry, RawManifest, read_manifest
from storage.tags import access_tags

if TYPE_CHECKING:
    from pathlib import Path

    from storage.base import ObjectStore

Layer = Literal["raw", "quarantine", "curated"]
Change = Literal["rewritten", "removed", "updated", "added"]
Status = Literal["done", "dry-run", "failed"]
_CHUNK = 1024 * 1024


class ObjectTouched(BaseModel):
    """One lake object an erasure changed (or, on a dry run, would change)."""

    layer: Layer
    key: str
    change: Change  # rewritten (as new_key), removed, updated (a manifest), added (an index entry)
    new_key: str | None = None
    rows_removed: int | None = None


class CuratedErasure(BaseModel):
    """The rows deleted from one curated table, and what that cost its history."""

    dataset: str
    column: str  # the column matched, as stored (a pseudonym for hashed columns)
    rows: int
    version: int | None = None  # the version without the rows (None on a dry run or when none matched)
    removed_files: list[str] = Field(default_factory=list)  # data files VACUUM deleted (or would)
    unrestorable_versions: list[int] = Field(default_factory=list)  # restorable before, not after


class TasksRemoved(BaseModel):
    """Label Studio tasks built from the subject's rows, removed from one project."""

    plan: str
    project_id: int
    project: str
    task_ids: list[int]


class ErasureReceipt(BaseModel):
    """What one erasure found and did: every object touched, rows per layer, never the subject's value."""

    erasure_id: str
    at: AwareDatetime
    by: str
    source: str
    column: str
    subject_hash: str  # keyed HMAC-SHA256 of (source, column, normal form of the value)
    key_id: str  # the key that made subject_hash (its fingerprint, never the key)
    status: Status
    rows: dict[str, int] = Field(default_factory=dict)  # layer → rows removed (raw, quarantine, curated, ...)
    objects: list[ObjectTouched] = Field(default_factory=list)
    curated: list[CuratedErasure] = Field(default_factory=list)
    label_studio: list[TasksRemoved] = Field(default_factory=list)
    suppression: str | None = None  # the suppression entry's key
    complete: bool = True  # False: some layer could not be searched (the notes say which and why)
    notes: list[str] = Field(default_factory=list)
    error: str | None = None

    @property
    def key(self) -> str:
        return layout.erasure_key(self.erasure_id)

    @property
    def found(self) -> bool:
        """Whether the subject was anywhere: rows in some layer, or tasks in Label Studio."""
        return any(self.rows.values()) or any(t.task_ids for t in self.label_studio)


def new_erasure_id(now: datetime | None = None) -> str:
    """Sortable and unique: the UTC time and 8 random hex digits."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(4)}"


def save_receipt(store: ObjectStore, receipt: ErasureReceipt, *, sensitivity: str | None = None) -> str:
    """Store the receipt once (erasure ids are unique) and return its key."""
    tags = access_tags("audit", receipt.source, sensitivity=sensitivity, pii=True)
    data = receipt.model_dump_json(indent=2).encode()
    if not store.put_bytes_if_absent(receipt.key, data, tags=tags):
        raise StorageError(f"erasure receipt {receipt.key!r} already exists; erasure ids are never reused")
    return receipt.key


def read_receipt(store: ObjectStore, erasure_id: str) -> ErasureReceipt:
    return ErasureReceipt.model_validate_json(store.get_bytes(layout.erasure_key(erasure_id)))


# --- raw ---------------------------------------------------------------------------------------------


def raw_data_keys(store: ObjectStore, source: str) -> list[str]:
    """Every object under ``raw/<source>/`` that holds delivered bytes: not manifests, not index entries.

    Objects no manifest names (a landing that crashed before its manifest) are included: they hold
    data like any other.
    """
    index = layout.raw_index_prefix(source)
    return [
        key
        for key in store.list(layout.source_raw_prefix(source))
        if not key.startswith(index) and posixpath.basename(key) != layout.MANIFEST_FILE
    ]


def raw_manifests(store: ObjectStore, source: str) -> dict[str, RawManifest]:
    """Every manifest of the source by its key."""
    manifests: dict[str, RawManifest] = {}
    for key in store.list(layout.source_raw_prefix(source)):
        if posixpath.basename(key) == layout.MANIFEST_FILE:
            try:
                manifests[key] = read_manifest(store, key)
            except ObjectNotFound:
                continue
    return manifests


def landed_name(key: str, manifests: dict[str, RawManifest]) -> str:
    """The file name the object was delivered under (its manifest entry's), else its key's last part."""
    for manifest in manifests.values():
        for f in manifest.files:
            if f.key == key:
                return f.name
    return posixpath.basename(key)


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a local file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def replace_raw_object(
    store: ObjectStore,
    source: str,
    old_key: str,
    old_sha256: str,
    rewritten: Path,
    *,
    erasure_id: str,
    rows_removed: int,
    manifests: dict[str, RawManifest],
    tags: dict[str, str],
) -> list[ObjectTouched]:
    """Put `rewritten` (the old object's bytes without the subject's records) in the old object's place.

    New object, its index entry, the manifests naming the old one, then the old index entry and the old
    object: see the module docstring for why this order. `manifests` is updated in place, so several
    objects of one landing can be replaced one after the other. `tags` are the raw layer's tags for the
    source, used where the store keeps none of its own (a local lake).
    """
    receipt = layout.erasure_key(erasure_id)
    new_key = layout.erased_raw_key(old_key, landed_name(old_key, manifests), erasure_id)
    sha256, size = file_digest(rewritten)
    object_tags = store.tags(old_key) or tags
    store.put_file(new_key, rewritten, tags=object_tags)
    touched = [
        ObjectTouched(
            layer="raw", key=old_key, change="rewritten", new_key=new_key, rows_removed=rows_removed
        )
    ]

    old_index_key = layout.raw_index_key(source, old_sha256)
    old_entry = _index_entry(store, old_index_key)
    run_id = _run_of(old_key, old_entry, manifests)
    new_index_key = layout.raw_index_key(source, sha256)
    entry = RawIndexEntry(sha256=sha256, key=new_key, run_id=run_id, landed_at=datetime.now(UTC), bytes=size)
    index_tags = access_tags(
        "meta",
        source,
        sensitivity=object_tags.get("sensitivity"),
        pii=object_tags.get("pii", "true") == "true",
    )
    if store.put_bytes_if_absent(new_index_key, entry.model_dump_json(indent=2).encode(), tags=index_tags):
        touched.append(ObjectTouched(layer="raw", key=new_index_key, change="added"))

    for manifest_key, manifest in manifests.items():
        if not any(f.key == old_key for f in manifest.files):
            continue
        files = [
            f.model_copy(update={"key": new_key, "sha256": sha256, "bytes": size}) if f.key == old_key else f
            for f in manifest.files
        ]
        updated = manifest.model_copy(
            update={
                "files": files,
                "rows": None if manifest.rows is None else max(0, manifest.rows - rows_removed),
                "erasures": sorted({*manifest.erasures, receipt}),
            }
        )
        store.put_bytes(
            manifest_key, updated.model_dump_json(indent=2).encode(), tags=store.tags(manifest_key) or tags
        )
        manifests[manifest_key] = updated
        touched.append(ObjectTouched(layer="raw", key=manifest_key, change="updated"))

    if old_entry is not None and old_entry.key == old_key:
        store.delete(old_index_key)
        touched.append(ObjectTouched(layer="raw", key=old_index_key, change="removed"))
    store.delete(old_key)
    return touched


def _index_entry(store: ObjectStore, key: str) -> RawIndexEntry | None:
    try:
        return RawIndexEntry.model_validate_json(store.get_bytes(key))
    except ObjectNotFound:
        return None


def _run_of(key: str, entry: RawIndexEntry | None, manifests: dict[str, RawManifest]) -> str:
    """The run that landed the object: its index entry's, its own manifest's, else its folder's name."""
    if entry is not None and entry.key == key:
        return entry.run_id
    for manifest in manifests.values():
        if any(f.key == key and f.reused_from in (None, manifest.run_id) for f in manifest.files):
            return manifest.run_id
    parts = key.split("/")
    return parts[3] if len(parts) > 4 else "unknown"


# --- curated ---------------------------------------------------------------------------------------


class HeldFiles(BaseModel):
    """Which data files of a curated table hold a subject's values: the current version's, and older ones."""

    current: list[str] = Field(default_factory=list)
    older: list[str] = Field(default_factory=list)


def table_files_holding(store: ObjectStore, dataset: str, column: str, values: list[str]) -> HeldFiles:
    """Every data file of the dataset's Delta table, current or kept for older versions, holding one of
    `values` in `column` (compared as text, as `storage.curated.erase_rows` does).

    Deleting rows changes the current version only; VACUUM then removes the files older versions
    still need. A subject whose rows are only in older versions (an earlier run published them, a later
    one quarantined or suppressed them) leaves no current row to delete, yet their old files must go
    too: this finds them. It reads one column of every data file, which erasure can afford.
    """
    table = delta_table(store, dataset)
    held = HeldFiles()
    if table is None or not values:
        return held
    prefix = layout.curated_prefix(dataset)
    current = {
        prefix + str(path) for path in pa.table(table.get_add_actions(flatten=True)).to_pydict()["path"]
    }
    skipped = (f"{prefix}_delta_log/", f"{prefix}{layout.LOCKGATE_DIR}/")
    for key in store.list(prefix):
        if not key.endswith(".parquet") or key.startswith(skipped):
            continue
        try:
            frame = pl.read_parquet(io.BytesIO(store.get_bytes(key)), columns=[column])
        except (ObjectNotFound, pl.exceptions.ColumnNotFoundError):
            continue  # vacuumed meanwhile, or a file from before the column existed
        if frame.get_column(column).cast(pl.String).is_in(values).any():
            (held.current if key in current else held.older).append(key)
    return held


def vacuum_older(store: ObjectStore, dataset: str, *, dry_run: bool = False) -> list[str]:
    """VACUUM with zero retention: delete every data file the current version does not need (the older
    versions holding an erased subject); returns their lake keys. The log is left as it is: it holds no
    data values (see `storage.curated`), and its history still says who published what."""
    table = delta_table(store, dataset)
    if table is None:
        return []
    try:
        removed = table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=dry_run)
    except DeltaError as exc:
        raise StorageError(f"could not vacuum {dataset!r}: {str(exc).splitlines()[0]}") from None
    root = table_uri(store, dataset).rstrip("/") + "/"
    prefix = layout.curated_prefix(dataset)
    return sorted(prefix + path.removeprefix("file://" + root).removeprefix(root) for path in removed)


# --- quarantine --------------------------------------------------------------------------------------


def quarantine_keys(store: ObjectStore, source: str) -> list[str]:
    """Every run's quarantined rows of the source."""
    return [k for k in store.list(layout.quarantine_source_prefix(source)) if k.endswith("/rows.parquet")]


def replace_quarantine(
    store: ObjectStore, key: str, data: bytes | None, *, rows_removed: int, tags: dict[str, str]
) -> ObjectTouched:
    """Replace a quarantine object by `data` (the rows left), or delete it when none are left (None)."""
    if data is None:
        store.delete(key)
        return ObjectTouched(layer="quarantine", key=key, change="removed", rows_removed=rows_removed)
    store.put_bytes(key, data, tags=store.tags(key) or tags)
    return ObjectTouched(
        layer="quarantine", key=key, change="rewritten", new_key=key, rows_removed=rows_removed
    )


__all__ = [
    "CuratedErasure",
    "ErasureReceipt",
    "HeldFiles",
    "ObjectTouched",
    "TasksRemoved",
    "file_digest",
    "landed_name",
    "new_erasure_id",
    "quarantine_keys",
    "raw_data_keys",
    "raw_manifests",
    "read_receipt",
    "replace_quarantine",
    "replace_raw_object",
    "save_receipt",
    "table_files_holding",
    "vacuum_older",
]
