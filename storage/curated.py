"""The curated layer: each dataset is a Delta Lake table at ``curated/<source>/``.

Delta Lake (delta-rs, the ``deltalake`` package) gives what a curated layer needs and every engine reads:
atomic commits (readers see a whole version or the one before it), numbered versions, restore, DELETE,
MERGE and VACUUM. DuckDB (``delta_scan``), polars (``scan_delta``), Spark, Trino and Databricks read the
tables directly, on a local lake and on S3 alike.

What Lockgate knows about a version travels in its own commit, as custom commit metadata under the key
``lockgate`` (:class:`Commit`): the run, the release id and its parts (input checksums, contract, code,
masking key ids, erasures, configuration), who rolled back or erased and why, and the files published
beside the data (a labels dataset's agreement report). Commits Lockgate did not make (VACUUM's own, or
another engine's) carry nothing of ours: a version made by one describes the same data as the version
before it, so :func:`list_versions` carries the description forward.

Tables are created without per-column statistics (``delta.dataSkippingNumIndexedCols = 0``). The log
then holds no data values at all, only file names, sizes and row counts, so erasure and retention have
to remove data files only, never rewrite the log.

A frame is published as a stream of Arrow record batches, a slice of its rows at a time
(`SLICE_BYTES`), not converted to one Arrow table first, which copied the whole batch (measured on 3M
rows of text: 1,264 MB above the frame as one table, 223 MB as a stream, and the write 7.4 s → 4.4 s).
delta-rs keeps no row order across record batches; nothing here relies on one. A staged batch (a
source larger than memory, `storage.staging`) is written as Parquet files of ours, a window at a time,
and committed through delta-rs as add actions (`_commit_staged`): delta-rs's writer holds what it is
streamed until the write ends.

Publishing is idempotent: input whose release id is the current version's adds no version, unless a
data file of that version is missing or resized (then an overwrite publishes it again, which repairs
the table). A release an operator rolled back from is not published again by a delivery of the same
input either.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Schema, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from deltalake.transaction import AddAction, create_table_with_add_actions
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from storage import layout
from storage.base import StatsObjects, TagsObjects
from storage.errors import IntegrityError, ObjectNotFound, StorageError, UnknownVersion
from storage.integrity import open_existing
from storage.local import LocalStore
from storage.release import ReleaseParts
from storage.staging import Staged
from storage.tags import access_tags

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from deltalake.transaction import RemoveAction

    from storage.base import ObjectStore

_log = logging.getLogger(__name__)

METADATA_KEY = "lockgate"
# No column statistics in the log: it must hold no data values (see the module docstring).
TABLE_CONFIGURATION = {"delta.dataSkippingNumIndexedCols": "0"}

Action = Literal["publish", "append", "merge", "rollback", "erase", "vacuum", "other"]
Mode = Literal["overwrite", "append", "merge"]
_MODE_ACTION: dict[Mode, Action] = {"overwrite": "publish", "append": "append", "merge": "merge"}
# How much of a frame is converted to Arrow at once when it is published (see the module docstring).
SLICE_BYTES = 64 * 2**20
# A staged batch's Parquet files are closed at this size (delta-rs's own writer's default target).
TARGET_FILE_BYTES = 100 * 2**20


class Commit(BaseModel):
    """Lockgate's record in one Delta commit: what produced the version, or who changed it and why."""

    model_config = ConfigDict(extra="ignore")

    action: Action
    run_id: str | None = None
    release_id: str | None = None
    release: ReleaseParts | None = None
    masked_columns: dict[str, str] = Field(default_factory=dict)
    rows: int | None = None  # rows in the table after the commit
    columns: list[str] = Field(default_factory=list)
    sensitivity: str | None = None
    pii: bool | None = None
    by: str | None = None
    reason: str | None = None
    restored_version: int | None = None
    erasure_id: str | None = None
    attachments: dict[str, str] = Field(default_factory=dict)  # name -> lake key

    def properties(self) -> CommitProperties:
        return CommitProperties(custom_metadata={METADATA_KEY: self.model_dump_json(exclude_none=True)})


