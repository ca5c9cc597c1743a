"""The DuckDB warehouse: one view per dataset over its current curated Parquet object.

The file holds views only, never copies of data, so it is cheap to rebuild and cannot drift from the
lake. A local lake's views name their Parquet objects relative to the lake, through the DuckDB variable
``lockgate_lake`` that every connection sets to the warehouse's own folder (falling back to the lake's
folder at registration when unset, for DuckDB sessions outside Lockgate), so a lake copied or moved
elsewhere reads its own objects. Plain relative paths would not do: DuckDB resolves them against the
working directory first. Before a query is served, each view's object is verified against the
checksum recorded at publish (:mod:`storage.integrity`).

Views over ``s3://`` objects go through DuckDB's httpfs extension, loaded from the
``duckdb-extension-httpfs`` wheel (DuckDB-signed, so signature checks stay on) because extensions cannot
be downloaded at run time here. S3 credentials are never stored in the file: every connection that
needs them creates a temporary DuckDB secret from the same AWS configuration boto3 uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import boto3.session
import duckdb
import duckdb_extension_httpfs

from storage import layout
from storage.curated import current_version, pointer_or_problem, read_version, rollback, verify_version
from storage.errors import CorruptMetadata, IntegrityError, ObjectNotFound, QueryError, StorageError
from storage.integrity import open_existing
from storage.layout import is_s3
from storage.store import open_store

if TYPE_CHECKING:
    import polars as pl

    from storage.base import ObjectStore
    from storage.curated import CuratedVersion

_VIEW_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# The curated data object a view reads, as it appears in the view's SQL (local or s3://).
_VIEW_OBJECT = re.compile(r"(curated/[A-Za-z0-9_.-]+/v\d{6}/" + re.escape(layout.DATA_FILE) + ")'")
_LAKE_VARIABLE = "lockgate_lake"
# offline: fail clearly instead of trying to download
_CONFIG: dict[str, str | bool | int | float | list[str]] = {"autoinstall_known_extensions": False}


def _quote_ident(name: str) -> str:
    if not _VIEW_NAME.match(name):
        raise StorageError(f"invalid view name {name!r}: use letters, digits and underscores")
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _httpfs_path() -> Path:
    """The httpfs binary shipped in the pip package matching the installed DuckDB."""
    package = Path(duckdb_extension_httpfs.__file__).parent
    wanted = package / "extensions" / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    if wanted.is_file():
        return wanted
    found = sorted(package.rglob("httpfs.duckdb_extension"))
    if not found:
        raise StorageError(f"no httpfs.duckdb_extension in {package}; install duckdb-extension-httpfs")
    return found[0]


def _load_httpfs(con: duckdb.DuckDBPyConnection) -> None:
    """LOAD straight from the wheel's file: nothing is written to ~/.duckdb, nothing is downloaded."""
    con.execute(f"LOAD {_quote_literal(str(_httpfs_path()))}")


def _s3_secret(con: duckdb.DuckDBPyConnection) -> None:
    """A temporary DuckDB S3 secret from boto3's resolution (env, profiles, roles), so both agree.

    A custom endpoint (MinIO, moto, in-country clouds) is addressed path-style with SSL following the
    URL scheme; on AWS itself DuckDB's defaults (virtual-hosted, HTTPS) apply.
    """
    session = boto3.session.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise StorageError("no AWS credentials found for the warehouse's s3:// views")
    frozen = credentials.get_frozen_credentials()
    if frozen.access_key is None or frozen.secret_key is None:
        raise StorageError(
            "the AWS credentials found lack a key id or secret for the warehouse's s3:// views"
        )
    region = session.region_name or "us-east-1"
    options = {"KEY_ID": frozen.access_key, "SECRET": frozen.secret_key, "REGION": region}
    if frozen.token:
        options["SESSION_TOKEN"] = frozen.token
    endpoint = urlsplit(session.client("s3", region_name=region).meta.endpoint_url)
    settings = ""
    if endpoint.hostname and not endpoint.hostname.endswith(".amazonaws.com"):
        options["ENDPOINT"] = endpoint.netloc
        options["URL_STYLE"] = "path"
        settings = f", USE_SSL {'true' if endpoint.scheme == 'https' else 'false'}"
    fields = ", ".join(f"{name} {_quote_literal(value)}" for name, value in options.items())
    con.execute(f"CREATE OR REPLACE TEMPORARY SECRET lockgate_s3 (TYPE s3, {fields}{settings})")


