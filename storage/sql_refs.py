"""What a SELECT reads: the tables, files, table functions, columns and stars its text names.

Two parsers, each asked what it knows best:

- **DuckDB decides the statement kind.** `extract_statements` is the engine's own parser, the one that
  will run the text, so a ``COPY``, ``ATTACH``, ``SET``, ``INSTALL``, ``LOAD``, ``PRAGMA`` or ``CALL``
  is refused (`NotSelect`) before anything else reads it; sqlglot falls back to an opaque "command" for
  syntax it does not know and must not be the judge of that.
- **sqlglot reads what the text names** (dialect ``duckdb``), with scopes: a CTE name is not a table
  (and a CTE that shadows a table reads the table inside its own definition only), an alias resolves
  to its table in its own scope, a correlated or lateral column to the enclosing scope that has it,
  ``c.addr.city`` is column ``addr`` of ``c`` while ``addr.city`` is a struct field, and a column that
  names a table (``SELECT c FROM customers c``) is its whole row. DuckDB's serialized parse tree
  leaves all of that to its binder, and regular expressions cannot see it at all.

Anything in FROM position that is not a named table, a subquery or ``VALUES`` is a table function,
whatever class sqlglot parses it into (``read_csv``, ``glob``, ``query``, ``unnest``, ``LATERAL f()``),
and a table written as a string or a path (``FROM 'file.csv'``, ``FROM "x.parquet"``) is a file,
since DuckDB reads it as one. Text that one parser accepts and the other does not is refused
(`QueryError`). Identifiers are compared as DuckDB does, case-insensitively (names come back lower
case). Nothing is bound or run: a ``*`` is reported as a star over its tables, for callers to expand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import Scope, traverse_scope

from storage.errors import NotSelect, QueryError

if TYPE_CHECKING:
    from collections.abc import Iterator

DIALECT = "duckdb"
# sqlglot warns about syntax it does not know by quoting the statement, and a query's text may hold
# values (``WHERE email = '…'``): its warnings never reach a log. What it cannot read is refused anyway.
logging.getLogger("sqlglot").setLevel(logging.ERROR)
_PATH_CHARACTERS = frozenset("/\\.:*?~")  # in a table name, DuckDB reads a file (replacement scan)
_HOME_SCHEMAS = frozenset({"", "main"})


@dataclass(frozen=True)
class ColumnRef:
    """A column as written, and the tables it may belong to.

    `parts` is ``(column,)``, ``(table, column)`` or longer (struct fields); `name` is the column of a
    table it reads. `tables` lists, innermost scope first, the base tables of each scope the column
    may bind to: one table for a qualified column, every table of its FROM for an unqualified one
    (then those of the enclosing scopes, for a correlated subquery), as DuckDB's binder looks them up.
    """

    parts: tuple[str, ...]
    name: str
    tables: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class StarRef:
    """A ``*``, ``t.*``, ``COLUMNS(…)``, ``#n``, PIVOT or whole-row reference: every column of `tables`
    but those in `excluded` (``* EXCLUDE (…)``)."""

    tables: tuple[str, ...]
    excluded: frozenset[str] = frozenset()


@dataclass
class SqlRefs:
    """Everything a query names."""

    tables: set[str] = field(default_factory=set)  # base tables and views; CTE names left out
    files: set[str] = field(default_factory=set)  # tables written as a file: FROM 'x.csv'
    functions: set[str] = field(default_factory=set)  # table functions: read_csv, glob, query, ...
    columns: list[ColumnRef] = field(default_factory=list)
    stars: list[StarRef] = field(default_factory=list)


def sql_refs(sql: str) -> SqlRefs:
    """Parse one or more SELECT statements.

    Raises `NotSelect` naming the kinds of the other statements (``COPY``, ``ATTACH``, ``SET`` ...) and
    `QueryError` for text that does not parse (DuckDB's message first), or is empty.
    """
    _check_statement_kinds(sql)
    try:
        statements = [s for s in sqlglot.parse(sql, dialect=DIALECT) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" (line {first.get('line')}, column {first.get('col')})" if first else ""
        description = first.get("description") or "unexpected syntax"
        raise QueryError(f"the query does not parse for the access check: {description}{where}") from None
    except SqlglotError as exc:
        raise QueryError(f"the query does not parse for the access check: {type(exc).__name__}") from None
    refs = SqlRefs()
    for statement in statements:
        if not isinstance(statement, exp.Query | exp.Values):
            kind = statement.name if isinstance(statement, exp.Command) else statement.key
            raise NotSelect(f"refused: {kind.upper()}")
        _collect(normalize_identifiers(statement, dialect=DIALECT), sql, refs)
    return refs


def _check_statement_kinds(sql: str) -> None:
    """DuckDB's own parser: every statement must be a SELECT (the engine's view of the text)."""
    con = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        kinds = [statement.type for statement in con.extract_statements(sql)]
    except duckdb.Error as exc:
        raise QueryError(str(exc).splitlines()[0]) from None
    finally:
        con.close()
    refused = sorted({kind.name for kind in kinds if kind != duckdb.StatementType.SELECT})
    if refused:
        raise NotSelect(f"refused: {', '.join(refused)}")
    if not kinds:
        raise QueryError("the query is empty")


def _collect(tree: exp.Expr, sql: str, refs: SqlRefs) -> None:
    scopes = list(traverse_scope(tree))  # innermost first
    ctes = {id(t) for scope in scopes for t in scope.tables if _is_scope_ref(scope, t)}
    for table in tree.find_all(exp.Table):
        if id(table) in ctes:
            continue
        name = _table_name(table)
        if name is None:
            refs.functions.add(_function_name(table.this))
        elif _is_file(table, sql):
            refs.files.add(name)
        else:
            refs.tables.add(name)
            if table.args.get("pivots"):  # PIVOT keeps every other column as a group key
                refs.stars.append(StarRef((name,)))
    for node in tree.find_all(exp.From, exp.Join, exp.Lateral):
        source = node.this
        if not isinstance(source, exp.Table | exp.Subquery | exp.Values | exp.Lateral):
            refs.functions.add(_function_name(source))
    reader = _ScopeReader(sql, refs)
    for scope in scopes:
        reader.read(scope)


def _is_scope_ref(scope: Scope, table: exp.Table) -> bool:
    """A table node naming a CTE (or derived table) of its scope, not a table of the database."""
    return isinstance(scope.sources.get(table.alias_or_name), Scope)


def _table_name(table: exp.Table) -> str | None:
    """The table's name (``schema.name`` outside ``main``), None when it is a function call."""
    if not isinstance(table.this, exp.Identifier):
        return None
    if table.catalog or table.db not in _HOME_SCHEMAS:
        return ".".join(p for p in (table.catalog, table.db, table.name) if p)
    return table.name