class CuratedVersion(BaseModel):
    """One Delta version of a curated dataset, described by the commit that made it (or, for commits that
    did not change data, by the version before it)."""

    source: str
    version: int
    created_at: datetime
    operation: str  # Delta's: WRITE, MERGE, DELETE, RESTORE, VACUUM START, ...
    action: Action  # Lockgate's
    run_id: str | None = None
    release_id: str | None = None
    release: ReleaseParts | None = None
    masked_columns: dict[str, str] = Field(default_factory=dict)
    rows: int | None = None
    columns: list[str] = Field(default_factory=list)
    sensitivity: str | None = None
    pii: bool | None = None
    by: str | None = None
    reason: str | None = None
    restored_version: int | None = None
    erasure_id: str | None = None
    attachments: dict[str, str] = Field(default_factory=dict)
    restorable: bool | None = None  # None: not checked; False: files it needs were vacuumed

    @property
    def input_sha256(self) -> list[str]:
        return list(self.release.inputs) if self.release else []

    @property
    def contract_id(self) -> str | None:
        return self.release.contract_id if self.release else None

    @property
    def contract_version(self) -> str | None:
        return self.release.contract_version if self.release else None

    def attachment_key(self, name: str) -> str:
        try:
            return self.attachments[name]
        except KeyError:
            raise ObjectNotFound(f"{layout.curated_prefix(self.source)}{name}") from None

    def describe(self) -> str:
        """One line for people: what happened in this version, by whom and why."""
        text = self.action if self.action != "other" else self.operation.lower()
        if self.restored_version is not None:
            text += f" to v{self.restored_version}"
        if self.run_id:
            text += f" (run {self.run_id})"
        if self.by:
            text += f" by {self.by}"
        if self.reason:
            text += f": {self.reason}"
        return text


def table_key(source: str) -> str:
    """The table's folder in the lake, as a key prefix without the trailing slash."""
    return layout.curated_prefix(source).rstrip("/")


def table_uri(store: ObjectStore, source: str) -> str:
    return store.uri(table_key(source))


def delta_table(store: ObjectStore, source: str, version: int | None = None) -> DeltaTable | None:
    """The dataset's table (at `version`, else the latest), or None before its first publish."""
    try:
        return DeltaTable(table_uri(store, source), version=version, storage_options=store.table_options())
    except TableNotFoundError:
        return None
    except (DeltaError, OSError) as exc:  # OSError: delta-rs's object-store failures (an outage)
        raise StorageError(f"could not open the curated table of {source!r}: {_first_line(exc)}") from None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CAUSE = "\u21b3"  # how delta-rs marks each cause of an object-store error ("↳ ...")


def _first_line(exc: BaseException) -> str:
    """delta-rs messages can carry a Rust backtrace; people need the first line, and for an object-store
    error its innermost cause (e.g. ``Connection refused``), which the lines after it mark with ↳."""
    lines = [_ANSI.sub("", line).strip() for line in str(exc).strip().splitlines()]
    if not lines or not lines[0]:
        return type(exc).__name__
    causes = [line.removeprefix(_CAUSE).strip() for line in lines[1:] if line.startswith(_CAUSE)]
    return f"{lines[0]}: {causes[-1]}" if causes else lines[0]


def list_versions(store: ObjectStore, source: str, *, check_restorable: bool = False) -> list[CuratedVersion]:
    """Every version of the dataset, oldest first ([] before the first publish).

    `check_restorable` opens each version to see whether its files are all still there (erasure and
    retention vacuum old files, by design): one log read and a stat per file per version.
    """
    table = delta_table(store, source)
    if table is None:
        return []
    return _versions(store, source, table, check_restorable=check_restorable)


