"""Role-scoped outputs and queries: build what each role may read, and query it as that role.

`build_role_outputs` resolves the catalog's ``access.yaml`` (`labeling.access`) and writes each role's
own copy of its datasets under ``roles/<role>/`` (`storage.roles`), decrypting the columns its grant
shows in clear; the ingest flow calls it after every run. `query_as` and `role_connection` open a role's
copy, and nothing else, in a locked DuckDB session, for a user the policy grants the role to.

Queries are checked against the grant before they run (DuckDB's own parser says which datasets and
columns they name), so a denied dataset or column fails with what is denied and why rather than with
"column not found". Every denial, and every query that reads confidential or restricted data, goes to
the lake's audit log with the user, the role, the datasets and columns named and the query's sha256:
never its text, which may hold values (``WHERE email = '…'``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from contracts.encryption import decrypt_column
from contracts.keys import key_id, resolve_key
from flows.catalog_changes import record_catalog_changes
from flows.runs import IO_RETRIES, IO_RETRY_DELAYS, current_run_id
from flows.settings import current_settings
from labeling.access import catalog_access
from sources.access import Visibility
from sources.catalog import load_catalog
from storage import audit, layout, roles
from storage.curated import current_version, scan_current
from storage.errors import AccessDenied, NotSelect, QueryError
from storage.integrity import open_existing
from storage.roles import RoleDataset, RoleManifest
from storage.sql_refs import sql_refs
from storage.store import open_store
from storage.warehouse import query_message

if TYPE_CHECKING:
    from collections.abc import Mapping

    import polars as pl
    from pydantic import SecretStr

    from flows.settings import Settings
    from sources.access import DatasetAccess, RoleAccess
    from sources.catalog import Catalog, Source
    from storage.base import ObjectStore
    from storage.curated import CuratedVersion
    from storage.sql_refs import SqlRefs

AUDITED_LEVELS = frozenset({"confidential", "restricted"})


@dataclass(frozen=True)
class RoleBuild:
    """What one build wrote for one role."""

    role: str
    datasets: list[str]
    written: int  # objects written (0 when nothing changed)
    removed: int  # objects no longer named, deleted
    database: str


def build_role_outputs(
    catalog_root: Path, lake: str, *, warehouse: str | None = None, settings: Settings | None = None
) -> list[RoleBuild]:
    """Write every role's output from the current curated versions; remove roles no longer defined.

    A catalog without ``access.yaml`` defines no roles: any role outputs the lake holds are removed.
    Masking keys for decrypted columns come from `settings` (default: those in force) or Prefect
    Secret blocks.
    """
    configured = (settings or current_settings()).keys
    catalog = load_catalog(catalog_root)
    granted = catalog_access(catalog) or []
    store = open_store(lake)
    levels = {s.name: s.passport.sensitivity.value for s in catalog.sources}
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


# --- querying as a role ------------------------------------------------------------------------------


@dataclass
class Touched:
    """The datasets and columns a query names, as far as the role's grant is concerned."""

    datasets: set[str] = field(default_factory=set)
    columns: set[str] = field(default_factory=set)  # dataset.column


@dataclass(frozen=True)
class QueryAs:
    """A query's result and what it read."""

    frame: pl.DataFrame
    role: str
    user: str
    datasets: list[str]
    columns: list[str]


def _digest(sql: str) -> str:
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()


def _denied(
    store: ObjectStore, *, user: str, role: str, sql: str, message: str, touched: Touched | None = None
) -> AccessDenied:
    """Record a denial in the audit log and return the error to raise (the message names no value)."""
    details: dict[str, Any] = {"query_sha256": _digest(sql), "reason": message}
    if touched is not None:
        details |= {"datasets": sorted(touched.datasets), "columns": sorted(touched.columns)}
    audit.append(store, actor=user, role=role, action="query.denied", outcome="denied", details=details)
    return AccessDenied(message)


def _manifest_for(store: ObjectStore, role: str, user: str, sql: str) -> RoleManifest:
    """The role's manifest if the user holds the role; denials are audited."""
    try:
        manifest = roles.read_manifest(store, role)
    except AccessDenied as exc:
        raise _denied(store, user=user, role=role, sql=sql, message=str(exc)) from None
    if user not in manifest.users:
        message = f"user {user!r} does not hold role {role!r}: access.yaml grants it to no such user or group"
        raise _denied(store, user=user, role=role, sql=sql, message=message)
    return manifest


def check_query(manifest: RoleManifest, refs: SqlRefs) -> tuple[Touched, str | None]:
    """What the query names within the role's datasets, and the first denial (None when allowed)."""
    touched = Touched()
    role = manifest.role
    if refs.functions:
        names = ", ".join(sorted(refs.functions))
        return (
            touched,
            f"table functions ({names}) are not allowed as role {role!r}: query its datasets by name",
        )
    for table in sorted(refs.tables):
        if table in manifest.denied:
            return touched, f"dataset {table!r} is denied to role {role!r}: {manifest.denied[table]}"
        if table in manifest.datasets:
            touched.datasets.add(table)
    aliases = {alias: table for alias, table in refs.aliases.items() if table in touched.datasets}
    for ref in refs.columns:
        owner = aliases.get(ref.parts[0]) if len(ref.parts) > 1 else None
        name = ref.parts[1] if owner else ref.parts[0]
        candidates = [owner] if owner else sorted(touched.datasets)
        visible = [d for d in candidates if name in manifest.datasets[d].columns]
        hidden = [d for d in candidates if name in manifest.datasets[d].hidden]
        if hidden and not visible:
            dataset = hidden[0]
            why = manifest.datasets[dataset].hidden[name]
            return touched, f"column {dataset}.{name} is hidden from role {role!r} ({why})"
        touched.columns.update(f"{d}.{name}" for d in visible)
    for qualifier in refs.star:
        if qualifier is None:
            starred = sorted(touched.datasets)
        else:
            starred = [aliases[qualifier]] if qualifier in aliases else []
        touched.columns.update(f"{d}.{c}" for d in starred for c in manifest.datasets[d].columns)
    return touched, None