def _enable_s3(con: duckdb.DuckDBPyConnection) -> None:
    _load_httpfs(con)
    _s3_secret(con)


def _has_s3_views(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE NOT internal AND sql LIKE '%''s3://%'"
    ).fetchone()
    return bool(row and row[0])


def connect(path: Path, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; when its views read S3, load httpfs and the S3 secret for this session."""
    if read_only and not Path(path).is_file():
        raise StorageError(f"no warehouse at {path}; run the ingest flow first")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=_CONFIG)
    except duckdb.Error as exc:
        raise StorageError(f"could not open warehouse {path}: {exc}") from exc
    try:
        con.execute(f"SET VARIABLE {_LAKE_VARIABLE} = ?", [str(Path(path).resolve().parent)])
        if _has_s3_views(con):
            _enable_s3(con)
    except BaseException:
        con.close()
        raise
    return con


def register_views(path: Path, views: dict[str, str]) -> None:
    """Create or replace one view per dataset name → Parquet URI; views not named here are kept.

    A local URI inside the warehouse's folder (the lake) is stored relative to it (see the module
    docstring). The connection is opened, written and closed at once, so the file is locked only for
    that moment.
    """
    # DuckDB takes no parameters in DDL: the name is checked against a strict pattern, the URI quoted.
    statements = [
        f"CREATE OR REPLACE VIEW {_quote_ident(name)} AS SELECT * FROM read_parquet({_location(path, uri)})"  # noqa: S608
        for name, uri in sorted(views.items())
    ]
    existed = Path(path).exists()
    try:
        con = connect(path, read_only=False)
    except StorageError:
        _drop_half_made(Path(path), existed)
        raise
    try:
        if any(is_s3(uri) for uri in views.values()) and not _has_s3_views(con):
            _enable_s3(con)
        con.execute("BEGIN TRANSACTION")
        for statement in statements:
            con.execute(statement)
        con.execute("COMMIT")
    except duckdb.Error as exc:
        con.close()
        _drop_half_made(Path(path), existed)
        raise StorageError(f"could not register views {', '.join(sorted(views))} in {path}: {exc}") from exc
    finally:
        con.close()


def _drop_half_made(path: Path, existed: bool) -> None:
    """After a failed write (a full disk): remove a warehouse this call created, or an empty WAL.

    An empty write-ahead log holds nothing to replay, and a new warehouse that failed holds no views.
    """
    wal = path.with_name(path.name + ".wal")
    if not existed:
        path.unlink(missing_ok=True)
        wal.unlink(missing_ok=True)
    elif wal.is_file() and wal.stat().st_size == 0:
        wal.unlink(missing_ok=True)


def _location(warehouse: Path, uri: str) -> str:
    """The SQL expression naming a view's object: relative to the lake when it lies inside it."""
    root = Path(warehouse).resolve().parent
    if is_s3(uri) or not Path(uri).is_relative_to(root):
        return _quote_literal(uri)
    relative = Path(uri).relative_to(root).as_posix()
    fallback = _quote_literal(str(root))
    return f"coalesce(getvariable('{_LAKE_VARIABLE}'), {fallback}) || {_quote_literal('/' + relative)}"


@dataclass(frozen=True)
class ViewTarget:
    """What a view reads: a curated data key (None for anything else), and whether it finds it through
    the lake it lives in (``lockgate_lake`` or ``s3://``) rather than a fixed local path."""

    key: str | None
    portable: bool


def view_objects(con: duckdb.DuckDBPyConnection) -> dict[str, ViewTarget]:
    """Each view of the warehouse and the object it reads."""
    rows = con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall()
    return {
        name: ViewTarget(
            m.group(1) if (m := _VIEW_OBJECT.search(sql)) else None,
            f"getvariable('{_LAKE_VARIABLE}')" in sql or "'s3://" in sql,
        )
        for name, sql in rows
    }