def _versions(
    store: ObjectStore, source: str, table: DeltaTable, *, check_restorable: bool
) -> list[CuratedVersion]:
    versions: list[CuratedVersion] = []
    for entry in sorted(table.history(), key=lambda e: int(e["version"])):
        number = int(entry["version"])
        commit = _commit_of(source, number, entry)
        operation = str(entry.get("operation", "UNKNOWN"))
        at = datetime.fromtimestamp(int(entry.get("timestamp", 0)) / 1000, UTC)
        base: dict[str, Any] = {}
        if commit is not None and commit.action == "rollback" and commit.restored_version is not None:
            restored = next((v for v in versions if v.version == commit.restored_version), None)
            base = _description(restored) if restored is not None else {}
        elif versions and (commit is None or commit.action not in {"publish", "append", "merge"}):
            base = _description(versions[-1])  # an erasure or a VACUUM: the same data, less or unchanged
        fields: dict[str, Any] = {**base}
        if commit is not None:
            fields.update(commit.model_dump(exclude_none=True, exclude_defaults=True))
        fields.setdefault("action", "vacuum" if operation.startswith("VACUUM") else "other")
        if (
            fields["action"] == "merge"
            and fields.get("rows") is None
            and versions
            and versions[-1].rows is not None
        ):
            inserted = entry.get("operationMetrics", {}).get("num_target_rows_inserted", 0)
            fields["rows"] = versions[-1].rows + int(inserted)
        if commit is None or commit.action not in {"rollback", "erase"}:
            fields = {k: v for k, v in fields.items() if k not in {"by", "reason"}}
        versions.append(
            CuratedVersion(
                source=source, version=number, created_at=at, operation=operation, **_known(fields)
            )
        )
    if check_restorable:
        for version in versions:
            version.restorable = _restorable(store, source, version.version)
    return versions


def _description(version: CuratedVersion) -> dict[str, Any]:
    """What a version says about its data (not about the commit that made it)."""
    return version.model_dump(
        include={
            "release_id",
            "release",
            "masked_columns",
            "rows",
            "columns",
            "sensitivity",
            "pii",
            "attachments",
        }
    )


def _known(fields: dict[str, Any]) -> dict[str, Any]:
    names = set(CuratedVersion.model_fields) - {"source", "version", "created_at", "operation"}
    return {k: v for k, v in fields.items() if k in names}


def _commit_of(source: str, version: int, entry: dict[str, Any]) -> Commit | None:
    raw = entry.get(METADATA_KEY)
    if raw is None:
        return None
    try:
        return Commit.model_validate_json(raw) if isinstance(raw, str) else Commit.model_validate(raw)
    except ValidationError:
        _log.warning(
            "version %d of %r carries unreadable Lockgate metadata; shown without it", version, source
        )
        return None


def _restorable(store: ObjectStore, source: str, version: int) -> bool:
    try:
        table = delta_table(store, source, version)
    except StorageError:
        return False
    if table is None:
        return False
    return not _missing_files(store, source, table)


def current_version(store: ObjectStore, source: str) -> CuratedVersion | None:
    """The latest version: the one every reader sees, or None before the first publish."""
    versions = list_versions(store, source)
    return versions[-1] if versions else None


def _file_keys(source: str, table: DeltaTable) -> dict[str, int]:
    """The lake key and logged size of every data file of the table's loaded version."""
    actions = pa.table(table.get_add_actions(flatten=True)).to_pydict()  # arro3 → pyarrow, no copy
    prefix = layout.curated_prefix(source)
    return {
        prefix + str(path): int(size)
        for path, size in zip(actions["path"], actions["size_bytes"], strict=True)
    }


def _missing_files(store: ObjectStore, source: str, table: DeltaTable) -> list[str]:
    """Data files the version needs that are absent or not the size its log recorded."""
    problems = []
    for key, size in _file_keys(source, table).items():
        if isinstance(store, StatsObjects):
            try:
                stored = store.stat(key).size
            except ObjectNotFound:
                problems.append(f"{key} is missing")
                continue
            if stored != size:
                problems.append(f"{key} holds {stored} bytes, its log recorded {size}")
        elif not store.exists(key):
            problems.append(f"{key} is missing")
    return problems


def check_current(store: ObjectStore, source: str) -> None:
    """Raise `IntegrityError` unless every data file of the current version is there, at its logged size."""
    table = delta_table(store, source)
    if table is None:
        return
    problems = _missing_files(store, source, table)
    if problems:
        raise IntegrityError(f"the current version of {source!r} cannot be read whole: {'; '.join(problems)}")


class Published(BaseModel):
    """What `publish` did: the current version afterwards, and whether this call made it."""

    version: CuratedVersion
    changed: bool


