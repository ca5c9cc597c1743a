"""The curated layer: immutable, numbered versions of each dataset and one pointer to the current one.

A version is written completely (data, then its ``_version.json``) before ``_current.json`` moves to it,
so a reader following the pointer never sees a half-written version, and a rollback is one pointer
write. Versions are claimed with create-if-absent writes, so two concurrent publishers of the same
source cannot overwrite each other: the loser gets an error and its task retries on the next number.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime

import polars as pl
from pydantic import BaseModel

from storage import layout
from storage.base import ObjectNotFound, ObjectStore, StorageError
from storage.layout import is_s3


class UnknownVersion(StorageError):  # noqa: N818
    """A version number that was never published for the source."""


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

    def same_inputs(
        self, input_sha256: list[str], contract_id: str, contract_version: str, masked_columns: dict[str, str]
    ) -> bool:
        """Same raw bytes through the same contract and masking: publishing again would change nothing."""
        return (
            sorted(self.input_sha256) == sorted(input_sha256)
            and (self.contract_id, self.contract_version) == (contract_id, contract_version)
            and self.masked_columns == masked_columns
        )


def _tags(source: str) -> dict[str, str]:
    return {"layer": "curated", "source": source}


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
) -> CuratedVersion:
    """Publish frame as the source's next version and make it current; idempotent for unchanged input.

    If the current version came from the same raw checksums, contract id+version and masking, it is
    returned as is and nothing is written (its run_id is the earlier run's, which is how callers tell).
    """
    current = current_version(store, source)
    if current is not None and current.same_inputs(
        input_sha256, contract_id, contract_version, masked_columns
    ):
        return current

    version = _next_version(store, source)
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    data = buffer.getvalue()
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
        sha256=hashlib.sha256(data).hexdigest(),
    )
    # Data first, then its description, each only if the slot is free: a concurrent publisher that
    # picked the same number fails here instead of replacing what the other one wrote.
    if not store.put_bytes_if_absent(meta.data_key, data, tags=_tags(source)):
        raise StorageError(
            f"curated version slot {meta.data_key!r} was taken concurrently; retry the publish"
        )
    meta_key = layout.curated_meta_key(source, version)
    if not store.put_bytes_if_absent(meta_key, meta.model_dump_json(indent=2).encode(), tags=_tags(source)):
        raise StorageError(f"curated version {meta_key!r} was written concurrently; retry the publish")
    _write_pointer(store, meta, reason="publish")
    return meta


def _next_version(store: ObjectStore, source: str) -> int:
    """One past the highest version directory seen, complete or not, so a crashed attempt is never reused."""
    numbers = [layout.version_of(source, key) for key in store.list(layout.curated_prefix(source))]
    return max((n for n in numbers if n is not None), default=0) + 1


def _write_pointer(store: ObjectStore, meta: CuratedVersion, *, reason: str) -> None:
    """The pointer is the only curated object ever overwritten; one small atomic put moves readers."""
    pointer = {
        "version": meta.version,
        "data_key": meta.data_key,
        "updated_at": datetime.now(UTC).isoformat(),
        "reason": reason,
    }
    store.put_bytes(
        layout.current_pointer_key(meta.source),
        json.dumps(pointer, indent=2).encode(),
        tags=_tags(meta.source),
    )


def _read_version(store: ObjectStore, source: str, version: int) -> CuratedVersion:
    return CuratedVersion.model_validate_json(store.get_bytes(layout.curated_meta_key(source, version)))


def current_version(store: ObjectStore, source: str) -> CuratedVersion | None:
    """The version readers should use, or None before the first publish."""
    key = layout.current_pointer_key(source)
    try:
        pointer = json.loads(store.get_bytes(key))
    except ObjectNotFound:
        return None
    try:
        return _read_version(store, source, int(pointer["version"]))
    except ObjectNotFound as exc:
        raise StorageError(f"{key!r} points to missing version {pointer['version']} of {source!r}") from exc


def list_versions(store: ObjectStore, source: str) -> list[CuratedVersion]:
    """Every complete version (one with its ``_version.json``), oldest first."""
    numbers = sorted(
        number
        for key in store.list(layout.curated_prefix(source))
        if key.endswith("/" + layout.VERSION_FILE) and (number := layout.version_of(source, key)) is not None
    )
    return [_read_version(store, source, n) for n in numbers]


def set_current(store: ObjectStore, source: str, version: int, *, reason: str) -> CuratedVersion:
    """Point readers at an existing version (a rollback or roll-forward); the versions stay untouched."""
    try:
        meta = _read_version(store, source, version)
    except (ObjectNotFound, ValueError):
        known = [v.version for v in list_versions(store, source)]
        raise UnknownVersion(
            f"{source!r} has no version {version}; known versions: {', '.join(map(str, known)) or 'none'}"
        ) from None
    _write_pointer(store, meta, reason=reason)
    return meta


def read_current(store: ObjectStore, source: str) -> pl.DataFrame:
    """The current version's data; local lakes are read in place, S3 objects through memory."""
    meta = current_version(store, source)
    if meta is None:
        raise ObjectNotFound(layout.current_pointer_key(source))
    uri = store.uri(meta.data_key)
    if is_s3(uri):
        return pl.read_parquet(io.BytesIO(store.get_bytes(meta.data_key)))
    return pl.read_parquet(uri)
