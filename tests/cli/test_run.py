"""`lockgate run` on a copy of the example catalog: the summary it prints and the exit code it gives.

The ingest flow itself is tested in tests/flows/test_pipeline.py; this is what an operator sees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from testkit.catalog_fixtures import rewrite_customers
from typer.testing import CliRunner

from cli.app import app

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_cli_run_prints_summary_and_exit_code(catalog: Path, tmp_path: Path, hash_key: bytes) -> None:
    lake = tmp_path / "lake"
    ok = CliRunner().invoke(
        app,
        ["run", "--catalog", str(catalog), "--lake", str(lake), "--source", "stores"],
        env={"COLUMNS": "200"},
    )
    assert ok.exit_code == 0, ok.output
    assert "stores" in ok.output
    assert "published" in ok.output

    rewrite_customers(catalog, {0: {"lifetime_value": "-1"}})
    stopped = CliRunner().invoke(
        app, ["run", "--catalog", str(catalog), "--lake", str(lake), "--source", "customers"]
    )
    assert stopped.exit_code == 1, stopped.output
    assert "stop-line" in stopped.output
    assert "curated layer untouched" in stopped.output

    sql = CliRunner().invoke(app, ["sql", "--lake", str(lake), "SELECT count(*) AS n FROM stores"])
    assert sql.exit_code == 0, sql.output
    assert "n" in sql.output
