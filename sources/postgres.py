"""PostgreSQL sources: a table or a SELECT, streamed into one Parquet file with bounded memory.

A server-side cursor hands over `batch_rows` rows at a time and each batch becomes one Parquet row
group, so a table of any size is extracted in the memory of one batch. The extract runs in a
read-only transaction (a query cannot change the source) with the session time zone set to UTC.

Types, as received (the contract, not this module, decides what a column means):

- bool, int2/int4/int8, float4/float8, date, time, bytea → their Arrow types;
- timestamptz → timestamp in UTC; timestamp (without zone) → timestamp without zone;
- numeric(p, s) with p ≤ 38 → decimal128(p, s), exact: money must not drift through a float;
  numeric without a declared precision (typical of computed columns) → its exact PostgreSQL text,
  since one Arrow decimal type cannot hold every scale such a column may mix;
- text, varchar, char, name → string; json/jsonb, uuid, interval, arrays, ranges, enums and every
  other type → their PostgreSQL text form (string).

Credentials are named in the passport and looked up here: the configured connections first (the
environment variable ``LOCKGATE_PG_<NAME>``, which `flows.settings` reads and hands down: this module
reads no Lockgate variable), then the Prefect Secret block ``lockgate-pg-<name>``; either holds a
libpq connection string or URL. Errors name the server (host, port, database) and the table, never
the password or any data value.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import postgres, sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.string import TextLoader
from pydantic import SecretStr

from contracts.errors import SecretUnavailable
from contracts.secrets import read_prefect_secret
from sources.errors import SourceReadError
from sources.extraction import Extraction
from storage.workdir import private_file

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from psycopg import Column

    from sources.passport import PostgresConnector

    Configured = Mapping[str, SecretStr] | SecretStr | str | None

ENV_PREFIX = "LOCKGATE_PG_"
SECRET_PREFIX = "lockgate-pg-"  # noqa: S105 - a block name prefix, not a secret
CONNECT_TIMEOUT_SECONDS = 10
APPLICATION_NAME = "lockgate"
CURSOR_NAME = "lockgate_extract"
DIGEST_CHARS = 16
MAX_DECIMAL_PRECISION = 38
# Error classes whose messages name schema objects or servers, never row values.
_SAFE_SQLSTATE_CLASSES = ("08", "0A", "25", "28", "3D", "3F", "42")

_NATIVE: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "name": pa.string(),
    '"char"': pa.string(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "bytea": pa.binary(),
}
_NATIVE_OIDS = {postgres.types[name].oid: arrow for name, arrow in _NATIVE.items()}
_NUMERIC_OID = postgres.types["numeric"].oid


# --- credentials -----------------------------------------------------------------------------------


def env_var(name: str) -> str:
    return f"{ENV_PREFIX}{name.upper()}"


def secret_block_name(name: str) -> str:
    """Prefect block names allow no underscores: ``orders_db`` → ``lockgate-pg-orders-db``."""
    return SECRET_PREFIX + name.replace("_", "-")


def _missing_message(name: str, reason: str | None = None) -> str:
    note = f" ({reason})" if reason else ""
    return (
        f"credentials '{name}' are not set: set the environment variable {env_var(name)} or create a "
        f"Prefect Secret block '{secret_block_name(name)}', holding a libpq connection string or URL "
        f"such as postgresql://user@host:5432/dbname{note}"
    )


def _from_prefect(name: str) -> str | None:
    """The Secret block's value, or None when there is no such block."""
    where = f"postgres:{name}"
    try:
        return read_prefect_secret(secret_block_name(name))
    except SecretUnavailable as exc:
        if exc.unreachable:
            raise SourceReadError(where, None, _missing_message(name, exc.reason)) from None
        raise SourceReadError(
            where, None, f"Prefect Secret block '{secret_block_name(name)}' must hold a connection string"
        ) from None


def _configured(configured: Configured, name: str) -> str | None:
    """The configured connection string of `name`, stripped (None when blank): from a mapping by name,
    or the string itself."""
    if isinstance(configured, Mapping):
        configured = configured.get(name)
    if isinstance(configured, SecretStr):
        configured = configured.get_secret_value()
    return (configured or "").strip() or None


