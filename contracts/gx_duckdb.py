r"""Great Expectations on DuckDB: the small workaround that makes GX 1.x's SQL path run there.

Why: GX has no polars engine (GX #8023), and its pandas path needs a pandas copy of the whole batch
and runs every expectation in pandas (measured: 6.5 s of a 1M-row, 10-rule suite, and a second full
copy of the batch in memory). GX's SQL path on DuckDB pushes each metric down as SQL over the batch,
which DuckDB scans from the polars frame's Arrow buffers without copying them (0.75 s for the same).

GX does not support DuckDB as a dialect, and two things break (GX #10738, #11579; PR #12084 would add
a native DuckDB engine and make this module unnecessary):

1. Every metric fails with ``IndexError`` in ``resolve_metric_bundle``: GX opens a connection per
   query and closes it before fetching, which drops DuckDB's pending result. GX keeps one persisted
   connection for the dialects in ``sqlalchemy_execution_engine._PERSISTED_CONNECTION_DIALECTS``
   (sqlite, mssql, ...); `install` adds ``duckdb`` to that tuple.
2. Regex expectations raise ``NotImplementedError`` ("Regex is not supported for dialect duckdb"):
   ``metrics.util.get_dialect_regex_expression`` knows no DuckDB function. `install` wraps it in the
   metric modules that imported it by name: DuckDB gets ``regexp_matches(column, pattern)`` (a
   search, like pandas' ``str.contains``), every other dialect GX's own answer. Rewriting regex rules
   as ``UnexpectedRowsExpectation`` queries would also run, but that expectation has no ``mostly``
   and reports no element count or percentage, so results would differ from the pandas path; the
   wrapped function keeps GX's own expectation, its ``mostly`` and its Data Docs rendering.

The batch reaches DuckDB as Arrow: `arrow_datasource` gives GX a SQLAlchemy ``creator`` that opens a
cursor on one private in-memory database and registers the Arrow table on it as ``batch``
(registration references the Arrow buffers, it does not copy them). GX makes two engines (the
datasource's, for its connection test, and the execution engine's); both see the same table.

Regex dialects: the pandas path runs Python's ``re``, DuckDB runs RE2, and their shorthand classes
differ on non-ASCII text (RE2's ``\w``, ``\d`` and ``\s`` are ASCII only; measured: the pattern
``[А-Яа-я]+ \w+`` missed every Cyrillic note). `to_re2` rewrites a pattern into RE2 with Python's
meaning: ``\d`` → ``\p{Nd}`` (Python's definition exactly), ``\w`` → ``[\p{L}\p{N}_]`` (Python:
``str.isalnum()`` or ``_``), ``\s`` → the characters ``str.isspace()`` accepts, ``\Z`` → ``\z``, and a
closing ``$`` → ``\n?$`` (Python's ``$`` also matches before a final newline). What it cannot rewrite
faithfully (``\b``, ``\W`` or ``\S`` inside a class, a ``$`` mid-pattern), and what RE2 cannot compile
(look-arounds, back-references), makes `regex_supported` false, and `contracts.validation` then runs
that suite on the pandas path.

`tests/contracts/test_gx_duckdb.py` checks that both patch points still exist and that every
expectation kind the contracts use gives the same outcome on both paths, so a GX upgrade that moves
either fails a test instead of silently changing results.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import importlib
import threading
import uuid
from typing import TYPE_CHECKING, Any

import duckdb

from contracts.errors import GxDuckdbUnsupportedError
from storage.staging import duckdb_config

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.dataset as pads
    from duckdb_engine import ConnectionWrapper

DIALECT = "duckdb"
TABLE = "batch"
# GX modules that import `get_dialect_regex_expression` by name: each keeps its own reference.
REGEX_METRIC_MODULES = (
    "great_expectations.expectations.metrics.column_map_metrics.column_values_match_regex",
    "great_expectations.expectations.metrics.column_map_metrics.column_values_not_match_regex",
    "great_expectations.expectations.metrics.column_map_metrics.column_values_match_regex_list",
    "great_expectations.expectations.metrics.column_map_metrics.column_values_not_match_regex_list",
)
ENGINE_MODULE = "great_expectations.execution_engine.sqlalchemy_execution_engine"
REGEX_EXPECTATIONS = frozenset(
    {
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_match_regex_list",
        "expect_column_values_to_not_match_regex_list",
    }
)

# Python's str.isspace() characters, as RE2 escapes.
_PY_SPACE = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
)
_PY_WORD = r"\p{L}\p{N}_"
# Shorthand → (outside a class, inside a class or None when it has no faithful form there).
_SHORTHANDS: dict[str, tuple[str, str | None]] = {
    "d": (r"\p{Nd}", r"\p{Nd}"),
    "D": (r"\P{Nd}", r"\P{Nd}"),
    "w": (f"[{_PY_WORD}]", _PY_WORD),
    "W": (f"[^{_PY_WORD}]", None),
    "s": (f"[{_PY_SPACE}]", _PY_SPACE),
    "S": (f"[^{_PY_SPACE}]", None),
    "Z": (r"\z", None),
}
_UNFAITHFUL = frozenset("bB")

_install_lock = threading.Lock()
_installed = threading.Event()
# GX's private names that `install` patches (see the module docstring).
_PERSISTED_ATTR = "_PERSISTED_CONNECTION_DIALECTS"
_REGEX_ATTR = "get_dialect_regex_expression"


class _Dialect(enum.StrEnum):
    """GX compares dialect names to its enum members' ``.value``; a str enum member compares to both."""

    DUCKDB = DIALECT


