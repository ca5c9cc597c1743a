"""The DuckDB warehouse: one view per dataset over its curated Delta table (``delta_scan``).

The file holds views only, never copies of data, so it is cheap to rebuild and cannot drift from the
lake: a view reads the table's latest version, so a publish or a rollback needs no new view. A local
lake's views name their tables relative to the lake, through the DuckDB variable ``lockgate_lake`` that
every connection sets to the warehouse's own folder (falling back to the lake's folder at registration
when unset, for DuckDB sessions outside Lockgate), so a lake copied or moved elsewhere reads its own
tables. Plain relative paths would not do: DuckDB resolves them against the working directory first.
Before a query is served, each view's table is checked: every file of its current version must be
there at the size its log recorded (:func:`storage.curated.check_current`).

DuckDB's ``delta`` and ``httpfs`` extensions are loaded from their PyPI wheels
(``duckdb-extension-delta``, ``duckdb-extension-httpfs``; DuckDB-signed, so signature checks stay on)
because extensions cannot be downloaded at run time here. S3 credentials are never stored in the file:
every connection that needs them creates a temporary DuckDB secret from the same AWS configuration
boto3 uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import duckdb
import duckdb_extension_delta
import duckdb_extension_httpfs

from storage import audit, layout
from storage.curated import check_current, current_version, delta_table, rollback, table_uri
from storage.errors import IntegrityError, QueryError, StorageError
from storage.integrity import open_existing
from storage.layout import is_s3
from storage.s3 import connection_facts
from storage.store import open_store

if TYPE_CHECKING:
    import polars as pl

    from storage.base import ObjectStore
    from storage.curated import CuratedVersion

_VIEW_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# The curated table a view reads, as it appears in the view's SQL (local or s3://).
_VIEW_OBJECT = re.compile(r"delta_scan\(.*?(curated/[A-Za-z0-9_.-]+)'\)")
# The curated folder of an S3 lake, as its views name their tables.
_S3_CURATED = re.compile(r"'(s3://[^']+?/curated/)[^/']+'")
# A Rust backtrace line from an extension (with RUST_BACKTRACE set): frames and their locations.
_BACKTRACE = re.compile(r"^\s+(\d+: |at )")
_LAKE_VARIABLE = "lockgate_lake"
# offline: fail clearly instead of trying to download
_CONFIG: dict[str, str | bool | int | float | list[str]] = {"autoinstall_known_extensions": False}


def _quote_ident(name: str) -> str:
    if not _VIEW_NAME.match(name):
        raise StorageError(f"invalid view name {name!r}: use letters, digits and underscores")
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _extension_path(package_file: str | None, name: str) -> Path:
    """An extension binary shipped in the pip package matching the installed DuckDB."""
    package = Path(package_file or "").parent
    wanted = package / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if wanted.is_file():
        return wanted
    found = sorted(package.rglob(f"{name}.duckdb_extension"))
    if not found:
        raise StorageError(f"no {name}.duckdb_extension in {package}; install duckdb-extension-{name}")
    return found[0]


def _load(con: duckdb.DuckDBPyConnection, package_file: str | None, name: str) -> None:
    """LOAD straight from the wheel's file: nothing is written to ~/.duckdb, nothing is downloaded."""
    con.execute(f"LOAD {_quote_literal(str(_extension_path(package_file, name)))}")


def load_delta(con: duckdb.DuckDBPyConnection) -> None:
    _load(con, duckdb_extension_delta.__file__, "delta")


def _load_httpfs(con: duckdb.DuckDBPyConnection) -> None:
    _load(con, duckdb_extension_httpfs.__file__, "httpfs")


def query_message(exc: BaseException) -> str:
    """DuckDB's message without the Rust backtrace an extension may append."""
    return "\n".join(line for line in str(exc).splitlines() if not _BACKTRACE.match(line)).strip()


def _s3_secret(con: duckdb.DuckDBPyConnection) -> None:
    """A temporary DuckDB S3 secret from boto3's resolution (env, profiles, roles), so both agree.

    A custom endpoint (MinIO, moto, in-country clouds) is addressed path-style with SSL following the
    URL scheme; on AWS itself DuckDB's defaults (virtual-hosted, HTTPS) apply.
    """
    facts = connection_facts()
    options = {"KEY_ID": facts.key_id, "SECRET": facts.secret, "REGION": facts.region}
    if facts.token:
        options["SESSION_TOKEN"] = facts.token
    settings = ""
    if facts.endpoint:
        endpoint = urlsplit(facts.endpoint)
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
        load_delta(con)
        if _has_s3_views(con):
            _enable_s3(con)
    except BaseException:
        con.close()
        raise
    return con


