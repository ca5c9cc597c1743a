"""The quarantine layer: rows a contract set aside, kept beside raw so their owners can fix them.

Quarantined rows are stored as conformed (typed) but unmasked — like raw data, they exist so the
people responsible for the source can see what was wrong (CSV records that could not be read as rows
are stored as their fields' text, with the file and line they start at) — and they are tagged
``layer=quarantine`` with the source's sensitivity, so only roles that may read raw may read them. One
Parquet object per source and run, written create-if-absent: a retried task never replaces what an
earlier attempt wrote.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import polars as pl

from storage import layout
from storage.tags import access_tags

if TYPE_CHECKING:
    from storage.base import ObjectStore


def write_quarantine(
    store: ObjectStore,
    source: str,
    run_id: str,
    rows: pl.DataFrame,
    *,
    sensitivity: str | None = None,
    pii: bool | None = None,
) -> str:
    """Store a run's quarantined rows; returns their key (unchanged if this run already stored them)."""
    key = layout.quarantine_key(source, run_id)
    buffer = io.BytesIO()
    rows.write_parquet(buffer, compression="zstd")
    tags = access_tags("quarantine", source, sensitivity=sensitivity, pii=pii)
    store.put_bytes_if_absent(key, buffer.getvalue(), tags=tags)
    return key


def read_quarantine(store: ObjectStore, source: str, run_id: str) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(store.get_bytes(layout.quarantine_key(source, run_id))))
