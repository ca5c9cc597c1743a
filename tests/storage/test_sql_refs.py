"""What `sql_refs` says a query reads: tricky queries one by one, then properties over generated ones.

The generated queries carry their own answer: the generator knows which tables, functions, columns and
stars it wrote, with aliases, CTEs (some shadowing table names), subqueries in every position, lateral
joins, unions, comments and string literals that look like SQL, in random letter case.
"""

from __future__ import annotations

import logging
import string
from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.errors import NotSelect, QueryError
from storage.sql_refs import ColumnRef, StarRef, sql_refs

# --- tricky queries ----------------------------------------------------------------------------------


def test_a_cte_that_shadows_a_table_reads_the_table_only_inside_its_own_definition() -> None:
    assert sql_refs("WITH customers AS (SELECT 1 AS x) SELECT x FROM customers").tables == set()
    assert sql_refs("WITH stores AS (SELECT email FROM customers) SELECT * FROM stores").tables == {
        "customers"
    }
    shadow = sql_refs("WITH customers AS (SELECT * FROM customers WHERE id > 1) SELECT * FROM customers")
    assert shadow.tables == {"customers"}
    assert shadow.stars == [StarRef(("customers",)), StarRef(())]  # the outer * reads the CTE


def test_aliases_resolve_to_their_tables_in_their_own_scope() -> None:
    refs = sql_refs("SELECT c.email, s.name FROM customers AS c JOIN stores s ON c.id = s.id")
    assert refs.tables == {"customers", "stores"}
    assert ColumnRef(("c", "email"), "email", (("customers",),)) in refs.columns
    assert ColumnRef(("s", "id"), "id", (("stores",),)) in refs.columns
    # the same alias names another table in a subquery
    inner = sql_refs("SELECT c.id FROM customers c WHERE c.id IN (SELECT c.id FROM stores c)")
    assert Counter(r.tables for r in inner.columns) == {(("customers",),): 2, (("stores",),): 1}


def test_a_subquery_in_the_select_list_and_a_correlated_column() -> None:
    refs = sql_refs("SELECT (SELECT max(email) FROM customers) AS m, (SELECT name) FROM stores")
    assert refs.tables == {"customers", "stores"}
    by_name = {r.name: r.tables for r in refs.columns}
    assert by_name["email"] == (("customers",), ("stores",))  # its own FROM first, then the outer one
    assert by_name["name"] == ((), ("stores",))


def test_star_exclude_replace_qualified_stars_and_count() -> None:
    assert sql_refs("SELECT * EXCLUDE (email, Phone) FROM customers").stars == [
        StarRef(("customers",), frozenset({"email", "phone"}))
    ]
    refs = sql_refs("SELECT c.* EXCLUDE (email), s.* FROM customers c, stores s")
    assert sorted(refs.stars, key=lambda s: s.tables) == [
        StarRef(("customers",), frozenset({"email"})),
        StarRef(("stores",)),
    ]
    assert refs.columns == []  # an excluded column is not read
    replaced = sql_refs("SELECT * REPLACE (upper(email) AS email) FROM customers")
    assert [c.name for c in replaced.columns] == ["email"]
    assert sql_refs("SELECT count(*) FROM customers").stars == []


def test_join_using_reads_the_column_of_both_sides_and_natural_every_shared_one() -> None:
    refs = sql_refs("SELECT 1 FROM customers c JOIN stores s USING (Store_Id)")
    assert refs.columns == [ColumnRef(("store_id",), "store_id", (("customers", "stores"),))]
    assert sql_refs("SELECT 1 FROM customers NATURAL JOIN stores").stars == [StarRef(("customers", "stores"))]
    semi = sql_refs("SELECT * FROM customers SEMI JOIN stores USING (id)")  # stores: joined, not output
    assert (semi.columns[0].tables, semi.stars) == ((("customers", "stores"),), [StarRef(("customers",))])


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT COLUMNS('pass.*') FROM customers",
        "SELECT COLUMNS(*) FROM customers",
        "SELECT #2 FROM customers",
        "SELECT c FROM customers c",  # a table named as a column is its whole row
        "SELECT * FROM customers PIVOT (count(*) FOR segment IN ('retail'))",
    ],
)
def test_what_reads_every_column_is_a_star(sql: str) -> None:
    assert StarRef(("customers",)) in sql_refs(sql).stars


