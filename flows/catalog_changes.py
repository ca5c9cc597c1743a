"""Which catalog files changed since the last ingest run: passports, contracts and ``access.yaml``.

Each run hashes those files and compares them with the hashes the previous run left in the lake
(``catalog/hashes.json``); every file added, changed or removed since becomes a ``catalog.changed``
entry in the audit log, with both hashes, so a change to who may see what, or to how a column is
masked, is on record even when nobody announced it.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from sources.access import ACCESS_FILE
from storage import audit, layout
from storage.errors import ObjectNotFound
from storage.tags import access_tags

if TYPE_CHECKING:
    from pathlib import Path

    from sources.catalog import Catalog
    from storage.base import ObjectStore


def catalog_hashes(catalog: Catalog) -> dict[str, dict[str, str]]:
    """File (relative to the catalog) → its kind and sha256, for every passport, contract and access.yaml."""
    files: dict[str, tuple[str, Path]] = {}
    for source in catalog.sources:
        files[_relative(catalog.root, source.passport_path)] = ("passport", source.passport_path)
        files[_relative(catalog.root, source.contract_path)] = ("contract", source.contract_path)
    access = catalog.root / ACCESS_FILE
    if access.is_file():
        files[ACCESS_FILE] = ("access", access)
    return {
        name: {"kind": kind, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        for name, (kind, path) in sorted(files.items())
    }


def _relative(root: Path, path: Path) -> str:
    for base in (root, root.resolve()):
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return path.name


def record_catalog_changes(
    store: ObjectStore, catalog: Catalog, *, actor: str, run_id: str | None = None
) -> int:
    """Append one ``catalog.changed`` entry per file changed since the last run; how many were appended."""
    now = catalog_hashes(catalog)
    try:
        before: dict[str, dict[str, str]] = json.loads(store.get_bytes(layout.catalog_hashes_key()))
    except ObjectNotFound:
        before = {}
    changed = 0
    for name in sorted(set(now) | set(before)):
        old, new = before.get(name), now.get(name)
        if old is not None and new is not None and old["sha256"] == new["sha256"]:
            continue
        change = "added" if old is None else "removed" if new is None else "changed"
        entry = new or old
        assert entry is not None
        audit.append(
            store,
            actor=actor,
            action="catalog.changed",
            details={
                "file": name,
                "kind": entry["kind"],
                "change": change,
                "sha256_before": old["sha256"] if old else None,
                "sha256_after": new["sha256"] if new else None,
                "run_id": run_id,
            },
        )
        changed += 1
    if changed or not before:
        data = json.dumps(now, indent=2, sort_keys=True).encode("utf-8")
        store.put_bytes(layout.catalog_hashes_key(), data, tags=access_tags("meta", ""))
    return changed