def _is_audited(manifest: RoleManifest, touched: Touched) -> bool:
    return any(manifest.datasets[d].sensitivity in AUDITED_LEVELS for d in touched.datasets)


def query_as(
    lake: str, role: str, sql: str, *, user: str | None = None, warehouse: str | None = None
) -> QueryAs:
    """Run a SELECT as `role` on the role's own output, for `user` (default: the settings' user).

    Raises `AccessDenied` naming what is denied and why (an unknown role, a user without the role, a
    denied dataset or column, a table function, a statement other than SELECT), `QueryError` for what
    DuckDB refuses.
    """
    actor = user or current_settings().user
    store = open_existing(lake)
    manifest = _manifest_for(store, role, actor, sql)
    try:
        refs = sql_refs(sql)
    except NotSelect as exc:  # an attempt to write, attach, load or reconfigure: a denial, on record
        message = f"only SELECT statements run as role {role!r}; {exc}"
        raise _denied(store, user=actor, role=role, sql=sql, message=message) from None
    touched, denial = check_query(manifest, refs)
    if denial is not None:
        raise _denied(store, user=actor, role=role, sql=sql, message=denial, touched=touched)
    path = layout.role_database_path(lake, role, warehouse or current_settings().warehouse)
    details: dict[str, Any] = {
        "query_sha256": _digest(sql),
        "datasets": sorted(touched.datasets),
        "columns": sorted(touched.columns),
    }
    source = next(iter(touched.datasets)) if len(touched.datasets) == 1 else None
    con = roles.connect_role(store, manifest, path)
    try:
        frame = con.execute(sql).pl()
    except duckdb.Error as exc:
        if _is_audited(manifest, touched):
            failed = details | {"error": type(exc).__name__}
            audit.append(
                store, actor=actor, role=role, action="query", source=source, outcome="failed", details=failed
            )
        raise QueryError(query_message(exc)) from None
    finally:
        con.close()
    if _is_audited(manifest, touched):
        details["rows"] = frame.height
        audit.append(store, actor=actor, role=role, action="query", source=source, details=details)
    return QueryAs(frame, role, actor, sorted(touched.datasets), sorted(touched.columns))


def role_connection(
    lake: str, role: str, user: str | None = None, *, warehouse: str | None = None
) -> duckdb.DuckDBPyConnection:
    """A locked, read-only DuckDB connection on `role`'s output, for `user` (default: the settings' user).

    The session reads the role's own objects and nothing else (see `storage.roles.connect_role`).
    Queries on it are not checked or audited one by one: opening it is audited when the role's output
    holds confidential or restricted data. Close it when done.
    """
    actor = user or current_settings().user
    store = open_existing(lake)
    manifest = _manifest_for(store, role, actor, "")
    path = layout.role_database_path(lake, role, warehouse or current_settings().warehouse)
    con = roles.connect_role(store, manifest, path)
    sensitive = sorted(d.name for d in manifest.datasets.values() if d.sensitivity in AUDITED_LEVELS)
    if sensitive:
        audit.append(store, actor=actor, role=role, action="query.session", details={"datasets": sensitive})
    return con


# --- hooks of the ingest flow --------------------------------------------------------------------------


@task(name="role-outputs", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAYS, cache_policy=NO_CACHE)
def role_outputs_task(catalog: str, lake: str, warehouse: str | None = None) -> list[RoleBuild]:
    """Bring every role's output in line with the current curated versions and ``access.yaml``."""
    builds = build_role_outputs(Path(catalog), lake, warehouse=warehouse)
    for build in builds:
        get_run_logger().info(
            "role %s: %d dataset(s), %d object(s) written, %d removed",
            build.role,
            len(build.datasets),
            build.written,
            build.removed,
        )
    return builds


def refresh_role_outputs(sources: list[Source], lake: str, warehouse: str | None) -> None:
    """After a run's publishes: rebuild the role outputs. A failure is logged, never fails the run:
    role outputs then stay at what they were, which their roles were allowed to read."""
    if not sources:
        return
    state = role_outputs_task(str(sources[0].catalog_root), lake, warehouse, return_state=True)
    if state.is_failed():
        error = state.result(raise_on_failure=False)
        get_run_logger().error("role outputs not rebuilt: %s", error)


def note_catalog_changes(catalog: Catalog, lake: str, actor: str) -> None:
    """At a run's start: a ``catalog.changed`` audit entry per passport, contract or access.yaml changed
    since the last run (`flows.catalog_changes`)."""
    changed = record_catalog_changes(open_store(lake), catalog, actor=actor, run_id=current_run_id())
    if changed:
        get_run_logger().info("%d catalog file(s) changed since the last run (see `lockgate audit`)", changed)