def publish(
    store: ObjectStore,
    source: str,
    data: pl.DataFrame | pa.Table | Staged,
    *,
    release: ReleaseParts,
    run_id: str,
    masked_columns: dict[str, str],
    mode: Mode = "overwrite",
    merge_keys: list[str] | None = None,
    sensitivity: str | None = None,
    pii: bool | None = None,
    attachments: dict[str, bytes] | None = None,
) -> Published:
    """Commit `data` as the dataset's next version; nothing is written when the release is current.

    ``overwrite`` replaces the table's rows, ``append`` adds them, ``merge`` upserts them on
    `merge_keys` (an incremental source with a primary key). ``attachments`` are stored before the
    commit, content-addressed in the table's ``_lockgate/`` folder (which VACUUM leaves alone), and
    named in the commit, so a version that exists has all of them. Written files get the dataset's
    access tags where the store keeps tags (S3).
    """
    table = delta_table(store, source)
    versions = _versions(store, source, table, check_restorable=False) if table is not None else []
    current = versions[-1] if versions else None
    rid = release.release_id
    if table is not None and current is not None and current.release_id == rid:
        # Overwriting again is the repair of a current version whose files were lost or changed.
        damaged = _missing_files(store, source, table) if mode == "overwrite" else []
        if not damaged:
            return Published(version=current, changed=False)
        _log.warning("%r: publishing release %s again: %s", source, rid, "; ".join(damaged))
    if isinstance(data, Staged):
        row_count, names = data.rows, data.columns
    elif isinstance(data, pl.DataFrame):
        row_count, names = data.height, data.columns
    else:
        row_count, names = data.num_rows, data.column_names
    arrow = _arrow(data)
    tags = access_tags("curated", source, sensitivity=sensitivity, pii=pii)
    stored = {
        name: _put_attachment(store, source, name, content, tags)
        for name, content in sorted((attachments or {}).items())
    }
    if mode == "merge" and not merge_keys:
        raise StorageError(f"merging into {source!r} needs key columns")
    rows: int | None = row_count
    if mode != "overwrite" and current is not None:
        # A merge's count is known only after it ran: `_versions` adds its inserted rows from Delta's metrics.
        rows = None if mode == "merge" or current.rows is None else current.rows + row_count
    commit = Commit(
        action=_MODE_ACTION[mode] if table is not None else "publish",  # the first version creates the table
        run_id=run_id,
        release_id=rid,
        release=release,
        masked_columns=dict(masked_columns),
        rows=rows,
        columns=list(names),
        sensitivity=tags["sensitivity"],
        pii=tags["pii"] == "true",
        attachments=stored,
    )
    before = set(_file_keys(source, table)) if table is not None else set()
    try:
        if mode == "merge" and table is not None:
            _merge(table, arrow, merge_keys or [], commit, _writer_properties(data))
        elif isinstance(data, Staged) and _commits_files(data, table):
            _commit_staged(
                store, source, data, table, "overwrite" if mode == "overwrite" else "append", commit, tags
            )
        else:
            write_deltalake(
                table_uri(store, source),
                arrow,
                mode="overwrite" if mode == "overwrite" or table is None else "append",
                schema_mode="overwrite" if mode == "overwrite" or table is None else "merge",
                configuration=TABLE_CONFIGURATION if table is None else None,
                commit_properties=commit.properties(),
                storage_options=store.table_options(),
                writer_properties=_writer_properties(data),
            )
    except CommitFailedError as exc:
        raise StorageError(
            f"{source!r} was changed by another writer while publishing ({_first_line(exc)}); "
            "retry the publish"
        ) from None
    except (DeltaError, OSError) as exc:
        raise StorageError(f"could not publish {source!r}: {_first_line(exc)}") from None
    after = delta_table(store, source)
    assert after is not None
    _tag_new_files(store, source, after, before, tags)
    return Published(version=_versions(store, source, after, check_restorable=False)[-1], changed=True)


