"""Data Docs in the lake: the HTML report Great Expectations renders for each validation, kept per run.

The reports are rendered from summary results (counts and rule settings, no data values), so they are
tagged ``layer=meta`` and can be shared with everyone who may see the dataset's quality.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage import layout
from storage.tags import access_tags

if TYPE_CHECKING:
    from pathlib import Path

    from storage.base import ObjectStore


def publish_docs(
    store: ObjectStore, source: str, run_id: str, site: Path, *, sensitivity: str | None = None
) -> str:
    """Upload a rendered Data Docs folder; returns the URI of its index page.

    An upload that fails half-way (a full disk) removes what it uploaded: no half report stays.
    """
    prefix = layout.docs_prefix(source, run_id)
    tags = access_tags("meta", source, sensitivity=sensitivity, pii=False)
    uploaded: list[str] = []
    try:
        for path in sorted(p for p in site.rglob("*") if p.is_file()):
            key = prefix + path.relative_to(site).as_posix()
            store.put_file(key, path, tags=tags)
            uploaded.append(key)
    except Exception:
        for key in uploaded:
            store.delete(key)
        raise
    return store.uri(prefix + "index.html")