def test_struct_fields_are_columns_of_their_table() -> None:
    refs = sql_refs("SELECT c.addr.city, addr.zip, addr.* FROM customers c")
    assert [(r.parts, r.name, r.tables) for r in refs.columns] == [
        (("c", "addr", "city"), "addr", (("customers",),)),
        (("addr", "zip"), "addr", (("customers",),)),
        (("addr", "*"), "addr", (("customers",),)),
    ]


def test_quoted_identifiers_hold_anything_and_names_compare_as_duckdb_does() -> None:
    refs = sql_refs('SELECT "FROM secret; DROP TABLE x --", "it""s" FROM "My Table" WHERE note = \'FROM b\'')
    assert refs.tables == {"my table"}
    assert [r.name for r in refs.columns] == ["from secret; drop table x --", 'it"s', "note"]
    assert sql_refs('SELECT EMAIL FROM "Customers" AS C WHERE c.ID = 1').columns == [
        ColumnRef(("email",), "email", (("customers",),)),
        ColumnRef(("c", "id"), "id", (("customers",),)),
    ]


@pytest.mark.parametrize(
    ("sql", "functions"),
    [
        ("SELECT * FROM read_csv('x.csv')", {"read_csv"}),
        ("SELECT * FROM read_parquet(['a', 'b'], union_by_name = true)", {"read_parquet"}),
        ("SELECT * FROM glob('/*')", {"glob"}),
        ("SELECT * FROM query('SELECT 1')", {"query"}),
        ("SELECT * FROM delta_scan('s3://b/t')", {"delta_scan"}),
        ("SELECT * FROM range(3)", {"range"}),
        ("SELECT * FROM sqlite_scan('x.db', 't')", {"sqlite_scan"}),
        ("SELECT * FROM customers c, unnest(c.tags) AS t(tag)", {"unnest"}),
        ("SELECT * FROM customers c JOIN read_json_auto('x') j ON true", {"read_json_auto"}),
        ("SELECT * FROM customers c, LATERAL read_csv('x')", {"read_csv"}),
        ("SELECT * FROM (SELECT * FROM (FROM read_text('/etc/passwd')))", {"read_text"}),
        ("WITH x AS (SELECT * FROM parquet_scan('p')) SELECT * FROM x", {"parquet_scan"}),
        ("SELECT (SELECT count(*) FROM glob('*')) AS n", {"glob"}),
        ("SELECT 1 WHERE EXISTS (SELECT 1 FROM my_own_function(1))", {"my_own_function"}),
        ("SELECT 1 UNION ALL SELECT * FROM read_ndjson('x')", {"read_ndjson"}),
    ],
)
def test_every_function_in_from_position_is_a_table_function(sql: str, functions: set[str]) -> None:
    assert sql_refs(sql).functions == functions


@pytest.mark.parametrize(
    ("sql", "files"),
    [
        ("SELECT * FROM 'file.csv'", {"file.csv"}),
        ("SELECT * FROM 'customers'", {"customers"}),  # DuckDB may read it as a file: a string is one
        ('SELECT * FROM "data/x.parquet" AS x', {"data/x.parquet"}),
        (
            "SELECT * FROM customers, 's3://lake/curated/customers/part-0.parquet'",
            {"s3://lake/curated/customers/part-0.parquet"},
        ),
        ("WITH x AS (FROM '/etc/passwd') SELECT * FROM x", {"/etc/passwd"}),
    ],
)
def test_a_table_written_as_a_file_is_a_file(sql: str, files: set[str]) -> None:
    refs = sql_refs(sql)
    assert refs.files == files and not refs.tables & files


def test_schemas_other_than_main_keep_their_name() -> None:
    assert sql_refs("SELECT * FROM main.customers").tables == {"customers"}
    assert sql_refs("SELECT * FROM information_schema.tables").tables == {"information_schema.tables"}
    assert sql_refs("SELECT * FROM other.main.customers").tables == {"other.main.customers"}


