"""What a SELECT reads, from DuckDB's own parser: the tables, table functions and columns it names.

``json_serialize_sql`` (DuckDB's built-in json extension) returns the parsed statement as JSON, in the
same dialect the query runs in, so no second SQL grammar can disagree with the engine about what a query
names. Nothing is bound or run: this is what the text names, which is what access checks and the audit
log need (a ``SELECT *`` names every column of its tables; callers expand it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import duckdb

from storage.errors import NotSelect, QueryError


@dataclass(frozen=True)
class ColumnRef:
    """A column as written: `parts` is ``[column]``, ``[table, column]`` or longer (struct fields)."""

    parts: tuple[str, ...]


@dataclass
class SqlRefs:
    """Everything a query names."""

    tables: set[str] = field(default_factory=set)  # base tables and views, CTE names left out
    aliases: dict[str, str] = field(default_factory=dict)  # alias (or table name) → table
    functions: set[str] = field(default_factory=set)  # table functions: read_csv, glob, query, ...
    columns: list[ColumnRef] = field(default_factory=list)
    star: set[str | None] = field(default_factory=set)  # `*` (None) or `t.*` (the qualifier)


def sql_refs(sql: str) -> SqlRefs:
    """Parse one or more SELECT statements.

    Raises `NotSelect` naming the kinds of the other statements (``COPY``, ``ATTACH``, ``SET`` ...) and
    `QueryError` with DuckDB's own message for text that does not parse or is empty.
    """
    con = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        kinds = [statement.type for statement in con.extract_statements(sql)]
        refused = sorted({kind.name for kind in kinds if kind != duckdb.StatementType.SELECT})
        if refused:
            raise NotSelect(f"refused: {', '.join(refused)}")
        if not kinds:
            raise QueryError("the query is empty")
        row = con.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchone()
    except duckdb.Error as exc:
        raise QueryError(str(exc).splitlines()[0]) from None
    finally:
        con.close()
    tree = json.loads(row[0]) if row else {"error": True, "error_message": "nothing to parse"}
    if tree.get("error"):
        raise QueryError(str(tree.get("error_message") or "the query does not parse as SELECT"))
    refs = SqlRefs()
    ctes: set[str] = set()
    _walk(tree.get("statements", []), refs, ctes)
    refs.tables -= ctes
    return refs


def _walk(node: Any, refs: SqlRefs, ctes: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, refs, ctes)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "BASE_TABLE" and node.get("table_name"):
        table = str(node["table_name"])
        refs.tables.add(table)
        refs.aliases[str(node.get("alias") or table)] = table
    elif kind == "TABLE_FUNCTION":
        function = node.get("function")
        if isinstance(function, dict):
            refs.functions.add(str(function.get("function_name", "")))
    elif node.get("class") == "COLUMN_REF" and node.get("column_names"):
        refs.columns.append(ColumnRef(tuple(str(p) for p in node["column_names"])))
    elif node.get("class") == "STAR":
        refs.star.add(str(node.get("relation_name") or "") or None)
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict):
        ctes.update(str(entry.get("key")) for entry in cte_map.get("map", []) if isinstance(entry, dict))
    for value in node.values():
        if isinstance(value, dict | list):
            _walk(value, refs, ctes)