def register_views(path: Path, views: dict[str, str]) -> None:
    """Create or replace one view per dataset name → table URI; views not named here are kept.

    A local URI inside the warehouse's folder (the lake) is stored relative to it (see the module
    docstring). The connection is opened, written and closed at once, so the file is locked only for
    that moment.
    """
    # DuckDB takes no parameters in DDL: the name is checked against a strict pattern, the URI quoted.
    statements = [
        f"CREATE OR REPLACE VIEW {_quote_ident(name)} AS SELECT * FROM delta_scan({_location(path, uri)})"  # noqa: S608
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
        raise StorageError(
            f"could not register views {', '.join(sorted(views))} in {path}: {query_message(exc)}"
        ) from None
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
    """What a view reads: a curated table's key (None for anything else), and whether it finds it
    through the lake it lives in (``lockgate_lake`` or ``s3://``) rather than a fixed local path."""

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
    """Raise `IntegrityError` unless every curated table the warehouse's views read is whole."""
    for name, target in sorted(view_objects(con).items()):
        if target.key is None:
            continue
        source = target.key.removeprefix("curated/")
        try:
            if delta_table(store, source) is None:
                raise IntegrityError(f"{target.key!r} is not a curated table in the lake")
            check_current(store, source)
        except (IntegrityError, StorageError) as exc:
            raise IntegrityError(
                f"view {name!r} not served: {exc}; `lockgate lake check` lists all problems"
            ) from None


def query_lake(lake: str, sql: str, *, warehouse: str | Path | None = None) -> pl.DataFrame:
    """`query` on a lake's warehouse, after checking that every object its views read is intact.

    The lake must exist (reading never creates it); `warehouse` is an S3 lake's warehouse file.
    """
    store = open_existing(lake)
    return query(layout.warehouse_path(lake, warehouse), sql, verify=store)


def register_current(lake: str, sources: list[str], *, warehouse: str | None = None) -> str:
    """One view per published source over its table, after checking its current files; returns the file.

    Sources never published are skipped. The intact ones are registered even when another is not;
    then `IntegrityError` names those whose views were left as they were.
    """
    store = open_store(lake)
    views: dict[str, str] = {}
    broken: list[str] = []
    for name in sources:
        try:
            if current_version(store, name) is not None:
                check_current(store, name)
                views[name] = table_uri(store, name)
        except StorageError as exc:
            broken.append(f"{name}: {exc}")
    path = layout.warehouse_path(lake, warehouse)
    register_views(path, views)
    if broken:
        raise IntegrityError(f"warehouse views not updated for {'; '.join(broken)}")
    return str(path)


def query(path: Path, sql: str, *, verify: ObjectStore | None = None) -> pl.DataFrame:
    """Run one SELECT statement in a locked, read-only session and return the result as a polars frame.

    The session reaches the curated tables only (see `lock_session`): file functions, ``COPY … TO``,
    ``ATTACH``, ``SET``, ``INSTALL``/``LOAD`` and every other statement but SELECT are refused, so no
    query can read raw data or a file elsewhere on the machine, or change published data.
    With `verify`, the lake the views read, every table they read is checked first (`verify_views`).
    A statement DuckDB refuses (a syntax error, an unknown table) raises `QueryError` with DuckDB's own
    message, which names the token or table.
    """
    con = connect(path, read_only=True)
    try:
        kinds = [statement.type for statement in con.extract_statements(sql)]
        refused = sorted({kind.name for kind in kinds if kind != duckdb.StatementType.SELECT})
        if refused or not kinds:
            raise QueryError(
                "only SELECT statements run here (read-only, curated data only)"
                + (f"; refused: {', '.join(refused)}" if refused else "; the query is empty")
            )
        if verify is not None:
            verify_views(verify, con)
        lock_session(con, curated_root(con, path, verify))
        return con.execute(sql).pl()
    except duckdb.Error as exc:
        raise QueryError(query_message(exc)) from None
    finally:
        con.close()


def curated_root(con: duckdb.DuckDBPyConnection, warehouse: Path, store: ObjectStore | None) -> str:
    """The folder of the lake's curated tables: the one place a query session may read. Without the
    lake's store, an S3 lake's is read from its views, a local lake's is beside the warehouse."""
    if store is not None:
        return store.uri("curated").rstrip("/") + "/"
    rows = con.execute("SELECT sql FROM duckdb_views() WHERE NOT internal").fetchall()
    for (sql,) in rows:
        if match := _S3_CURATED.search(sql):
            return match.group(1)
    return str(Path(warehouse).resolve().parent / "curated") + "/"


def lock_session(con: duckdb.DuckDBPyConnection, readable: str) -> None:
    """Close every way out of a query session: files are reachable under `readable` only (views read
    their Delta tables there), extensions neither install nor load, and the configuration is locked so
    no statement can undo any of it. Extensions and secrets the views need are set up before this."""
    con.execute(f"SET allowed_directories = [{_quote_literal(readable)}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET allow_community_extensions = false")
    con.execute("SET lock_configuration = true")


@dataclass(frozen=True)
class Rollback:
    """Which version of a dataset was current before an operator rolled it back, and the new version
    that holds the restored data."""

    source: str
    before: CuratedVersion | None
    after: CuratedVersion


def rollback_dataset(
    lake: str,
    source: str,
    to_version: int,
    *,
    by: str,
    reason: str = "rollback",
    warehouse: str | Path | None = None,
) -> Rollback:
    """Restore a version of a dataset as its new current version, recorded with who did it and why
    (in the version's commit and in the lake's audit log).

    An unknown or no longer restorable version raises `UnknownVersion` and changes nothing. The view is
    registered again (it reads the latest version, so only a missing view changes). `warehouse` is an
    S3 lake's warehouse file (see `storage.layout.warehouse_path`). The lake must exist.
    """
    store = open_existing(lake)
    before = current_version(store, source)
    after = rollback(store, source, to_version, by=by, reason=reason)
    if before is None or after.version != before.version:
        audit.append(
            store,
            actor=by,
            action="rollback",
            source=source,
            details={
                "from_version": before.version if before is not None else None,
                "restored_version": to_version,
                "new_version": after.version,
                "release_id": after.release_id,
                "reason": reason,
            },
        )
    register_views(layout.warehouse_path(lake, warehouse), {source: table_uri(store, source)})
    return Rollback(source=source, before=before, after=after)