def verify_views(store: ObjectStore, con: duckdb.DuckDBPyConnection) -> None:
    """Raise `IntegrityError` unless every curated object the warehouse's views read is intact."""
    for name, target in sorted(view_objects(con).items()):
        key = target.key
        if key is None:
            continue
        _curated, source, folder, _data = key.split("/")
        version = int(folder.removeprefix("v"))
        try:
            verify_version(store, read_version(store, source, version))
        except (IntegrityError, CorruptMetadata) as exc:
            raise IntegrityError(
                f"view {name!r} not served: {exc}; `lockgate run` publishes it again, "
                "`lockgate lake check` lists all problems"
            ) from None
        except ObjectNotFound:
            raise IntegrityError(
                f"view {name!r} not served: version {version} of {source!r} has no description in the lake"
            ) from None


def query_lake(lake: str, sql: str, *, warehouse: str | Path | None = None) -> pl.DataFrame:
    """`query` on a lake's warehouse, after checking that every object its views read is intact.

    The lake must exist (reading never creates it); `warehouse` is an S3 lake's warehouse file.
    """
    store = open_existing(lake)
    return query(layout.warehouse_path(lake, warehouse), sql, verify=store)


def register_current(lake: str, sources: list[str], *, warehouse: str | None = None) -> str:
    """Point one view per source at its current version after verifying its data; returns the file.

    Sources never published are skipped. The intact ones are registered even when another is not;
    then `IntegrityError` names those whose views were left as they were.
    """
    store = open_store(lake)
    views: dict[str, str] = {}
    broken: list[str] = []
    for name in sources:
        try:
            current = current_version(store, name)
            if current is not None:
                verify_version(store, current)
                views[name] = store.uri(current.data_key)
        except (IntegrityError, CorruptMetadata) as exc:
            broken.append(f"{name}: {exc}")
    path = layout.warehouse_path(lake, warehouse)
    register_views(path, views)
    if broken:
        raise IntegrityError(f"warehouse views not updated for {'; '.join(broken)}")
    return str(path)


def query(path: Path, sql: str, *, verify: ObjectStore | None = None) -> pl.DataFrame:
    """Run one SQL statement on a read-only connection and return the result as a polars frame.

    With `verify`, the lake the views read, every object they read is checked first (`verify_views`).
    A statement DuckDB refuses (a syntax error, an unknown table, a write) raises `QueryError` with
    DuckDB's own message, which names the token or table.
    """
    con = connect(path, read_only=True)
    try:
        if verify is not None:
            verify_views(verify, con)
        return con.execute(sql).pl()
    except duckdb.Error as exc:
        raise QueryError(str(exc)) from None
    finally:
        con.close()


@dataclass(frozen=True)
class Rollback:
    """Which version of a dataset was current before an operator moved the pointer, and which is now."""

    source: str
    before: CuratedVersion | None
    after: CuratedVersion
    replaced_pointer: str | None = None  # why the pointer could not be read, when the move replaced it


def rollback_dataset(
    lake: str,
    source: str,
    to_version: int,
    *,
    reason: str = "rollback",
    warehouse: str | Path | None = None,
) -> Rollback:
    """Make a published version of a dataset current again and point its warehouse view at it.

    The move is recorded in the dataset's history (see `storage.curated.rollback`); versions themselves
    never change. An unknown version raises `UnknownVersion` and moves nothing, so does a version whose
    data no longer matches its checksum. An unreadable pointer is replaced (`before` is then None), so
    naming a version repairs it. `warehouse` is an S3 lake's warehouse file (see
    `storage.layout.warehouse_path`). The lake must exist.
    """
    store = open_existing(lake)
    pointer, problem = pointer_or_problem(store, source)
    before = read_version(store, source, pointer.version) if pointer is not None else None
    after = rollback(store, source, to_version, reason=reason)
    register_views(layout.warehouse_path(lake, warehouse), {source: store.uri(after.data_key)})
    return Rollback(source=source, before=before, after=after, replaced_pointer=problem)
