"""The lake's Data Docs: one Great Expectations site that accumulates every run's validations.

Two parts, both under ``docs/``:

* ``docs/_results/<source>/<run_id>/validation.json`` — a `DocsRecord`: one validation's result (GX's
  JSON, summary form, exception texts scrubbed) and the site pages rendered from it. The site is
  derived from these records, so rebuilding it never needs the data again, and retention prunes a
  run by removing its record and pages.
* ``docs/_site/`` — the HTML site itself (``index.html``, ``validations/...``, ``static/...``), what
  ``lockgate docs serve`` serves.

Records and pages hold counts, rule settings and names, no data values, so they are ``layer=meta``.
Rendering is Great Expectations' business (:mod:`contracts.data_docs`); this module only keeps files.
Lakes written before the single site kept a folder per source and run (``docs/<source>/<run_id>/``);
retention still prunes those.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from storage import layout
from storage.errors import ObjectNotFound
from storage.expired import Expired, expired_runs
from storage.tags import SENSITIVITIES, access_tags

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from storage.base import ObjectStore

SITE_SOURCE = "_docs"  # the `source` tag of the site's shared files (index, static assets)


class DocsRecord(BaseModel):
    """One source's validation in one run, as the Data Docs site is built from it."""

    source: str
    run_id: str
    sensitivity: str | None = None  # the passport's, for the tags of the pages and the index
    pages: list[str] = Field(default_factory=list)  # site paths rendered from this result
    result: dict[str, Any]  # Great Expectations' validation result, as JSON


def save_record(store: ObjectStore, record: DocsRecord) -> str:
    """Store a validation's record (replacing one of the same source and run); returns its key."""
    key = layout.docs_result_key(record.source, record.run_id)
    tags = access_tags("meta", record.source, sensitivity=record.sensitivity, pii=False)
    store.put_bytes(key, record.model_dump_json().encode(), tags=tags)
    return key


def load_records(store: ObjectStore) -> list[DocsRecord]:
    """Every record in the lake, by source and run; one that is gone or unreadable is left out (the
    site then simply does not list it)."""
    records = []
    for key in store.list(layout.DOCS_RESULTS_PREFIX):
        if not key.endswith("/validation.json"):
            continue
        try:
            records.append(DocsRecord.model_validate_json(store.get_bytes(key)))
        except (ObjectNotFound, ValidationError, ValueError):
            continue
    return sorted(records, key=lambda r: (r.source, r.run_id))


def site_tags(records: list[DocsRecord]) -> dict[str, str]:
    """Tags of the index page: it names every listed source's runs, so it is as sensitive as the most
    sensitive of them."""
    levels = [r.sensitivity or "restricted" for r in records] or ["internal"]
    highest = max(levels, key=SENSITIVITIES.index)
    return access_tags("meta", SITE_SOURCE, sensitivity=highest, pii=False)


def asset_tags() -> dict[str, str]:
    """Tags of the site's static files: third-party stylesheets, scripts and fonts, public."""
    return access_tags("meta", SITE_SOURCE, sensitivity="public", pii=False)


def page_tags(record: DocsRecord) -> dict[str, str]:
    return access_tags("meta", record.source, sensitivity=record.sensitivity, pii=False)


def upload_site_files(
    store: ObjectStore, folder: Path, paths: list[str], tags: dict[str, str], *, only_missing: bool = False
) -> list[str]:
    """Copy built site files (paths relative to `folder`) into the lake's site; returns what was copied.

    With `only_missing`, files the site already has are skipped: static assets are versioned by their
    path, so an existing one is the same file.
    """
    existing = set(store.list(layout.DOCS_SITE_PREFIX)) if only_missing else set()
    copied = []
    for path in paths:
        key = layout.docs_site_key(path)
        if key in existing:
            continue
        store.put_file(key, folder / path, tags=tags)
        copied.append(path)
    return copied


def site_pages(store: ObjectStore) -> list[str]:
    """Paths of the site's validation pages, as the site holds them now."""
    prefix = layout.DOCS_SITE_PREFIX + "validations/"
    return [key.removeprefix(layout.DOCS_SITE_PREFIX) for key in store.list(prefix)]


def expired_docs(store: ObjectStore, source: str, cutoff: datetime) -> Expired:
    """A source's Data Docs older than the cutoff: its expired validation records with the site pages
    rendered from them, and the run folders of the former per-run layout."""
    expired = expired_runs(store, layout.docs_source_prefix(source), cutoff)
    records = expired_runs(store, layout.docs_results_prefix(source), cutoff)
    for key in records.keys:
        if key.endswith("/validation.json"):
            expired.keys.extend(_pages_of(store, key))
        expired.keys.append(key)
    return expired


def _pages_of(store: ObjectStore, key: str) -> list[str]:
    """The site keys of a record's pages that the site still holds (pages go before their record)."""
    try:
        record = DocsRecord.model_validate_json(store.get_bytes(key))
    except (ObjectNotFound, ValidationError, ValueError):
        return []
    keys = [layout.docs_site_key(page) for page in record.pages]
    return [k for k in keys if store.exists(k)]


__all__ = [
    "SITE_SOURCE",
    "DocsRecord",
    "asset_tags",
    "expired_docs",
    "load_records",
    "page_tags",
    "save_record",
    "site_pages",
    "site_tags",
    "upload_site_files",
]
