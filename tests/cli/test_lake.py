"""What a user sees when a lake was copied, tampered with or half-broken: `lockgate sql`, `versions`,
`rollback`, `run` and `lake check [--repair]` on a local lake a real ingest of the example `stores`
produced. Each test works on its own copy of that lake."""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from typing import TYPE_CHECKING

import duckdb
import polars as pl
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
ROWS = len(STORES.read_bytes().splitlines()) - 1
DATA = "curated/stores/v000001/data.parquet"
POINTER = "curated/stores/_current.json"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, prefect_api: None) -> Path:
    """`stores` published once (v1) and registered in the lake's warehouse; tests copy it."""
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


def test_sql_refuses_a_replaced_data_object_and_run_republishes_it(
    lake: Path, catalog: Path, hash_key: bytes
) -> None:
    buffer = io.BytesIO()
    pl.read_parquet(lake / DATA).head(1).write_parquet(buffer)
    (lake / DATA).write_bytes(buffer.getvalue())  # valid Parquet, one row: only the checksum tells

    refused = count(lake)
    assert f"view 'stores' not served: '{DATA}' no longer matches" in failed_cleanly(refused)
    assert refused.stdout == ""
    listed = lockgate("versions", "stores", "--lake", str(lake))
    assert f"'{DATA}' no longer matches" in failed_cleanly(listed)
    assert "v1" in listed.stdout

    run = lockgate("run", "--catalog", str(catalog), "--lake", str(lake), "--source", "stores")
    assert run.exit_code == 0, run.output
    assert "published" in run.stdout
    served = count(lake)
    assert served.exit_code == 0, served.output
    assert f"│ {ROWS} │" in served.stdout
    after = lockgate("versions", "stores", "--lake", str(lake))
    assert after.exit_code == 0, after.output
    assert "republish: v1's data no longer matched its checksum" in after.stdout


def test_a_corrupt_pointer_is_named_then_repaired_by_lake_check(lake: Path) -> None:
    (lake / POINTER).write_text("{", encoding="utf-8")
    assert f"'{POINTER}' is not a valid current-version pointer" in failed_cleanly(
        lockgate("versions", "stores", "--lake", str(lake))
    )

    checked = lockgate("lake", "check", "--lake", str(lake))
    assert checked.exit_code == 1, checked.output
    assert f"corrupt-metadata: {POINTER}" in checked.stdout
    assert "--repair" in checked.stdout

    repaired = lockgate("lake", "check", "--lake", str(lake), "--repair", "--format", "json")
    assert repaired.exit_code == 0, repaired.output
    [finding] = json.loads(repaired.stdout)["findings"]
    assert (finding["kind"], finding["key"]) == ("corrupt-metadata", POINTER)
    assert finding["repaired"].startswith("pointer rewritten to v1")

    listed = lockgate("versions", "stores", "--lake", str(lake))
    assert listed.exit_code == 0, listed.output
    assert "rollback none → v1: repair" in listed.stdout
    assert count(lake).exit_code == 0
    clean = lockgate("lake", "check", "--lake", str(lake))
    assert clean.exit_code == 0, clean.output
    assert "no problems found" in clean.stdout


def test_rollback_repairs_a_corrupt_pointer_by_naming_a_version(lake: Path) -> None:
    (lake / POINTER).write_bytes(b"\xff\xfe not json")
    moved = lockgate("rollback", "stores", "--to", "1", "--lake", str(lake), "--reason", "pointer lost")
    assert moved.exit_code == 0, moved.output
    assert (
        moved.stdout.strip() == "stores: current version an unreadable pointer → v1; warehouse view updated"
    )


def test_lake_check_removes_an_old_orphan_and_the_next_number_skips_it(lake: Path) -> None:
    orphan = lake / "curated" / "stores" / "v000002"
    orphan.mkdir()
    (orphan / "data.parquet").write_bytes(b"half a publish")
    hour_ago = time.time() - 3600
    os.utime(orphan / "data.parquet", (hour_ago, hour_ago))

    repaired = lockgate("lake", "check", "--lake", str(lake), "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "orphan: curated/stores/v000002/" in repaired.stdout
    assert not (orphan / "data.parquet").exists()
    assert (lake / "curated" / "stores" / "_claims" / "v000002.json").is_file()


def test_a_view_left_reading_another_lake_is_reported_and_registered_again(
    lake: Path, tmp_path: Path
) -> None:
    """A warehouse from before views were stored relative to the lake: its copy reads the original."""
    original = lake / DATA
    con = duckdb.connect(str(lake / "warehouse.duckdb"))
    con.execute(f"CREATE OR REPLACE VIEW stores AS SELECT * FROM read_parquet('{original}')")
    con.close()
    copy = shutil.copytree(lake, tmp_path / "copy")
    shutil.rmtree(lake)
    stale = lockgate("lake", "check", "--lake", str(copy), "--repair")
    assert stale.exit_code == 0, stale.output
    assert "stale-view: view stores: reads a fixed path" in stale.stdout
    assert count(copy).exit_code == 0


@pytest.mark.parametrize(
    "command",
    [
        ["versions", "stores"],
        ["rollback", "stores", "--to", "1"],
        ["sql", "SELECT 1"],
        ["lake", "check"],
        ["lake", "check", "--repair"],
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
