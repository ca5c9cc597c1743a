"""`lockgate sql` against a lake a real ingest of the example catalog produced: results, and mistakes.

A query is typed by hand, so a typo, an unknown table or a lake with no warehouse yet is the usual
case, not an edge case: each must end in a message that names the problem, never a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
from typing import TYPE_CHECKING

import pytest
from testkit.catalog_fixtures import HASH_KEY, REPO
from typer.testing import CliRunner

from cli.app import app
from flows.pipeline import ingest
from flows.results import SourceStatus

if TYPE_CHECKING:
    from pathlib import Path

    from typer.testing import Result

STORES = REPO / "examples" / "catalog" / "data" / "stores.csv"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, prefect_api: None) -> str:
    """A local lake with the example `stores` published once; queries only read it, so tests share it."""
    root = tmp_path_factory.mktemp("query")
    catalog = shutil.copytree(REPO / "examples" / "catalog", root / "catalog")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LOCKGATE_HASH_KEY", HASH_KEY)
        [stores] = ingest(catalog=str(catalog), lake=str(root / "lake"), sources=["stores"]).sources
    assert stores.status is SourceStatus.PUBLISHED
    return str(root / "lake")


def sql(query: str, lake: str) -> Result:
    return CliRunner().invoke(app, ["sql", "--lake", lake, query], env={"COLUMNS": "200"})


def cells(result: Result) -> list[list[str]]:
    """The table's header and body rows, cell by cell."""
    return [
        [c.strip() for c in line.strip()[1:-1].split(line.strip()[0])]
        for line in result.stdout.splitlines()
        if line.startswith(("│", "┃"))
    ]


def test_query_prints_the_curated_data_as_a_table(lake: str) -> None:
    result = sql("SELECT count(*) AS n, count(DISTINCT manager_email) AS managers FROM stores", lake)
    assert result.exit_code == 0, result.output
    rows = len(STORES.read_bytes().splitlines()) - 1
    assert cells(result) == [["n", "managers"], [str(rows), str(rows)]]


def test_query_sees_masked_values_only(lake: str) -> None:
    """The warehouse's views are over curated data: an e-mail comes back as its keyed hash."""
    email = STORES.read_bytes().splitlines()[1].split(b";")[-1].strip()
    result = sql("SELECT manager_email FROM stores WHERE store_id = 1", lake)
    assert result.exit_code == 0, result.output
    digest = hmac.new(bytes.fromhex(HASH_KEY), email, hashlib.sha256).hexdigest()
    assert cells(result) == [["manager_email"], [digest]]
    assert email.decode() not in result.output


def test_values_print_literally_and_null_as_empty(lake: str) -> None:
    """Rich markup in a value is text, not style, and would otherwise vanish from the output."""
    result = sql("SELECT '[bold]x[/bold]' AS note, NULL AS missing", lake)
    assert result.exit_code == 0, result.output
    assert cells(result) == [["note", "missing"], ["[bold]x[/bold]", ""]]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("SELEC 1", 'syntax error at or near "SELEC"'),
        ("SELECT * FROM nope", "Table with name nope does not exist"),
        ("CREATE TABLE t (a INTEGER)", "read-only"),
    ],
    ids=["syntax-error", "unknown-table", "write"],
)
def test_a_query_the_warehouse_rejects_is_a_message_not_a_traceback(
    lake: str, query: str, problem: str
) -> None:
    result = sql(query, lake)
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    assert result.exit_code in (1, 2)
    assert problem in result.stderr
    assert result.stdout == ""


def test_lake_without_a_warehouse_says_to_run_the_ingest_first(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = sql("SELECT 1", str(tmp_path / "empty"))
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    assert result.exit_code in (1, 2)
    assert f"no warehouse at {tmp_path / 'empty' / 'warehouse.duckdb'}; run the ingest flow first" in (
        result.stderr
    )
    assert list((tmp_path / "empty").iterdir()) == []  # looking created nothing