def _regex_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    import sqlalchemy as sa

    def get_dialect_regex_expression(column: Any, regex: str, dialect: Any, positive: bool = True) -> Any:
        if getattr(dialect, "name", None) == DIALECT:
            pattern = to_re2(regex)
            if pattern is None:  # validate() routes such suites to pandas; never guess here
                raise NotImplementedError(f"regex has no faithful RE2 form for {DIALECT}")
            matches = sa.func.regexp_matches(column, sa.literal(pattern))
            return matches if positive else sa.not_(matches)
        return original(column, regex, dialect, positive)

    # the marker install() checks so it never wraps twice; functions take attributes mypy cannot declare
    get_dialect_regex_expression.__wrapped__ = original  # type: ignore[attr-defined]
    return get_dialect_regex_expression


def install() -> None:
    """Patch GX once per process (idempotent, thread-safe); raises `GxDuckdbUnsupportedError` if GX moved."""
    if _installed.is_set():
        return
    with _install_lock:
        if _installed.is_set():
            return
        # getattr/setattr by name: the patched names are private to GX, so its types do not declare them.
        engine = importlib.import_module(ENGINE_MODULE)
        persisted = getattr(engine, _PERSISTED_ATTR, None)
        if not isinstance(persisted, tuple):
            raise GxDuckdbUnsupportedError(f"{ENGINE_MODULE}.{_PERSISTED_ATTR} is gone")
        if _Dialect.DUCKDB not in persisted:
            setattr(engine, _PERSISTED_ATTR, (*persisted, _Dialect.DUCKDB))
        for name in REGEX_METRIC_MODULES:
            module = importlib.import_module(name)
            original = getattr(module, _REGEX_ATTR, None)
            if original is None:
                raise GxDuckdbUnsupportedError(f"{name}.{_REGEX_ATTR} is gone")
            if getattr(original, "__wrapped__", None) is None:
                setattr(module, _REGEX_ATTR, _regex_wrapper(original))
        _installed.set()


