"""`check_query`: what a role's grant makes of a query, before DuckDB sees it.

A manifest like the ones `build_role_outputs` writes: customers readable (``passport_number`` hidden),
support_tickets readable, stores denied. Escapes and audit entries through a real session are in
``test_access.py``; here, tricky queries and a property: a hidden column is denied wherever it stands.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.role_session import check_query
from storage.roles import RoleDataset, RoleManifest
from storage.sql_refs import sql_refs

MANIFEST = RoleManifest(
    role="analyst",
    users=["anna"],
    built_at=datetime(2026, 1, 1, tzinfo=UTC),
    datasets={
        "customers": RoleDataset(
            name="customers",
            key="roles/analyst/customers/v0-x.parquet",
            version=0,
            sensitivity="restricted",
            pii=True,
            columns={"customer_id": "clear", "email": "masked", "segment": "clear"},
            hidden={"passport_number": "pii passport_ru: none"},
        ),
        "support_tickets": RoleDataset(
            name="support_tickets",
            key="roles/analyst/support_tickets/v0-x.parquet",
            version=0,
            sensitivity="confidential",
            pii=True,
            columns={"ticket_id": "clear", "customer_id": "clear", "subject": "clear"},
        ),
    },
    denied={"stores": "sensitivity confidential not granted (internal)"},
)


def check(sql: str) -> tuple[set[str], set[str], str | None]:
    touched, denial = check_query(MANIFEST, sql_refs(sql))
    return touched.datasets, touched.columns, denial


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT s.* FROM stores AS s",  # an alias of a denied dataset
        "SELECT 1 FROM STORES",
        'SELECT 1 FROM "Stores"',
        "WITH customers AS (SELECT * FROM stores) SELECT * FROM customers",  # a CTE hiding it
        "SELECT (SELECT count(*) FROM stores) AS n FROM customers",  # a subquery in the select list
        "SELECT * FROM customers WHERE customer_id IN (SELECT manager FROM main.stores)",
        "SELECT ticket_id FROM support_tickets UNION ALL SELECT store_id FROM stores",
        "SELECT * FROM customers c, LATERAL (SELECT * FROM stores s WHERE s.id = c.customer_id) l",
    ],
)
def test_a_denied_dataset_is_denied_however_it_is_reached(sql: str) -> None:
    assert (
        check(sql)[2]
        == "dataset 'stores' is denied to role 'analyst': sensitivity confidential not granted (internal)"
    )


def test_a_cte_named_like_a_denied_dataset_is_not_that_dataset() -> None:
    datasets, columns, denial = check(
        "WITH stores AS (SELECT customer_id FROM customers) SELECT * FROM stores"
    )
    assert (datasets, columns, denial) == ({"customers"}, {"customers.customer_id"}, None)


@pytest.mark.parametrize(
    ("sql", "denial"),
    [
        ("SELECT * FROM 'customers.csv'", r"files \('customers.csv'\) cannot be read as role 'analyst'"),
        ("SELECT * FROM '/lake/curated/customers/part-0.parquet'", r"files \('/lake/curated"),
        ("WITH x AS (SELECT * FROM read_csv('raw.csv')) SELECT * FROM x", r"table functions \(read_csv\)"),
        ("SELECT * FROM customers, (SELECT * FROM glob('*'))", r"table functions \(glob\)"),
        (
            "SELECT * FROM orders",
            r"'orders' is no dataset of role 'analyst' \(it reads: customers, support_tickets\)",
        ),
        ("SELECT * FROM information_schema.tables", "'information_schema.tables' is no dataset"),
    ],
)
def test_files_functions_and_unknown_names_are_denied(sql: str, denial: str) -> None:
    found = check(sql)[2]
    assert found is not None and re.search(denial, found), found


def test_stars_read_the_visible_columns_less_those_excluded() -> None:
    assert check("SELECT * EXCLUDE (email) FROM customers")[1] == {
        "customers.customer_id",
        "customers.segment",
    }
    assert check("SELECT c FROM customers c")[1] == {
        "customers.customer_id",
        "customers.email",
        "customers.segment",
    }
    _, columns, denial = check(
        "SELECT c.* EXCLUDE (Email), t.subject FROM customers c JOIN support_tickets t USING (customer_id)"
    )
    assert denial is None
    assert columns == {
        "customers.customer_id",
        "customers.segment",
        "support_tickets.customer_id",
        "support_tickets.subject",
    }


def test_an_unqualified_column_binds_where_duckdb_binds_it() -> None:
    # subject is only in support_tickets; the correlated email binds to the outer customers
    _, columns, _ = check(
        "SELECT (SELECT max(subject) FROM support_tickets WHERE email IS NULL) FROM customers"
    )
    assert columns == {"support_tickets.subject", "customers.email"}
    # customer_id in both tables of one scope: both are counted as read
    assert check("SELECT customer_id FROM customers, support_tickets")[1] == {
        "customers.customer_id",
        "support_tickets.customer_id",
    }


HIDDEN_POSITIONS = [
    "SELECT {c} FROM customers",
    "SELECT customer_id FROM customers WHERE {c} IS NOT NULL",
    "SELECT customer_id FROM customers ORDER BY {c}",
    "SELECT count(*) FROM customers GROUP BY {c}",
    "SELECT (SELECT max({c}) FROM customers) AS m",
    "SELECT * FROM support_tickets t WHERE EXISTS (SELECT 1 FROM customers WHERE {c} = t.subject)",
    "WITH x AS (SELECT {c} FROM customers) SELECT * FROM x",
    "SELECT * FROM customers, LATERAL (SELECT {c}) l",
    "SELECT customer_id FROM customers UNION ALL SELECT {c} FROM customers",
    "SELECT upper({c}::VARCHAR) || 'x' FROM customers",
]


@given(
    template=st.sampled_from(HIDDEN_POSITIONS),
    qualifier=st.sampled_from(["", "customers.", "CUSTOMERS.", '"customers".']),
    name=st.sampled_from(["passport_number", "PASSPORT_NUMBER", '"Passport_Number"']),
)
def test_a_hidden_column_is_denied_wherever_it_stands(template: str, qualifier: str, name: str) -> None:
    _, _, denial = check(template.format(c=qualifier + name))
    assert denial == "column customers.passport_number is hidden from role 'analyst' (pii passport_ru: none)"


@given(
    template=st.sampled_from(HIDDEN_POSITIONS),
    qualifier=st.sampled_from(["", "customers."]),
    name=st.sampled_from(["email", "EMAIL", "segment"]),
)
def test_a_visible_column_is_read_wherever_it_stands(template: str, qualifier: str, name: str) -> None:
    _, columns, denial = check(template.format(c=qualifier + name))
    assert denial is None and f"customers.{name.lower()}" in columns