def test_union_lateral_and_several_statements() -> None:
    refs = sql_refs(
        "SELECT id FROM customers UNION SELECT l.id FROM stores s, "
        "LATERAL (SELECT t.id FROM support_tickets t WHERE t.store = s.id) l; SELECT 1"
    )
    assert refs.tables == {"customers", "stores", "support_tickets"}
    assert ColumnRef(("s", "id"), "id", (("stores",),)) in refs.columns
    assert not any(r.parts == ("l", "id") for r in refs.columns)  # the lateral's output, read inside it


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("COPY customers TO '/tmp/x.csv'", "COPY"),
        ("ATTACH '/tmp/x.duckdb' AS x", "ATTACH"),
        ("SET enable_external_access = true", "SET"),
        ("INSTALL httpfs", "LOAD"),
        ("LOAD httpfs", "LOAD"),
        ("PRAGMA database_list", "PRAGMA"),
        ("CALL pragma_version()", "CALL"),
        ("SELECT 1; DROP TABLE customers", "DROP"),
        ("EXPLAIN SELECT 1", "EXPLAIN"),
        ("DESCRIBE customers", "DESCRIBE"),  # a SELECT to DuckDB; not a query to sqlglot
        ("SUMMARIZE customers", "SUMMARIZE"),
        ("PIVOT customers ON segment IN ('a') USING count(*)", "PIVOT"),
    ],
)
def test_statements_other_than_select_are_refused_by_kind(sql: str, kind: str) -> None:
    with pytest.raises(NotSelect, match=f"refused: .*{kind}"):
        sql_refs(sql)


def test_empty_and_broken_text_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="the query is empty"):
        sql_refs(" ;  -- nothing")
    with pytest.raises(QueryError, match="syntax error"):  # DuckDB's message, first
        sql_refs("SELEC email FROM customers")


# --- properties ------------------------------------------------------------------------------------------

NAME_CHARACTERS = string.ascii_letters + string.digits + string.punctuation + " "
TABLES = ("customers", "stores", "support_tickets")
COLUMNS = ("id", "email", "name", "segment")
FUNCTIONS = ("read_csv", "read_parquet", "glob", "query", "delta_scan", "read_json_auto", "fn_custom")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@given(
    table=st.text(NAME_CHARACTERS, min_size=1, max_size=20).filter(lambda t: not set(t) & set("/\\.:*?~")),
    column=st.text(NAME_CHARACTERS, min_size=1, max_size=20),
)
def test_any_quoted_name_is_read_as_that_name(table: str, column: str) -> None:
    refs = sql_refs(f"SELECT {_quote(column)} FROM {_quote(table)}")
    assert refs.tables == {table.lower()} and not refs.files and not refs.functions
    assert refs.columns == [ColumnRef((column.lower(),), column.lower(), ((table.lower(),),))]


@given(value=st.text(string.printable, max_size=40))
def test_string_literals_hold_values_never_names(value: str) -> None:
    refs = sql_refs(
        f"SELECT email FROM customers WHERE email = {_literal(value)} OR name LIKE {_literal(value)}"
    )
    assert refs.tables == {"customers"} and not refs.files and not refs.functions and not refs.stars
    assert [c.name for c in refs.columns] == ["email", "email", "name"]


@dataclass
class Expected:
    """What a generated query reads, as the generator wrote it."""

    tables: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    columns: Counter[tuple[tuple[str, ...], str, tuple[str, ...]]] = field(default_factory=Counter)
    stars: Counter[tuple[str, ...]] = field(default_factory=Counter)
    aliases: int = 0

    def alias(self) -> str:
        self.aliases += 1
        return f"a{self.aliases}"


def _case(draw: st.DrawFn, word: str) -> str:
    return draw(st.sampled_from([word, word.upper(), word.capitalize()]))