def _arrow(data: pl.DataFrame | pa.Table | Staged) -> pa.Table | pa.RecordBatchReader:
    """Arrow for delta-rs: a frame as a stream of record batches converted a slice at a time, a staged
    batch as a stream of its parts' row groups; columns of no type (all nulls, never typed) become
    strings, which Delta and DuckDB's reader accept."""
    if isinstance(data, Staged):
        if data.rows == 0:
            return _arrow(data.lazy().collect())
        reader = data.reader()
        schema = pa.schema(
            [f.with_type(pa.large_string()) if pa.types.is_null(f.type) else f for f in reader.schema]
        )
        if schema == reader.schema:
            return reader
        return pa.RecordBatchReader.from_batches(schema, (batch.cast(schema) for batch in reader))
    if not isinstance(data, pl.DataFrame):
        return data
    nulls = [name for name, dtype in data.schema.items() if dtype == pl.Null]
    if nulls:
        data = data.with_columns(pl.col(nulls).cast(pl.String))
    if data.height == 0:  # an empty table still needs its schema written: a stream of no batches has it
        return data.to_arrow()
    step = slice_rows(data, SLICE_BYTES)
    frame = data

    def batches() -> Iterator[pa.RecordBatch]:
        for offset in range(0, frame.height, step):
            yield from frame.slice(offset, step).to_arrow().to_batches()

    return pa.RecordBatchReader.from_batches(frame.head(0).to_arrow().schema, batches())


