"""Per-role outputs: each role's own copy of what it may read, and the locked DuckDB session over it.

DuckDB has no GRANT, and a masked view beside its base table is no boundary: the base table stays
readable. So every role gets physically separate data: one Parquet object per dataset under
``roles/<role>/<dataset>/`` holding only the columns the role may see (decrypted where its grant says
so), a manifest ``roles/<role>/_access.json`` saying what is there and who holds the role, and a DuckDB
file of its own whose views read those objects. A role's session may open exactly its own objects
(``allowed_paths``), nothing else on the machine or in the lake: no curated base table, no raw or
quarantined data, no other role's prefix, no new file (``COPY … TO`` writes through a temporary name
the session may not create). On S3 the prefix per role lets a bucket or IAM policy enforce the same
split for every client (`iam_policy`).

Objects are named after the curated version and a fingerprint of what the role sees, so a rebuild that
changes nothing writes nothing, and a new version or a changed grant is a new object; objects no longer
named by the manifest are deleted, so revoked or erased data does not linger.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from pydantic import BaseModel, Field, ValidationError

from storage import layout
from storage.errors import AccessDenied, ObjectNotFound, StorageError
from storage.layout import is_s3
from storage.tags import access_tags
from storage.warehouse import query_message

if TYPE_CHECKING:
    import pyarrow as pa

    from storage.base import ObjectStore

MANIFEST_VERSION = 1
_ROLE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")  # as access.yaml spells role names
_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


class RoleDataset(BaseModel):
    """One dataset in a role's output: the object its view reads and how each column is shown."""

    name: str
    key: str  # the Parquet object under the role's prefix
    version: int  # the curated version it was built from
    sensitivity: str
    pii: bool
    columns: dict[str, str]  # column → clear | masked | decrypted
    hidden: dict[str, str] = Field(default_factory=dict)  # column left out → why


class RoleManifest(BaseModel):
    """What a role's output holds, who holds the role, and why the rest is not there."""

    format: int = MANIFEST_VERSION
    role: str
    description: str | None = None
    users: list[str]
    built_at: datetime
    datasets: dict[str, RoleDataset]
    denied: dict[str, str] = Field(default_factory=dict)  # dataset the role may not read → why
    sensitivity: dict[str, str] = Field(default_factory=dict)  # every catalog dataset → its level


def role_object_key(role: str, dataset: str, version: int, fingerprint: str) -> str:
    return f"{layout.role_dataset_prefix(role, dataset)}v{version}-{fingerprint}.parquet"


def put_role_dataset(
    store: ObjectStore, key: str, table: pa.Table, *, role: str, dataset: str, sensitivity: str, pii: bool
) -> bool:
    """Write one dataset of a role's output (once: an object of that name already holds it); True when
    written. Tagged ``layer=role`` with the role, so a ``layer=curated`` grant never reaches it."""
    import pyarrow.parquet as pq

    if store.exists(key):
        return False
    tags = access_tags("role", dataset, sensitivity=sensitivity, pii=pii, extra={"role": role})
    with tempfile.TemporaryDirectory(prefix="lockgate-role-") as folder:
        path = Path(folder) / "data.parquet"
        pq.write_table(table, path, compression="zstd")
        store.put_file(key, path, tags=tags)
    return True


def write_manifest(store: ObjectStore, manifest: RoleManifest) -> None:
    """The manifest names users and datasets, no data values; it is read by everyone holding the role."""
    data = manifest.model_dump_json(indent=2).encode("utf-8")
    tags = access_tags("role", "", extra={"role": manifest.role})
    store.put_bytes(layout.role_manifest_key(manifest.role), data, tags=tags)


def read_manifest(store: ObjectStore, role: str) -> RoleManifest:
    """The role's manifest; `AccessDenied` when the lake has no output for that role."""
    try:
        key = layout.role_manifest_key(role)
    except ValueError:
        raise AccessDenied(f"{role!r} is not a role name") from None
    try:
        data = store.get_bytes(key)
    except ObjectNotFound:
        known = ", ".join(list_roles(store)) or "none"
        raise AccessDenied(
            f"role {role!r} has no output in this lake (roles built: {known}); roles are defined in the "
            "catalog's access.yaml, their outputs built by every ingest run or `lockgate access build`"
        ) from None
    try:
        return RoleManifest.model_validate(json.loads(data))
    except (ValueError, ValidationError):
        raise StorageError(f"{key!r} is not a readable role manifest; run `lockgate access build`") from None


def list_roles(store: ObjectStore) -> list[str]:
    """Roles whose output the lake holds."""
    prefix = f"{layout.ROLES_DIR}/"
    return sorted(
        {key.split("/")[1] for key in store.list(prefix) if key.endswith("/" + layout.ROLE_MANIFEST_FILE)}
    )


def prune(store: ObjectStore, role: str, keep: set[str]) -> int:
    """Delete the role's objects its manifest no longer names; how many were deleted."""
    manifest = layout.role_manifest_key(role)
    stale = [k for k in store.list(layout.role_prefix(role)) if k not in keep and k != manifest]
    for key in stale:
        store.delete(key)
    return len(stale)


def remove_role(store: ObjectStore, role: str, database: Path) -> None:
    """A role no longer defined loses everything: its objects, its manifest, its DuckDB file."""
    for key in store.list(layout.role_prefix(role)):
        store.delete(key)
    database.unlink(missing_ok=True)


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _enable_s3(con: duckdb.DuckDBPyConnection) -> None:
    from storage.warehouse import _enable_s3 as enable  # one S3 set-up for every DuckDB session

    enable(con)


