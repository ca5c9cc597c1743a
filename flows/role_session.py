"""Querying as a role: a locked session on the role's own output, every query checked and audited.

`role_connection` opens the role's DuckDB file read-only in a locked session (`storage.roles.connect_role`:
external access off, configuration locked, no extension install or load, no ``ATTACH``) for a user the
policy grants the role to, and hands back a `RoleConnection`; `query_as` is one query on one. Each
query goes through `RoleConnection.execute`, the one place that checks and audits: the text is parsed
first (`storage.sql_refs`: DuckDB says it is a SELECT, sqlglot what it reads), so a denied dataset,
column, file or table function fails with what is denied and why, not with "column not found", and
the session's locks stay behind that as a second wall.

Every denial, and every query that reads confidential or restricted data (whether it succeeds or
fails), goes to the lake's audit log: user, role, datasets and columns read, the query's sha256 and
the row count, never its text, which may hold values (``WHERE email = '…'``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

import duckdb

from flows.settings import current_settings
from storage import audit, layout, roles
from storage.errors import AccessDenied, NotSelect, QueryError
from storage.integrity import open_existing
from storage.sql_refs import sql_refs
from storage.warehouse import query_message

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import TracebackType

    import polars as pl
    import pyarrow as pa

    from storage.base import ObjectStore
    from storage.roles import RoleManifest
    from storage.sql_refs import ColumnRef, SqlRefs

AUDITED_LEVELS = frozenset({"confidential", "restricted"})


@dataclass
class Touched:
    """The datasets and columns a query reads, as far as the role's grant is concerned."""

    datasets: set[str] = field(default_factory=set)
    columns: set[str] = field(default_factory=set)  # dataset.column


@dataclass
class QueryAs:
    """A query's rows, read in full (the audit entry counts them), and what it read."""

    frame: pl.DataFrame
    role: str
    user: str
    datasets: list[str]
    columns: list[str]
    _next: int = field(default=0, init=False, repr=False)

    def pl(self) -> pl.DataFrame:
        return self.frame

    def arrow(self) -> pa.Table:
        return self.frame.to_arrow()

    def fetchall(self) -> list[tuple[Any, ...]]:
        """The rows not fetched yet, as DuckDB's ``fetchall``."""
        rows = self.frame.slice(self._next).rows()
        self._next = self.frame.height
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._next >= self.frame.height:
            return None
        self._next += 1
        return self.frame.row(self._next - 1)


def check_query(manifest: RoleManifest, refs: SqlRefs) -> tuple[Touched, str | None]:
    """What the query reads within the role's datasets, and the first denial (None when allowed).

    The role's namespace is closed: a name that is none of its datasets is denied (DuckDB would read
    an unknown name as a file), as are files and table functions. Names compare case-insensitively,
    as DuckDB binds them.
    """
    touched = Touched()
    role = manifest.role
    if refs.files:
        names = ", ".join(repr(f) for f in sorted(refs.files))
        return touched, f"files ({names}) cannot be read as role {role!r}: query its datasets by name"
    if refs.functions:
        names = ", ".join(sorted(refs.functions))
        return (
            touched,
            f"table functions ({names}) are not allowed as role {role!r}: query its datasets by name",
        )
    datasets = {name.casefold(): name for name in manifest.datasets}
    denied = {name.casefold(): name for name in manifest.denied}
    for table in sorted(refs.tables):
        if table.casefold() in denied:
            name = denied[table.casefold()]
            return touched, f"dataset {name!r} is denied to role {role!r}: {manifest.denied[name]}"
        if table.casefold() not in datasets:
            readable = ", ".join(sorted(manifest.datasets)) or "none"
            return touched, f"{table!r} is no dataset of role {role!r} (it reads: {readable})"
        touched.datasets.add(datasets[table.casefold()])
    for ref in refs.columns:
        denial = _read_column(manifest, ref, datasets, touched)
        if denial is not None:
            return touched, denial
    for star in refs.stars:
        excluded = {name.casefold() for name in star.excluded}
        for dataset in (datasets[t.casefold()] for t in star.tables if t.casefold() in datasets):
            columns = manifest.datasets[dataset].columns
            touched.columns.update(f"{dataset}.{c}" for c in columns if c.casefold() not in excluded)
    return touched, None


def _read_column(
    manifest: RoleManifest, ref: ColumnRef, datasets: dict[str, str], touched: Touched
) -> str | None:
    """Record the column `ref` reads; a denial when it is hidden from the role where DuckDB binds it."""
    wanted = ref.name.casefold()
    for level in ref.tables:  # innermost scope first: DuckDB binds the first that has the column
        visible: list[str] = []
        hidden: list[tuple[str, str]] = []
        for dataset in (datasets[t.casefold()] for t in level if t.casefold() in datasets):
            shown = manifest.datasets[dataset]
            visible += [f"{dataset}.{c}" for c in shown.columns if c.casefold() == wanted]
            hidden += [(f"{dataset}.{c}", why) for c, why in shown.hidden.items() if c.casefold() == wanted]
        if hidden and not visible:
            column, why = hidden[0]
            return f"column {column} is hidden from role {manifest.role!r} ({why})"
        if visible:
            touched.columns.update(visible)
            return None
    return None


