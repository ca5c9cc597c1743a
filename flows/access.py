"""Role-scoped outputs: build what each role may read, after every publish.

`build_role_outputs` resolves the catalog's ``access.yaml`` (`labeling.access`, labels datasets
included) and writes each role's own copy of its datasets under ``roles/<role>/`` (`storage.roles`),
decrypting the columns its grant shows in clear. The ingest flow, the labeling collect flow and erasure
call it after they publish. Querying that copy as the role is `flows.role_session`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prefect import get_run_logger

from contracts.encryption import decrypt_column
from contracts.keys import key_id, resolve_key
from flows.catalog_changes import record_catalog_changes
from flows.runs import current_run_id, run_wide_task
from flows.settings import current_settings
from labeling.access import catalog_access
from sources.access import Visibility
from sources.catalog import Catalog, load_catalog
from storage import layout, roles
from storage.curated import current_version, scan_current
from storage.roles import RoleDataset, RoleManifest
from storage.store import open_store

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic import SecretStr

    from flows.settings import Settings
    from sources.access import DatasetAccess, RoleAccess
    from storage.base import ObjectStore
    from storage.curated import CuratedVersion


@dataclass(frozen=True)
class RoleBuild:
    """What one build wrote for one role."""

    role: str
    datasets: list[str]
    written: int  # objects written (0 when nothing changed)
    removed: int  # objects no longer named, deleted
    database: str


def build_role_outputs(
    catalog: Path | Catalog, lake: str, *, warehouse: str | None = None, settings: Settings | None = None
) -> list[RoleBuild]:
    """Write every role's output from the current curated versions; remove roles no longer defined.

    `catalog` is the catalog's folder, or the catalog a flow has already loaded (loading one parses
    every passport and contract again). A catalog without ``access.yaml`` defines no roles: any role
    outputs the lake holds are removed. Masking keys for decrypted columns come from `settings`
    (default: those in force) or Prefect Secret blocks.
    """
    configured = (settings or current_settings()).keys
    if isinstance(catalog, Path):
        catalog = load_catalog(catalog)
    granted = catalog_access(catalog) or []
    store = open_store(lake)
    levels = {d.dataset: d.sensitivity for access in granted for d in access.datasets}
    builds = [_build_role(store, lake, access, levels, warehouse, configured) for access in granted]
    for role in sorted(set(roles.list_roles(store)) - {a.role for a in granted}):
        roles.remove_role(store, role, layout.role_database_path(lake, role, warehouse))
    return builds


def _build_role(
    store: ObjectStore,
    lake: str,
    access: RoleAccess,
    levels: dict[str, str],
    warehouse: str | None,
    configured: Mapping[str, SecretStr],
) -> RoleBuild:
    datasets: dict[str, RoleDataset] = {}
    denied: dict[str, str] = {}
    written = 0
    for grant in access.datasets:
        if not grant.readable:
            denied[grant.dataset] = grant.reason
            continue
        version = current_version(store, grant.dataset)
        if version is None:
            denied[grant.dataset] = "not published yet"
            continue
        dataset, wrote = _build_dataset(store, access.role, grant, version, configured)
        datasets[grant.dataset] = dataset
        written += wrote
    manifest = RoleManifest(
        role=access.role,
        description=access.description,
        users=access.users,
        built_at=datetime.now(UTC),
        datasets=datasets,
        denied=denied,
        sensitivity=levels,
    )
    path = layout.role_database_path(lake, access.role, warehouse)
    roles.build_database(store, manifest, path)
    roles.write_manifest(store, manifest)
    removed = roles.prune(store, access.role, {d.key for d in datasets.values()})
    return RoleBuild(access.role, sorted(datasets), written, removed, str(path))


def _build_dataset(
    store: ObjectStore,
    role: str,
    grant: DatasetAccess,
    version: CuratedVersion,
    configured: Mapping[str, SecretStr],
) -> tuple[RoleDataset, bool]:
    """One dataset of a role's output: the columns the role sees, decrypted where it sees them in clear."""
    present = set(version.columns) if version.columns else {c.name for c in grant.columns}
    shown = [c for c in grant.visible if c.name in present]
    keys = {c.name: resolve_key(c.decrypt_key, configured) for c in shown if c.decrypt_key}
    modes = {c.name: "decrypted" if c.name in keys else c.visibility.value for c in shown}
    spec = {"columns": modes, "keys": {name: key_id(key) for name, key in keys.items()}}
    fingerprint = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    key = roles.role_object_key(role, grant.dataset, version.version, fingerprint)
    wrote = False
    if not store.exists(key):
        frame = scan_current(store, grant.dataset).select([c.name for c in shown]).collect()
        if keys:
            frame = frame.with_columns([decrypt_column(frame.get_column(n), k) for n, k in keys.items()])
        wrote = roles.put_role_dataset(
            store,
            key,
            frame.to_arrow(),
            role=role,
            dataset=grant.dataset,
            sensitivity=grant.sensitivity,
            pii=grant.pii,
        )
    hidden = {c.name: c.reason for c in grant.columns if c.visibility is Visibility.NONE}
    dataset = RoleDataset(
        name=grant.dataset,
        key=key,
        version=version.version,
        sensitivity=grant.sensitivity,
        pii=grant.pii,
        columns=modes,
        hidden=hidden,
    )
    return dataset, wrote


# --- hooks of the ingest flow --------------------------------------------------------------------------


@run_wide_task("role-outputs")
def role_outputs_task(catalog: str | Catalog, lake: str, warehouse: str | None = None) -> list[RoleBuild]:
    """Bring every role's output in line with the current curated versions and ``access.yaml``."""
    builds = build_role_outputs(
        Path(catalog) if isinstance(catalog, str) else catalog, lake, warehouse=warehouse
    )
    for build in builds:
        get_run_logger().info(
            "role %s: %d dataset(s), %d object(s) written, %d removed",
            build.role,
            len(build.datasets),
            build.written,
            build.removed,
        )
    return builds


def refresh_role_outputs(catalog: Catalog, lake: str, warehouse: str | None) -> None:
    """After a run's publishes: rebuild the role outputs from the catalog the run loaded (`refresh_roles`)."""
    if catalog.sources:
        refresh_roles(catalog, lake, warehouse)


def refresh_roles(catalog: str | Catalog, lake: str, warehouse: str | None) -> None:
    """After a flow published: rebuild the role outputs. A failure is logged, never fails the flow:
    role outputs then stay at what they were, which their roles were allowed to read."""
    state = role_outputs_task(catalog, lake, warehouse, return_state=True)
    if state.is_failed():
        error = state.result(raise_on_failure=False)
        get_run_logger().error("role outputs not rebuilt: %s", error)


def note_catalog_changes(catalog: Catalog, lake: str, actor: str) -> None:
    """At a run's start: a ``catalog.changed`` audit entry per passport, contract or access.yaml changed
    since the last run (`flows.catalog_changes`)."""
    changed = record_catalog_changes(open_store(lake), catalog, actor=actor, run_id=current_run_id())
    if changed:
        get_run_logger().info("%d catalog file(s) changed since the last run (see `lockgate audit`)", changed)