def build_database(store: ObjectStore, manifest: RoleManifest, path: Path) -> Path:
    """Write the role's DuckDB file: one view per dataset over its object, nothing else. Written beside
    and renamed over the old one, so a session never opens a half-built file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".duckdb", dir=path.parent)
    os.close(fd)
    temporary = Path(name)
    temporary.unlink()  # DuckDB creates the file itself
    try:
        con = duckdb.connect(str(temporary), config=_CONFIG)
        try:
            if any(is_s3(store.uri(d.key)) for d in manifest.datasets.values()):
                _enable_s3(con)
            for dataset in sorted(manifest.datasets.values(), key=lambda d: d.name):
                uri = _quote_literal(store.uri(dataset.key))
                con.execute(
                    f"CREATE VIEW {_quote_ident(dataset.name)} AS SELECT * FROM read_parquet({uri})"  # noqa: S608
                )
        finally:
            con.close()
        temporary.replace(path)
    except duckdb.Error as exc:
        raise StorageError(
            f"could not build the DuckDB file of role {manifest.role!r}: {query_message(exc)}"
        ) from None
    finally:
        temporary.unlink(missing_ok=True)
        Path(str(temporary) + ".wal").unlink(missing_ok=True)
    return path


def _views(path: Path) -> dict[str, str] | None:
    """The role file's views and their SQL, or None when it cannot be opened."""
    if not path.is_file():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True, config=_CONFIG)
    except duckdb.Error:
        return None
    try:
        rows = con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall()
    finally:
        con.close()
    return {name: sql for name, sql in rows}


def current_database(store: ObjectStore, manifest: RoleManifest, path: Path) -> Path:
    """The role's DuckDB file, rebuilt from the manifest when missing or out of step with it (a laptop
    querying an S3 lake builds its own; the file holds views only)."""
    views = _views(path)
    wanted = {d.name: store.uri(d.key) for d in manifest.datasets.values()}
    if views is None or set(views) != set(wanted) or any(wanted[n] not in views[n] for n in wanted):
        build_database(store, manifest, path)
    return path


def connect_role(store: ObjectStore, manifest: RoleManifest, path: Path) -> duckdb.DuckDBPyConnection:
    """A locked, read-only session on the role's DuckDB file.

    The session may open exactly the objects the role's views read (``allowed_paths``): every other
    file, another role's prefix, the curated base tables and raw data fail with DuckDB's "disabled by
    configuration"; ``ATTACH``, ``INSTALL``/``LOAD`` of anything new and ``COPY … TO`` fail the same way,
    and the configuration is locked so no ``SET`` can undo it.
    """
    current_database(store, manifest, path)
    uris = [store.uri(d.key) for d in manifest.datasets.values()]
    try:
        con = duckdb.connect(str(path), read_only=True, config=_CONFIG)
    except duckdb.Error as exc:
        raise StorageError(f"could not open the DuckDB file of role {manifest.role!r}: {exc}") from None
    try:
        if any(is_s3(uri) for uri in uris):  # local Parquet needs no extension
            _enable_s3(con)
        con.execute(f"SET allowed_paths = [{', '.join(_quote_literal(u) for u in uris)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET autoload_known_extensions = false")
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET allow_community_extensions = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def iam_policy(lake: str, role: str) -> dict[str, Any]:
    """An IAM policy for the role: read its own prefix (objects tagged ``layer=role``, ``role=<role>``)
    and nothing else of the lake, with an explicit deny on the layers that hold data in clear (raw,
    quarantine, state). Queries write their own audit entries, so the role may append to the audit log
    (create-only, never delete); that also lets it read entries, a trade-off of auditing on the client.
    """
    if not is_s3(lake):
        raise StorageError(f"{lake!r} is not an S3 lake: IAM policies apply to s3://bucket/prefix lakes")
    if not _ROLE.fullmatch(role):
        raise StorageError(f"{role!r} is not a role name: use a-z, 0-9 and '_', starting with a letter")
    bucket, _, prefix = lake.removeprefix("s3://").partition("/")
    base = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    own = f"{base}{layout.role_prefix(role)}"
    audit_log = f"arn:aws:s3:::{bucket}/{base}{layout.audit_prefix()}*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadOwnRoleOutput",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/{own}*"],
                "Condition": {
                    "StringEquals": {"s3:ExistingObjectTag/layer": "role", "s3:ExistingObjectTag/role": role}
                },
            },
            {
                "Sid": "ListOwnRoleOutputAndAuditLog",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}"],
                "Condition": {
                    "StringLike": {"s3:prefix": [own, f"{own}*", f"{base}{layout.audit_prefix()}*"]}
                },
            },
            {
                # Queries append their audit entries: create-only (If-None-Match), after reading the last.
                "Sid": "AppendAuditLog",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:PutObjectTagging"],
                "Resource": [audit_log],
                "Condition": {"Null": {"s3:if-none-match": "false"}},
            },
            {
                "Sid": "ChainOntoTheLastAuditEntry",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [audit_log],
            },
            {
                "Sid": "DenyUnmaskedLayers",
                "Effect": "Deny",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": [f"arn:aws:s3:::{bucket}/{base}*"],
                "Condition": {"StringEquals": {"s3:ExistingObjectTag/layer": ["raw", "quarantine", "state"]}},
            },
            {
                "Sid": "DenyAuditRewrites",
                "Effect": "Deny",
                "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl"],
                "Resource": [audit_log],
            },
        ],
    }


__all__ = [
    "RoleDataset",
    "RoleManifest",
    "build_database",
    "connect_role",
    "iam_policy",
    "list_roles",
    "prune",
    "put_role_dataset",
    "read_manifest",
    "remove_role",
    "role_object_key",
    "write_manifest",
]