def resolve_dsn(name: str, configured: Configured) -> tuple[str, str]:
    """The connection string for credentials `name` and where it came from (for messages).

    `configured` is the settings' connections by name (``Settings.postgres``), or this connection's
    own string, or None; a Prefect Secret block is the fallback.
    """
    value = _configured(configured, name)
    if value is not None:
        return value, f"environment variable {env_var(name)}"
    value = _from_prefect(name)
    if value is None:
        raise SourceReadError(f"postgres:{name}", None, _missing_message(name))
    return value, f"Prefect Secret block '{secret_block_name(name)}'"


# --- connecting ------------------------------------------------------------------------------------


def _server(params: dict[str, Any]) -> str:
    """host, port and database of a connection, as far as the string says; nothing else from it."""
    host = params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST") or "localhost"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    dbname = params.get("dbname") or os.environ.get("PGDATABASE") or "(the user's default)"
    return f"host {host} port {port} database {dbname}"


def _redacted(text: str, params: dict[str, Any]) -> str:
    """libpq's message on one line, with the password cut out should it ever appear."""
    text = " ".join(text.split())
    password = params.get("password")
    if password:
        text = text.replace(str(password), "***")
    return text[:300]


def connect(spec: PostgresConnector, configured: Configured) -> psycopg.Connection[Any]:
    """A read-only connection for the spec's credentials, with values of unmapped types kept as text."""
    where = f"postgres:{spec.credentials}"
    dsn, origin = resolve_dsn(spec.credentials, configured)
    # Errors are raised outside the except blocks, so nothing the driver said is chained to them:
    # libpq's parse error quotes the string, password included.
    params: dict[str, Any] | None = None
    with contextlib.suppress(psycopg.Error):
        params = conninfo_to_dict(dsn)
    if params is None:
        raise SourceReadError(where, None, f"{origin} does not hold a valid libpq connection string or URL")
    extra: dict[str, Any] = {}
    if "connect_timeout" not in params:
        extra["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    if "application_name" not in params:
        extra["application_name"] = APPLICATION_NAME
    conn: psycopg.Connection[Any] | None = None
    reason = ""
    try:
        conn = psycopg.connect(dsn, **extra)
    except psycopg.Error as exc:
        reason = _redacted(str(exc), params)
    if conn is None:
        raise SourceReadError(
            where, None, f"could not connect to PostgreSQL at {_server(params)} ({origin}): {reason}"
        )
    conn.read_only = True
    # Unmapped types (and numeric, which Arrow casts from text exactly and in bulk) arrive as
    # PostgreSQL's own text; types psycopg does not know (enums, extensions) already do.
    for info in postgres.types:
        if info.oid not in _NATIVE_OIDS:
            conn.adapters.register_loader(info.oid, TextLoader)
        if info.array_oid:
            conn.adapters.register_loader(info.array_oid, TextLoader)
    return conn


# --- types -----------------------------------------------------------------------------------------


def _type_name(column: Column) -> str:
    info = postgres.types.get(column.type_code)
    if info is None:
        return f"oid {column.type_code}"  # a type of this database (enum, extension): read as text
    name = f"{info.name}[]" if column.type_code == info.array_oid else info.name
    if column.type_code == _NUMERIC_OID and column.precision is not None:
        return f"numeric({column.precision},{column.scale or 0})"
    return name


def arrow_field(column: Column) -> pa.Field:
    """The Arrow field for a result column (see the module docstring for the mapping)."""
    arrow = _NATIVE_OIDS.get(column.type_code)
    if column.type_code == _NUMERIC_OID:
        precision, scale = column.precision, column.scale or 0
        # PostgreSQL 15 also allows a negative scale or one above the precision: those stay text.
        if precision is not None and 0 < precision <= MAX_DECIMAL_PRECISION and 0 <= scale <= precision:
            arrow = pa.decimal128(precision, scale)
    if arrow is None:
        arrow = pa.string()
    return pa.field(column.name, arrow, nullable=True, metadata={"postgres_type": _type_name(column)})


def _arrow_schema(where: str, description: Sequence[Column]) -> pa.Schema:
    names = [c.name for c in description]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SourceReadError(
            where, None, f"the result names a column more than once: {', '.join(repeated)} (alias them)"
        )
    return pa.schema([arrow_field(c) for c in description])


def _batch_table(where: str, schema: pa.Schema, rows: list[tuple[Any, ...]]) -> pa.Table:
    arrays = []
    for i, field in enumerate(schema):
        values = [row[i] for row in rows]
        try:
            if pa.types.is_decimal(field.type):
                array = pa.array(values, type=pa.string()).cast(field.type)
            else:
                array = pa.array(values, type=field.type)
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            # Arrow's message quotes the value: neither shown nor chained.
            array = None
        if array is None:
            pg_type = field.metadata[b"postgres_type"].decode()
            raise SourceReadError(
                where, None, f"column {field.name} ({pg_type}) holds a value that {field.type} cannot hold"
            )
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=schema)


# --- watermarks ------------------------------------------------------------------------------------


def watermark_text(value: Any) -> str:
    """A watermark as PostgreSQL reads it back as a literal (ISO 8601 for dates and times)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def row_digest(row: tuple[Any, ...]) -> str:
    """Recognises a row delivered before; a truncated hash, so state holds no data values."""
    return hashlib.sha256(repr(row).encode("utf-8")).hexdigest()[:DIGEST_CHARS]


class _Watermark:
    """Tracks, over batches sorted by the watermark column, which rows to drop and the new state.

    Rows at exactly the previous watermark that the previous run delivered come first (the query is
    ``>= watermark ORDER BY column``) and are dropped by digest; new rows that tie with it are kept.
    The rows at the new maximum are remembered by digest for the next run.
    """

    def __init__(self, column: str, index: int, previous: str | None, seen: dict[str, int]) -> None:
        self.column, self.index = column, index
        self.previous = previous
        self.skip = Counter(seen)
        self.top: Any = None
        self.top_seen: Counter[str] = Counter()
        self.rows_read = 0

    def new_rows(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        self.rows_read += len(rows)
        kept = rows
        if self.skip:
            kept = []
            for i, row in enumerate(rows):
                if watermark_text(row[self.index]) != self.previous:
                    kept.extend(rows[i:])
                    self.skip.clear()  # past the old watermark: nothing further can be a repeat
                    break
                digest = row_digest(row)
                if self.skip[digest] > 0:
                    self.skip[digest] -= 1
                else:
                    kept.append(row)
        self._track_top(rows)
        return kept

    def _track_top(self, rows: list[tuple[Any, ...]]) -> None:
        last = rows[-1][self.index]
        start = len(rows) - 1
        while start > 0 and rows[start - 1][self.index] == last:
            start -= 1
        if not (start == 0 and self.top_seen and self.top == last):
            self.top, self.top_seen = last, Counter()
        self.top_seen.update(row_digest(row) for row in rows[start:])

    def state(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "watermark": watermark_text(self.top),
            "seen_at_watermark": dict(sorted(self.top_seen.items())),
        }


# --- extracting ------------------------------------------------------------------------------------


def _relation(spec: PostgresConnector) -> sql.Composable:
    if spec.table is not None:
        schema, table = spec.table.split(".")
        return sql.Identifier(schema, table)
    assert spec.query is not None
    # Parameters are always passed, so a literal '%' in the owner's query must be doubled; the
    # newlines keep a trailing '-- comment' in the query from swallowing the closing parenthesis.
    return sql.SQL("(\n{}\n) AS q").format(sql.SQL(spec.query.replace("%", "%%")))


def build_query(spec: PostgresConnector, watermark: str | None) -> tuple[sql.Composed, dict[str, Any]]:
    """The SELECT for a full or incremental load, with every identifier quoted."""
    select = sql.SQL("SELECT * FROM {}").format(_relation(spec))
    if spec.incremental is None:
        return select, {}
    column = sql.Identifier(spec.incremental.column)
    query = sql.SQL("{} WHERE {} IS NOT NULL").format(select, column)
    params: dict[str, Any] = {}
    if watermark is not None:
        query = sql.SQL("{} AND {} >= %(watermark)s").format(query, column)
        params["watermark"] = watermark
    return sql.SQL("{} ORDER BY {}").format(query, column), params


def _sql_error(where: str, exc: psycopg.Error, initial_for: str | None) -> SourceReadError:
    """PostgreSQL's reason when its class only names objects (42xxx, …), else just the error code.

    Data exceptions (class 22) and constraint errors quote row values, so their text is dropped.
    `initial_for` names the watermark column when the owner's `initial` value was sent.
    """
    state = exc.sqlstate
    if state is None and isinstance(exc, psycopg.DataError):
        return SourceReadError(
            where,
            None,
            "a value could not be converted (dates and timestamps of 'infinity' or beyond year 9999 "
            "are not supported: cast or filter them in a query)",
        )
    if state is not None and state.startswith(_SAFE_SQLSTATE_CLASSES) and exc.diag.message_primary:
        reason = f"{exc.diag.message_primary} ({state})"
    else:
        reason = f"error {state or 'without code'} ({type(exc).__name__})"
        if initial_for is not None and isinstance(exc, psycopg.DataError):
            reason += f"; is incremental.initial a valid value for column {initial_for}?"
    return SourceReadError(where, None, f"PostgreSQL refused the extract: {reason}")


def _previous_watermark(
    spec: PostgresConnector, state: dict[str, Any] | None
) -> tuple[str | None, dict[str, Any]]:
    assert spec.incremental is not None
    if not state:
        return spec.incremental.initial, {}
    if state.get("column") != spec.incremental.column:
        raise SourceReadError(
            f"postgres:{spec.credentials}/{spec.label}",
            None,
            f"the saved watermark is for column {state.get('column')!s}, the passport now names "
            f"{spec.incremental.column}: reset this source's state to load it again from the start",
        )
    return state.get("watermark"), dict(state.get("seen_at_watermark") or {})


def extract_postgres(
    spec: PostgresConnector, state: dict[str, Any] | None, workdir: Path, connections: Configured
) -> Extraction:
    """Stream the table or query (all rows, or those new since `state`) into one Parquet file.

    `connections` holds the configured connection strings by name (see `resolve_dsn`).
    """
    where = f"postgres:{spec.credentials}/{spec.label}"
    previous, seen = (None, {}) if spec.incremental is None else _previous_watermark(spec, state)
    query, params = build_query(spec, previous)
    from_initial = spec.incremental is not None and previous is not None and not state
    initial_for = spec.incremental.column if from_initial and spec.incremental else None
    path = workdir / f"{spec.label}.parquet"
    rows_written = 0
    tracker: _Watermark | None = None
    error: SourceReadError | None = None
    with connect(spec, connections) as conn:
        try:
            conn.execute("SET TIME ZONE 'UTC'")
            with conn.cursor(name=CURSOR_NAME) as cursor:
                cursor.execute(query, params)
                assert cursor.description is not None
                schema = _arrow_schema(where, cursor.description)
                if spec.incremental is not None:
                    index = schema.get_field_index(spec.incremental.column)
                    tracker = _Watermark(spec.incremental.column, index, previous, seen)
                private_file(path).close()  # owner-only from the first byte; the writer keeps the mode
                with pq.ParquetWriter(path, schema, compression="zstd") as writer:
                    while rows := cursor.fetchmany(spec.batch_rows):
                        if tracker is not None:
                            rows = tracker.new_rows(rows)
                            if not rows:
                                continue
                        writer.write_table(_batch_table(where, schema, rows))
                        rows_written += len(rows)
        except psycopg.Error as exc:
            error = _sql_error(where, exc, initial_for)
        if error is not None:
            # Raised outside the handler: the driver's exception may quote row values, so it is
            # neither shown nor chained. Leaving the block rolls back and closes the connection.
            raise error

    if spec.incremental is None:
        return Extraction(files=[path], description=f"full load: {rows_written} row(s) from {spec.label}")
    assert tracker is not None
    column = spec.incremental.column
    if rows_written == 0:
        path.unlink(missing_ok=True)
        return Extraction(
            files=[],
            state=state,
            description=f"incremental load: no new rows in {spec.label} by {column}",
            empty=True,
        )
    return Extraction(
        files=[path],
        state=tracker.state(),
        description=f"incremental load: {rows_written} new row(s) from {spec.label} by {column}",
    )