def _select(draw: st.DrawFn, expected: Expected, depth: int, ctes: frozenset[str] = frozenset()) -> str:
    """One SELECT; records what it reads in `expected`."""
    sources: list[str] = []
    base: dict[str, str] = {}  # alias → table, for the base tables of this scope
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(
            st.sampled_from(["table", "table", "function", "subquery"] if depth else ["table", "function"])
        )
        alias = expected.alias()
        if kind == "table":
            table = draw(st.sampled_from(sorted({*TABLES, *ctes})))
            sources.append(f"{_case(draw, table)} AS {alias}")
            if table in ctes:
                continue
            expected.tables.add(table)
            base[alias] = table
        elif kind == "function":
            function = draw(st.sampled_from(FUNCTIONS))
            expected.functions.add(function)
            sources.append(f"{_case(draw, function)}({_literal('x FROM y')}) AS {alias}")
        elif draw(st.booleans()) and base:  # a lateral join, correlated to an earlier table
            sources.append(f"LATERAL ({_lateral(draw, expected, base, ctes)}) AS {alias}")
        else:
            sources.append(f"({_select(draw, expected, depth - 1, ctes)}) AS {alias}")
    own = tuple(sorted(set(base.values())))
    items = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["star", "count", "column", "qualified", "qualified_star", "scalar"]))
        if kind == "star":
            items.append("*")
            expected.stars[own] += 1
        elif kind == "count":
            items.append("count(*)")
        elif (
            kind == "column"
            or (kind in {"qualified", "qualified_star"} and not base)
            or (kind == "scalar" and not depth)
        ):
            column = draw(st.sampled_from(COLUMNS))
            items.append(_case(draw, column))
            expected.columns[((column,), column, own)] += 1
        elif kind == "qualified":
            alias, column = draw(st.sampled_from(sorted(base))), draw(st.sampled_from(COLUMNS))
            items.append(f"{alias}.{_case(draw, column)}")
            expected.columns[((alias, column), column, (base[alias],))] += 1
        elif kind == "qualified_star":
            alias = draw(st.sampled_from(sorted(base)))
            items.append(f"{alias}.*")
            expected.stars[(base[alias],)] += 1
        else:
            items.append(f"({_select(draw, expected, depth - 1, ctes)}) AS {expected.alias()}")
    sql = f"SELECT {', '.join(items)} /* FROM hidden_table */ FROM {', '.join(sources)}"
    if draw(st.booleans()):
        column = draw(st.sampled_from(COLUMNS))
        sql += f" WHERE {column} <> {_literal('SELECT * FROM ' + draw(st.sampled_from(TABLES)))}"
        expected.columns[((column,), column, own)] += 1
    return sql


def _lateral(draw: st.DrawFn, expected: Expected, outer: dict[str, str], ctes: frozenset[str]) -> str:
    """``SELECT outer.c, inner.c FROM t AS inner``: the outer column binds to the enclosing scope."""
    alias, inner = draw(st.sampled_from(sorted(outer))), expected.alias()
    column, other = draw(st.sampled_from(COLUMNS)), draw(st.sampled_from(COLUMNS))
    table = draw(st.sampled_from(sorted(set(TABLES) - ctes)))
    expected.tables.add(table)
    expected.columns[((alias, column), column, (outer[alias],))] += 1
    expected.columns[((inner, other), other, (table,))] += 1
    return f"SELECT {alias}.{column}, {inner}.{other} FROM {table} AS {inner}"


@st.composite
def generated_queries(draw: st.DrawFn) -> tuple[str, Expected]:
    expected = Expected()
    ctes: frozenset[str] = frozenset()
    prefix = ""
    if draw(st.booleans()):
        name = draw(st.sampled_from([*TABLES, "w"]))  # may shadow a table
        prefix = f"WITH {name} AS ({_select(draw, expected, 1)}) "
        ctes = frozenset({name})
    sql = prefix + _select(draw, expected, 2, ctes)
    if draw(st.booleans()):
        sql += " UNION ALL " + _select(draw, expected, 1, ctes)
    return sql, expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated_queries())
def test_generated_queries_read_what_they_were_built_from(query: tuple[str, Expected]) -> None:
    sql, expected = query
    refs = sql_refs(sql)
    assert refs.tables == expected.tables
    assert refs.functions == expected.functions
    assert not refs.files
    read = Counter((c.parts, c.name, c.tables[0] if c.tables else ()) for c in refs.columns)
    assert read == expected.columns
    assert Counter(s.tables for s in refs.stars) == expected.stars


def test_a_refused_statement_never_reaches_a_log_with_its_text(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """sqlglot quotes statements it cannot parse in a warning; query text may hold values."""
    with caplog.at_level(logging.DEBUG), pytest.raises(NotSelect):
        sql_refs("SHOW customers -- alice@example.com")
    captured = capsys.readouterr()
    assert "alice@example.com" not in caplog.text + captured.out + captured.err