def _digest(sql: str) -> str:
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()


def _denied(
    store: ObjectStore, *, user: str, role: str, sql: str | None, message: str, touched: Touched | None = None
) -> AccessDenied:
    """Record a denial in the audit log and return the error to raise (the message names no value)."""
    details: dict[str, Any] = {"reason": message}
    if sql is not None:
        details["query_sha256"] = _digest(sql)
    if touched is not None:
        details |= {"datasets": sorted(touched.datasets), "columns": sorted(touched.columns)}
    audit.append(store, actor=user, role=role, action="query.denied", outcome="denied", details=details)
    return AccessDenied(message)


class RoleConnection:
    """A role's locked, read-only session on its own output, for one user; every query checked and audited.

    `execute` (also as `sql` and `query`) answers with the rows read in full, as a `QueryAs` that
    fetches like a DuckDB result (``fetchone``, ``fetchall``, ``pl``, ``arrow``). DuckDB's own
    connection is not handed out, so no query can go around the check and the audit log. Close it
    when done, or use it in a ``with`` block.
    """

    def __init__(
        self, store: ObjectStore, manifest: RoleManifest, user: str, con: duckdb.DuckDBPyConnection
    ) -> None:
        self.role = manifest.role
        self.user = user
        self._store = store
        self._manifest = manifest
        self._con = con

    def execute(self, sql: str, parameters: Sequence[object] | Mapping[str, object] | None = None) -> QueryAs:
        """Run one SELECT (or several; the last one's rows come back) as the role.

        Raises `AccessDenied` naming what is denied and why (a dataset or column the role may not
        read, a file, a table function, a statement other than SELECT), `QueryError` for what DuckDB
        refuses. `parameters` fill ``?`` or ``$name`` placeholders: values kept out of the text.
        """
        role, user = self.role, self.user
        try:
            refs = sql_refs(sql)
        except NotSelect as exc:  # an attempt to write, attach, load or reconfigure: a denial, on record
            message = f"only SELECT statements run as role {role!r}; {exc}"
            raise _denied(self._store, user=user, role=role, sql=sql, message=message) from None
        touched, denial = check_query(self._manifest, refs)
        if denial is not None:
            raise _denied(self._store, user=user, role=role, sql=sql, message=denial, touched=touched)
        details: dict[str, Any] = {
            "query_sha256": _digest(sql),
            "datasets": sorted(touched.datasets),
            "columns": sorted(touched.columns),
        }
        audited = any(self._manifest.datasets[d].sensitivity in AUDITED_LEVELS for d in touched.datasets)
        source = next(iter(touched.datasets)) if len(touched.datasets) == 1 else None
        try:
            frame = self._con.execute(sql, parameters).pl()
        except duckdb.Error as exc:
            if audited:
                failed = details | {"error": type(exc).__name__}
                audit.append(
                    self._store,
                    actor=user,
                    role=role,
                    action="query",
                    source=source,
                    outcome="failed",
                    details=failed,
                )
            raise QueryError(query_message(exc)) from None
        if audited:
            details["rows"] = frame.height
            audit.append(self._store, actor=user, role=role, action="query", source=source, details=details)
        return QueryAs(frame, role, user, sorted(touched.datasets), sorted(touched.columns))

    sql = execute
    query = execute

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def _open(
    lake: str, role: str, user: str | None, warehouse: str | None, sql: str | None = None
) -> RoleConnection:
    """The role's session for `user` (default: the settings' user); an unknown role or a user without
    it is a denial, on record (with the query's hash when there is one)."""
    actor = user or current_settings().user
    store = open_existing(lake)
    try:
        manifest = roles.read_manifest(store, role)
    except AccessDenied as exc:
        raise _denied(store, user=actor, role=role, sql=sql, message=str(exc)) from None
    if actor not in manifest.users:
        message = (
            f"user {actor!r} does not hold role {role!r}: access.yaml grants it to no such user or group"
        )
        raise _denied(store, user=actor, role=role, sql=sql, message=message)
    path = layout.role_database_path(lake, role, warehouse or current_settings().warehouse)
    return RoleConnection(store, manifest, actor, roles.connect_role(store, manifest, path))


def role_connection(
    lake: str, role: str, user: str | None = None, *, warehouse: str | None = None
) -> RoleConnection:
    """A session on `role`'s output for `user` (default: the settings' user); see `RoleConnection`."""
    return _open(lake, role, user, warehouse)


def query_as(
    lake: str, role: str, sql: str, *, user: str | None = None, warehouse: str | None = None
) -> QueryAs:
    """Run a SELECT as `role` on the role's own output, for `user` (default: the settings' user).

    One query on a `role_connection`: the same check, the same audit entries, the same errors.
    """
    with _open(lake, role, user, warehouse, sql) as session:
        return session.execute(sql)


__all__ = [
    "AUDITED_LEVELS",
    "QueryAs",
    "RoleConnection",
    "Touched",
    "check_query",
    "query_as",
    "role_connection",
]