def slice_rows(frame: pl.DataFrame, target_bytes: int) -> int:
    """Rows per slice so that a slice holds about `target_bytes` of the frame (at least one row)."""
    per_row = frame.estimated_size() / max(1, frame.height)
    return max(1, int(target_bytes // max(per_row, 1.0)))


def _commits_files(data: Staged, table: DeltaTable | None) -> bool:
    """Whether a staged batch is written as Parquet files of ours and committed as one transaction: a new
    table, or one whose schema it keeps (a change of schema goes through delta-rs's writer, which
    rewrites the table's metadata)."""
    if data.rows == 0:
        return False
    return table is None or Schema.from_arrow(_file_schema(data)) == table.schema()


def _file_schema(data: Staged) -> pa.Schema:
    """The stage's Arrow schema, columns of no type as strings (as `_arrow` gives delta-rs)."""
    fields = [f.with_type(pa.large_string()) if pa.types.is_null(f.type) else f for f in data.arrow_schema()]
    return pa.schema(fields)


def _commit_staged(
    store: ObjectStore,
    source: str,
    data: Staged,
    table: DeltaTable | None,
    mode: Literal["overwrite", "append"],
    commit: Commit,
    tags: dict[str, str],
) -> None:
    """Write the stage as Parquet files in the table's folder, a window per row group and a file per
    `TARGET_FILE_BYTES`, then commit them as one version, atomically.

    delta-rs's own writer holds the record batches it is streamed until the write ends (measured: 857 MB
    for 1M rows of text, 1,635 MB for 5M; delta-io/delta-rs#3578), so a staged batch, whose point is
    that it is never whole in memory, is written here and handed to delta-rs as add actions: memory is
    one window. Files not yet committed are invisible to readers; a crash before the commit leaves them
    to VACUUM, as a crash inside delta-rs's writer would.
    """
    schema = _file_schema(data)
    adds: list[AddAction] = []
    writer: pq.ParquetWriter | None = None
    path: Path | None = None
    rows = 0

    def close() -> None:
        nonlocal writer, rows
        if writer is None or path is None:
            return
        writer.close()
        name = f"part-{len(adds):05d}-{uuid.uuid4()}-c000.snappy.parquet"
        size = path.stat().st_size
        key = f"{table_key(source)}/{name}"
        if isinstance(store, LocalStore):  # the file is ours: moved into the table, not copied
            store.adopt_file(key, path, tags=tags)
        else:
            store.put_file(key, path, tags=tags)
            path.unlink()
        stats = json.dumps({"numRecords": rows})
        adds.append(AddAction(name, size, {}, int(time.time() * 1000), data_change=True, stats=stats))
        writer, rows = None, 0

    for part in data.parts:  # each row group is a window, read by Arrow alone (no copy through polars)
        source_file = pq.ParquetFile(part)
        for group in range(source_file.num_row_groups):
            window = source_file.read_row_group(group).cast(schema)
            if writer is None:
                path = data.folder / f"delta-{len(adds):05d}.parquet"
                writer = pq.ParquetWriter(path, schema, compression="snappy")
            writer.write_table(window, row_group_size=max(1, window.num_rows))
            rows += window.num_rows
            del window
            if path is not None and path.stat().st_size >= TARGET_FILE_BYTES:
                close()
        source_file.close()
    close()
    if table is None:
        create_table_with_add_actions(
            table_uri(store, source),
            Schema.from_arrow(schema),
            adds,
            mode="error",
            configuration=TABLE_CONFIGURATION,
            storage_options=store.table_options(),
            commit_properties=commit.properties(),
        )
    else:
        actions: list[AddAction | RemoveAction] = [*adds]
        table.create_write_transaction(actions, mode, schema, commit_properties=commit.properties())


def _writer_properties(data: pl.DataFrame | pa.Table | Staged) -> WriterProperties:
    """A staged batch is written a window of rows per Parquet row group: the writer buffers a row group
    before it flushes it (a million rows by default), and a staged batch must not be held whole. Other
    data gets delta-rs' defaults."""
    if not isinstance(data, Staged) or not data.parts:
        return WriterProperties()
    return WriterProperties(max_row_group_size=max(1, data.rows // data.windows))


def _merge(
    table: DeltaTable,
    arrow: pa.Table | pa.RecordBatchReader,
    keys: list[str],
    commit: Commit,
    writer_properties: WriterProperties,
) -> None:
    """Upsert on `keys`: matching rows are replaced, new ones inserted."""
    predicate = " AND ".join(f"t.{_ident(k)} = s.{_ident(k)}" for k in keys)
    (
        table.merge(
            arrow,
            predicate=predicate,
            source_alias="s",
            target_alias="t",
            commit_properties=commit.properties(),
            writer_properties=writer_properties,
        )
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )


def _ident(name: str) -> str:
    """A column name quoted for delta-rs predicates (DataFusion SQL)."""
    return '"' + name.replace('"', '""') + '"'


def _put_attachment(store: ObjectStore, source: str, name: str, content: bytes, tags: dict[str, str]) -> str:
    key = layout.curated_attachment_key(source, hashlib.sha256(content).hexdigest(), name)
    store.put_bytes_if_absent(key, content, tags=tags)
    return key


def _tag_new_files(
    store: ObjectStore, source: str, table: DeltaTable, before: set[str], tags: dict[str, str]
) -> None:
    if not isinstance(store, TagsObjects):
        return
    for key in sorted(set(_file_keys(source, table)) - before):
        store.set_tags(key, tags)


def read_current(store: ObjectStore, source: str) -> pl.DataFrame:
    """The current version's rows, after checking its files are all there."""
    return scan_current(store, source).collect()


def scan_current(store: ObjectStore, source: str) -> pl.LazyFrame:
    """The current version as a lazy frame (nothing is read until collected)."""
    check_current(store, source)
    if delta_table(store, source) is None:
        raise ObjectNotFound(table_key(source))
    return pl.scan_delta(table_uri(store, source), storage_options=store.table_options() or None)


def rollback(store: ObjectStore, source: str, to_version: int, *, by: str, reason: str) -> CuratedVersion:
    """Make an earlier version's data current again, as a new version that records who did it and why.

    Rolling back to the current version changes nothing. An unknown version raises `UnknownVersion`
    naming the known ones; a version whose files erasure or retention removed cannot be restored.
    """
    versions = list_versions(store, source)
    target = next((v for v in versions if v.version == to_version), None)
    if target is None:
        known = ", ".join(str(v.version) for v in versions) or "none"
        raise UnknownVersion(f"{source!r} has no version {to_version}; known versions: {known}")
    current = versions[-1]
    if current.version == to_version:
        _log.info("version %d of %r is already current; nothing changed", to_version, source)
        return current
    if not _restorable(store, source, to_version):
        raise UnknownVersion(
            f"version {to_version} of {source!r} can no longer be restored: erasure or retention removed "
            "files it needs"
        )
    table = delta_table(store, source)
    assert table is not None
    # The commit describes the data it restores: log retention may later remove the restored version's.
    commit = Commit(
        action="rollback", by=by, reason=reason, restored_version=to_version, **_description(target)
    )
    try:
        table.restore(to_version, commit_properties=commit.properties())
    except (DeltaError, OSError) as exc:
        raise StorageError(
            f"could not restore version {to_version} of {source!r}: {_first_line(exc)}"
        ) from None
    return list_versions(store, source)[-1]


class ErasedRows(BaseModel):
    """What `erase_rows` removed, or would remove on a dry run."""

    source: str
    rows: int
    version: int | None  # the version without the rows; None when nothing matched or on a dry run
    removed_files: list[str]  # lake keys VACUUM deleted (or would delete)


def erase_rows(
    store: ObjectStore,
    source: str,
    column: str,
    values: list[str],
    *,
    erasure_id: str,
    by: str,
    subject: str | None = None,
    dry_run: bool = False,
) -> ErasedRows:
    """Delete the rows whose `column` holds one of `values` (as stored: pseudonyms for masked columns),
    then VACUUM with zero retention, so that no version, past or current, still holds them.

    Versions older than the erasure can no longer be restored afterwards (`list_versions` says so with
    ``check_restorable``). The commit records the erasure id and who asked, never the values.
    """
    table = delta_table(store, source)
    if table is None or not values:
        return ErasedRows(source=source, rows=0, version=None, removed_files=[])
    if column not in table.schema().to_arrow().names:
        raise StorageError(f"{source!r} has no column {column!r} in its curated table")
    frame = pl.scan_delta(table_uri(store, source), storage_options=store.table_options() or None)
    matched = frame.filter(pl.col(column).cast(pl.String).is_in(values)).select(pl.len()).collect().item()
    if dry_run or matched == 0:
        # VACUUM would remove every file the current version does not need, and those holding the rows.
        older = (
            table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=True) if matched else []
        )
        prefix = layout.curated_prefix(source)
        return ErasedRows(
            source=source,
            rows=int(matched),
            version=None,
            removed_files=sorted(prefix + _relative(store, source, f) for f in older),
        )
    current = _versions(store, source, table, check_restorable=False)[-1]
    release = current.release
    if release is not None:
        # The subject's keyed hash, as the ingest flow records the erasures it applies (`drop_suppressed`):
        # re-running the same input after the erasure then gives this same release, and adds no version.
        release = release.model_copy(update={"erasures": sorted({*release.erasures, subject or erasure_id})})
    commit = Commit(
        action="erase",
        by=by,
        reason=f"erasure {erasure_id}",
        erasure_id=erasure_id,
        release=release,
        release_id=release.release_id if release is not None else None,
        rows=(current.rows - int(matched)) if current.rows is not None else None,
    )
    # A MERGE that deletes, not a DELETE: Delta writes a DELETE's predicate, values and all, into the
    # commit's log entry, which is never rewritten; a MERGE logs only its join condition.
    erased = pa.table({"lockgate_erased": pa.array(sorted(set(values)), pa.string())})
    predicate = f"CAST(t.{_ident(column)} AS STRING) = s.lockgate_erased"
    try:
        table.merge(
            erased,
            predicate=predicate,
            source_alias="s",
            target_alias="t",
            commit_properties=commit.properties(),
        ).when_matched_delete().execute()
        removed = table.vacuum(
            retention_hours=0,
            enforce_retention_duration=False,
            dry_run=False,
            commit_properties=_still_current(store, source, table),
        )
    except (DeltaError, OSError) as exc:
        raise StorageError(f"could not erase rows of {source!r}: {_first_line(exc)}") from None
    prefix = layout.curated_prefix(source)
    return ErasedRows(
        source=source,
        rows=int(matched),
        version=current.version + 1,
        removed_files=sorted(prefix + _relative(store, source, f) for f in removed),
    )


def _relative(store: ObjectStore, source: str, path: str) -> str:
    """A file as VACUUM names it (relative to the table, or a full URI) → relative to the table."""
    root = table_uri(store, source).rstrip("/") + "/"
    return path.removeprefix(root).removeprefix("file://" + root)


def _still_current(store: ObjectStore, source: str, table: DeltaTable) -> CommitProperties:
    """Lockgate's record for a commit that changes no data (VACUUM, table properties): the current
    version's description. Log retention removes older commits, and the latest must still say what
    the data is (its release above all: publishing and rollbacks compare release ids)."""
    current = _versions(store, source, table, check_restorable=False)[-1]
    return Commit(action="vacuum", **_description(current)).properties()


def vacuum_history(
    store: ObjectStore, source: str, older_than: timedelta, *, dry_run: bool = False
) -> list[str]:
    """Retention: delete data files that only versions older than `older_than` need, and log entries
    older than that; the current version's files are never touched. Returns the lake keys removed
    (or, on a dry run, those that would be).

    A full VACUUM: files no commit names (left by a writer that died before committing) go too, once
    older than `older_than`; younger ones may belong to a writer still at work."""
    table = delta_table(store, source)
    if table is None:
        return []
    hours = max(0, int(older_than.total_seconds() // 3600))
    try:
        # Its commits describe the current data: the log entries that did are about to be removed.
        described = _still_current(store, source, table)
        removed = table.vacuum(
            retention_hours=hours,
            enforce_retention_duration=False,
            dry_run=dry_run,
            commit_properties=described,
            full=True,
        )
        if not dry_run:
            days = max(0, older_than.days)
            wanted = f"interval {days} days"
            if table.metadata().configuration.get("delta.logRetentionDuration") != wanted:
                table.alter.set_table_properties(
                    {"delta.logRetentionDuration": wanted}, commit_properties=described
                )
            table.create_checkpoint()
            table.cleanup_metadata()
    except (DeltaError, OSError) as exc:
        raise StorageError(f"could not apply retention to {source!r}: {_first_line(exc)}") from None
    prefix = layout.curated_prefix(source)
    return sorted(prefix + _relative(store, source, f) for f in removed)


def table_bytes(store: ObjectStore, source: str) -> int:
    """Bytes of the current version's data files, as the log records them."""
    table = delta_table(store, source)
    return sum(_file_keys(source, table).values()) if table is not None else 0


class DatasetVersions(BaseModel):
    """What ``lockgate versions`` shows: a dataset's versions and which one is current."""

    source: str
    versions: list[CuratedVersion]  # oldest first
    current: int | None  # None before the first publish
    problem: str | None = None  # why the current version cannot be served whole


def dataset_versions(store: ObjectStore, source: str) -> DatasetVersions:
    """Every version (each checked for being restorable) and whether the current one is whole."""
    versions = list_versions(store, source, check_restorable=True)
    problem = None
    try:
        check_current(store, source)
    except IntegrityError as exc:
        problem = f"{exc}; `lockgate lake check` lists all problems"
    return DatasetVersions(
        source=source,
        versions=versions,
        current=versions[-1].version if versions else None,
        problem=problem,
    )


def lake_versions(lake: str, source: str) -> DatasetVersions:
    """`dataset_versions` of a lake that must already exist (reading never creates one)."""
    return dataset_versions(open_existing(lake), source)


def find_release(store: ObjectStore, release_id: str, sources: list[str]) -> list[CuratedVersion]:
    """Every version, among `sources`' tables, that carries `release_id`."""
    return [v for source in sources for v in list_versions(store, source) if v.release_id == release_id]


def rolled_back_releases(versions: list[CuratedVersion]) -> set[str]:
    """Releases an operator rolled back from: the release current just before each rollback."""
    rolled: set[str] = set()
    for before, version in itertools.pairwise(versions):
        if version.action == "rollback" and before.release_id and before.release_id != version.release_id:
            rolled.add(before.release_id)
    return rolled


__all__ = [
    "Commit",
    "CuratedVersion",
    "DatasetVersions",
    "ErasedRows",
    "Published",
    "check_current",
    "current_version",
    "dataset_versions",
    "delta_table",
    "erase_rows",
    "find_release",
    "lake_versions",
    "list_versions",
    "publish",
    "read_current",
    "rollback",
    "rolled_back_releases",
    "scan_current",
    "table_bytes",
    "table_key",
    "vacuum_history",
]
