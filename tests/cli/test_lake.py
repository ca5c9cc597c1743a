"""What a user sees when a lake was copied, tampered with or half-broken: `lockgate sql`, `versions`,
`rollback`, `run` and `lake check [--repair]` on a local lake a real ingest of the example `stores`
produced. Each test works on its own copy of that lake."""

from __future__ import annotations

import io
import json
import shutil
from typing import TYPE_CHECKING

import duckdb
import polars as pl
import pytest
from testkit.catalog_fixtures import HASH_KEY, REPO
from typer.testing import CliRunner

from cli.app import app
from flows.pipeline import ingest
from flows.results import SourceStatus
from storage.warehouse import load_delta

if TYPE_CHECKING:
    from pathlib import Path

    from typer.testing import Result

STORES = REPO / "examples" / "catalog" / "data" / "stores.csv"
ROWS = len(STORES.read_bytes().splitlines()) - 1
TABLE = "curated/stores"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, prefect_api: None) -> Path:
    """`stores` published once (v0) and registered in the lake's warehouse; tests copy it."""
    root = tmp_path_factory.mktemp("lake-check")
    catalog = shutil.copytree(REPO / "examples" / "catalog", root / "catalog")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LOCKGATE_HASH_KEY", HASH_KEY)
        [stores] = ingest(catalog=str(catalog), lake=str(root / "lake"), sources=["stores"]).sources
    assert stores.status is SourceStatus.PUBLISHED
    return root / "lake"


@pytest.fixture
def lake(published: Path, tmp_path: Path) -> Path:
    return shutil.copytree(published, tmp_path / "lake")


def lockgate(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def count(lake: Path) -> Result:
    return lockgate("sql", "--lake", str(lake), "SELECT count(*) AS n FROM stores")


def data_file(lake: Path) -> str:
    """The one data file of the table's only version, as a lake key."""
    [path] = (lake / TABLE).glob("*.parquet")
    return path.relative_to(lake).as_posix()


def failed_cleanly(result: Result) -> str:
    """Exit 1 through the command's own error path (no traceback); the message on stderr."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    return result.stderr.strip()


def test_a_copied_lake_answers_sql_after_the_original_is_deleted(lake: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(lake, tmp_path / "copy")
    shutil.rmtree(lake)
    result = count(copy)
    assert result.exit_code == 0, result.output
    assert f"│ {ROWS} │" in result.stdout
    checked = lockgate("lake", "check", "--lake", str(copy))
    assert checked.exit_code == 0, checked.output
    assert "no problems found" in checked.stdout


def test_a_resized_data_file_is_refused_reported_and_published_again_by_run(
    lake: Path, catalog: Path, hash_key: bytes
) -> None:
    data = data_file(lake)
    buffer = io.BytesIO()
    pl.read_parquet(lake / data).head(1).write_parquet(buffer)
    (lake / data).write_bytes(buffer.getvalue())  # valid Parquet, one row: its size tells

    refused = count(lake)
    assert (
        f"view 'stores' not served: the current version of 'stores' cannot be read whole: {data} holds"
        in (failed_cleanly(refused))
    )
    assert refused.stdout == ""
    listed = lockgate("versions", "stores", "--lake", str(lake))
    assert f"{data} holds" in failed_cleanly(listed)
    assert "v0" in listed.stdout  # the listing still shows, then the problem

    checked = lockgate("lake", "check", "--lake", str(lake), "--repair")
    assert checked.exit_code == 1, checked.output
    assert f"missing-data: {TABLE}: " in checked.stdout
    assert "1 problem(s) left" in checked.stdout

    run = lockgate("run", "--catalog", str(catalog), "--lake", str(lake), "--source", "stores")
    assert run.exit_code == 0, run.output
    served = count(lake)
    assert served.exit_code == 0, served.output
    assert f"│ {ROWS} │" in served.stdout
    after = lockgate("versions", "stores", "--lake", str(lake), "--format", "json")
    assert after.exit_code == 0, after.output
    versions = json.loads(after.stdout)["versions"]
    assert [v["version"] for v in versions] == [0, 1]
    assert versions[0]["release_id"] == versions[1]["release_id"]  # the same input, published again


def test_an_unreadable_table_log_is_named_never_a_traceback(lake: Path) -> None:
    [entry] = (lake / TABLE / "_delta_log").glob("*.json")
    entry.write_text("{", encoding="utf-8")
    message = failed_cleanly(lockgate("versions", "stores", "--lake", str(lake)))
    assert message.startswith("could not open the curated table of 'stores': ")
    assert "could not open the curated table of 'stores'" in failed_cleanly(count(lake))

    checked = lockgate("lake", "check", "--lake", str(lake), "--repair", "--format", "json")
    assert checked.exit_code == 1, checked.output
    [finding] = json.loads(checked.stdout)["findings"]
    assert (finding["kind"], finding["key"], finding["repaired"]) == ("corrupt-metadata", TABLE, None)


def test_a_view_left_reading_another_lake_is_reported_and_registered_again(
    lake: Path, tmp_path: Path
) -> None:
    """A view that names its table by a fixed path: its copy reads the original, until registered again."""
    con = duckdb.connect(str(lake / "warehouse.duckdb"), config={"autoinstall_known_extensions": False})
    load_delta(con)
    con.execute(f"CREATE OR REPLACE VIEW stores AS SELECT * FROM delta_scan('{lake / TABLE}')")
    con.close()
    copy = shutil.copytree(lake, tmp_path / "copy")
    shutil.rmtree(lake)

    found = lockgate("lake", "check", "--lake", str(copy))
    assert found.exit_code == 1, found.output
    assert "stale-view: view stores: reads a fixed path" in found.stdout
    assert "`lockgate lake check --repair` fixes what it safely can" in found.stdout

    repaired = lockgate("lake", "check", "--lake", str(copy), "--repair", "--format", "json")
    assert repaired.exit_code == 0, repaired.output
    [finding] = json.loads(repaired.stdout)["findings"]
    assert (finding["kind"], finding["key"]) == ("stale-view", "view stores")
    assert finding["repaired"] == "view registered again over its table"
    served = count(copy)
    assert served.exit_code == 0, served.output
    assert f"│ {ROWS} │" in served.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["versions", "stores"],
        ["rollback", "stores", "--to", "0"],
        ["sql", "SELECT 1"],
        ["lake", "check"],
        ["lake", "check", "--repair"],
        ["release", "show", "rel-000000000000000000000000"],
        ["release", "verify", "rel-000000000000000000000000"],
    ],
    ids=lambda c: " ".join(c),
)
def test_read_commands_say_a_missing_lake_does_not_exist_and_create_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "no-lake"
    result = lockgate(*command, "--lake", str(missing))
    assert failed_cleanly(result) == f"no lake at {missing}: the folder does not exist"
    assert not missing.exists()