def to_re2(regex: str) -> str | None:
    """`regex` (Python ``re`` syntax) as an RE2 pattern with the same matches, or None if none is known."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(regex):
        char = regex[i]
        if char == "\\":
            if i + 1 >= len(regex):
                return None
            nxt = regex[i + 1]
            if nxt in _UNFAITHFUL:
                return None
            if nxt in _SHORTHANDS:
                outside, inside = _SHORTHANDS[nxt]
                replacement = inside if in_class else outside
                if replacement is None:
                    return None
                out.append(replacement)
            else:
                out.append(regex[i : i + 2])
            i += 2
            continue
        if in_class:
            if char == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
            elif char == "[":
                return None  # a nested class or [: :] set: leave it to Python
            out.append(char)
        elif char == "[":
            in_class = True
            if regex.startswith("[^", i):
                out.append("[^")
                i += 2
                continue
            out.append("[")
        elif char == "$":
            if i + 1 < len(regex) and regex[i + 1] not in "|)":
                return None
            out.append("\\n?$")
        else:
            out.append(char)
        i += 1
    return None if in_class else "".join(out)


def regex_supported(regex: str) -> bool:
    """Whether `regex` runs on DuckDB with Python's meaning: rewritable by `to_re2`, and RE2 compiles it."""
    pattern = to_re2(regex)
    if pattern is None:
        return False
    try:
        duckdb.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
    except duckdb.Error:
        return False
    return True


@functools.cache
def _closable_connection() -> type[ConnectionWrapper]:
    """duckdb_engine's connection, for a database `arrow_datasource` closes once the validation ended:
    SQLAlchemy rolls a pooled connection back when GX's engine is collected, later, and a closed DuckDB
    connection refuses that; there is nothing left to roll back."""
    from duckdb_engine import ConnectionWrapper

    class ClosableConnection(ConnectionWrapper):
        def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
            super().__init__(connection)
            self._duckdb = connection

        def rollback(self) -> None:
            with contextlib.suppress(duckdb.ConnectionException):
                self._duckdb.rollback()

    return ClosableConnection


def arrow_datasource(
    context: Any,
    name: str,
    table: pa.Table | pads.Dataset,
    *,
    memory_limit: int | None = None,
    temp_directory: Path | None = None,
) -> tuple[Any, Callable[[], None]]:
    """A GX SQL datasource over `table` (visible to GX as table ``batch``) and a function that closes it.

    Each connection GX opens is a cursor of one private in-memory database with the table registered:
    zero-copy, and invisible to any other validation running in the process. An Arrow dataset (a staged
    batch's Parquet parts) is scanned a batch at a time; `memory_limit` (bytes) holds DuckDB to it, and
    what does not fit (the uniqueness window, a large aggregate) spills into `temp_directory`.
    """
    install()
    config = duckdb_config(memory_limit, temp_directory)
    base = duckdb.connect(":memory:", config=config)
    cursors: list[duckdb.DuckDBPyConnection] = []
    # Held here and nowhere else: not by `creator`, which GX keeps after `close`, nor by this frame, which
    # a traceback GX keeps (an exception it caught while building the datasource) would keep alive.
    held = [table]
    del table
    lock = threading.Lock()

    def creator() -> ConnectionWrapper:
        with lock:
            if not held:  # a connection after the validation ended: a bug, never a reason to validate nothing
                raise RuntimeError("GX opened a connection to a validation's batch after it was closed")
            cursor = base.cursor()
            cursor.register(TABLE, held[0])
            cursors.append(cursor)
        return _closable_connection()(cursor)

    datasource = context.data_sources.add_sql(
        name,
        connection_string=f"{DIALECT}:///:memory:{uuid.uuid4().hex}",
        kwargs={"creator": creator},
    )

    def close() -> None:
        # Let go of the table (its buffers are the batch's) and close the database now: GX keeps its
        # last context, with this datasource, its `creator` and connections, in a module-level project
        # manager and in reference cycles, so the table outlived the validation (measured at 5M rows:
        # ≈400 MB of the validated columns resident until the next validation). GX's engines roll back
        # and close their pooled connections when they are collected; `_closable_connection` lets them.
        with lock:
            for cursor in cursors:
                with contextlib.suppress(duckdb.Error):
                    cursor.unregister(TABLE)
            cursors.clear()
            held.clear()
            base.close()

    return datasource, close