def _is_file(table: exp.Table, sql: str) -> bool:
    """Written as a string (``FROM 'x.csv'``), or a name DuckDB would look for on disk."""
    start = table.this.meta.get("start")
    literal = isinstance(start, int) and sql[start : start + 1] == "'"
    return literal or any(c in _PATH_CHARACTERS for c in table.name)


def _function_name(node: exp.Expr) -> str:
    """What the user called, as DuckDB spells it (``read_csv``), for any class sqlglot parsed it into."""
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    rendered = node.sql(dialect=DIALECT).split("(", 1)[0].strip().lower()
    return rendered[:64] or node.key


def _chain(scope: Scope | None) -> Iterator[Scope]:
    while scope is not None:
        yield scope
        scope = scope.parent


@dataclass
class _ScopeReader:
    """Columns and stars, scope by scope; each node is read once, by the innermost scope that has it."""

    sql: str
    refs: SqlRefs
    seen: set[int] = field(default_factory=set)

    def read(self, scope: Scope) -> None:
        excluded = {id(c) for star in scope.find_all(exp.Star) for c in star.args.get("except_") or []}
        for column in scope.columns:
            if id(column) not in excluded:
                self._column(scope, column)
        joins = scope.expression.args.get("joins") if isinstance(scope.expression, exp.Select) else None
        for join in joins or []:
            using = [i.name for i in join.args.get("using") or []]  # JOIN … USING (c): c of both sides
            joined = self._table(scope.sources.get(join.this.alias_or_name))  # SEMI/ANTI: not selected
            tables = tuple(sorted({*self._tables(scope), *([joined] if joined else [])}))
            self.refs.columns.extend(ColumnRef((name,), name, (tables,)) for name in using)
            if join.args.get("method") == "NATURAL":  # joins on every column the two sides share
                self.refs.stars.append(StarRef(self._tables(scope)))
        for node in scope.find_all(exp.Star, exp.Columns, exp.PositionalColumn):
            if isinstance(node.parent, exp.Column):  # t.*: a column node
                self._column(scope, node.parent)
            elif id(node) not in self.seen and not isinstance(node.parent, exp.Count):  # count(*): none
                self.seen.add(id(node))
                names = node.args.get("except_") if isinstance(node, exp.Star) else None
                self.refs.stars.append(StarRef(self._tables(scope), frozenset(c.name for c in names or [])))

    def _column(self, scope: Scope, column: exp.Column) -> None:
        if id(column) in self.seen:
            return
        self.seen.add(id(column))
        parts = tuple(p.name for p in column.parts)
        source = self._source(scope, parts[0])
        if len(parts) > 1 and isinstance(source, Scope):  # a subquery's or CTE's output: read there
            return
        table = self._table(source)
        if len(parts) > 1 and table is not None:
            if isinstance(column.this, exp.Star):
                names = column.this.args.get("except_") or []
                self.refs.stars.append(StarRef((table,), frozenset(c.name for c in names)))
            else:
                self.refs.columns.append(ColumnRef(parts, parts[1], ((table,),)))
            return
        if len(parts) == 1 and table is not None:  # `SELECT c FROM customers c`: the whole row
            self.refs.stars.append(StarRef((table,)))
        # unqualified, or qualified by no table (a struct field of a column)
        self.refs.columns.append(ColumnRef(parts, parts[0], self._candidates(scope, parts[0])))

    def _table(self, source: exp.Table | Scope | None) -> str | None:
        """The database table a FROM item reads (None for files, functions, subqueries and CTEs)."""
        if not isinstance(source, exp.Table) or _is_file(source, self.sql):
            return None
        return _table_name(source)

    @staticmethod
    def _source(scope: Scope, name: str) -> exp.Table | Scope | None:
        """What `name` names as a FROM item, looked up from `scope` outwards."""
        for level in _chain(scope):
            found = level.sources.get(name)
            if isinstance(found, exp.Table | Scope):
                return found
        return None

    def _tables(self, scope: Scope) -> tuple[str, ...]:
        """The database tables among a scope's FROM items."""
        found = {self._table(source) for _, source in scope.selected_sources.values()}
        return tuple(sorted(name for name in found if name is not None))

    def _candidates(self, scope: Scope, name: str) -> tuple[tuple[str, ...], ...]:
        """Tables an unqualified column may bind to, scope by scope outwards (DuckDB binds the first)."""
        levels = []
        for level in _chain(scope):
            levels.append(self._tables(level))
            if _may_provide(level, name):
                break
        return tuple(levels)


def _may_provide(scope: Scope, name: str) -> bool:
    """Whether a subquery or CTE among the scope's FROM items may output a column `name`."""
    for _, source in scope.selected_sources.values():
        if not isinstance(source, Scope):
            continue
        query = source.expression
        while isinstance(query, exp.Lateral | exp.Subquery):
            query = query.this
        if isinstance(query, exp.Query) and (name in query.named_selects or query.is_star):
            return True
    return False


__all__ = ["ColumnRef", "SqlRefs", "StarRef", "sql_refs"]
