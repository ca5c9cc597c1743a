"""`--format json|csv` for scripts, and plain full-width text when stdout is a pipe.

Every command that prints results answers in the format asked, on stdout only, and keeps its exit
code: a stopped run still exits 1, a catalog with mistakes still exits 1. The ingest runs here through
a pipe (a real subprocess, as a shell script runs it) against the session's Prefect server.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from testkit.catalog_fixtures import HASH_KEY, REPO, rewrite_customers
from typer.testing import CliRunner

from cli.app import app

if TYPE_CHECKING:
    from testkit.label_studio_fixtures import LabelStudioServer

EXAMPLES = REPO / "examples" / "catalog"
LONG = "x" * 150  # wider than the 80 columns Rich assumes for a pipe


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _lockgate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command in its own process with stdout and stderr piped, as a script or CI runs it."""
    environ = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "cli.app", *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def piped_run(tmp_path_factory: pytest.TempPathFactory, prefect_api: None) -> tuple[Path, str]:
    """`lockgate run` of the example `stores` through a pipe: the lake it made, and what it printed."""
    from prefect.settings import PREFECT_API_URL

    root = tmp_path_factory.mktemp("a-folder-with-a-rather-long-name-so-that-paths-exceed-eighty-columns")
    catalog = shutil.copytree(EXAMPLES, root / "catalog")
    lake = root / "lake"
    env = {"LOCKGATE_HASH_KEY": HASH_KEY, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    done = _lockgate("run", "--catalog", str(catalog), "--lake", str(lake), "--source", "stores", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return lake, done.stdout


def test_piped_text_is_not_cut_to_eighty_columns(piped_run: tuple[Path, str]) -> None:
    lake, printed = piped_run
    [title] = [line for line in printed.splitlines() if line.startswith("Lockgate run ")]
    run_id = title.removeprefix("Lockgate run ").strip()
    assert len(run_id) >= 8 and " " not in run_id
    [stores_row] = [line for line in printed.splitlines() if "stores" in line and "published" in line]
    assert re.search(r"│ v\d+ +│$", stores_row.strip())  # the row's last column (version) on its line
    assert f"lake: {lake}  (raw files" in printed
    done = _lockgate("sql", "--lake", str(lake), f"SELECT '{LONG}' AS long_value, count(*) AS n FROM stores")
    assert done.returncode == 0, done.stderr
    assert LONG in done.stdout  # one cell, not wrapped over lines or cut with an ellipsis


def test_columns_still_sets_the_width_of_piped_text(piped_run: tuple[Path, str]) -> None:
    lake, _ = piped_run
    done = _lockgate("sql", "--lake", str(lake), f"SELECT '{LONG}' AS v", env={"COLUMNS": "60"})
    assert done.returncode == 0, done.stderr
    assert LONG not in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 60


def test_sql_as_json_rows_and_csv_rows(piped_run: tuple[Path, str]) -> None:
    lake, _ = piped_run
    query = "SELECT store_id, city FROM stores ORDER BY store_id LIMIT 2"
    as_json = CliRunner().invoke(app, ["sql", "--lake", str(lake), "--format", "json", query])
    assert as_json.exit_code == 0, as_json.output
    rows: list[dict[str, Any]] = json.loads(as_json.stdout)
    assert len(rows) == 2 and set(rows[0]) == {"store_id", "city"}
    as_csv = CliRunner().invoke(app, ["sql", "--lake", str(lake), "--format", "csv", query])
    assert as_csv.exit_code == 0, as_csv.output
    assert _rows(as_csv.stdout) == [{k: str(v) for k, v in row.items()} for row in rows]
    empty = CliRunner().invoke(
        app, ["sql", "--lake", str(lake), "--format", "csv", "SELECT store_id FROM stores WHERE false"]
    )
    assert empty.stdout.splitlines() == ["store_id"]  # the header, even with no row


def test_run_as_json_then_a_stopped_run_as_csv_still_exits_one(
    piped_run: tuple[Path, str], tmp_path: Path, hash_key: bytes
) -> None:
    lake, _ = piped_run
    catalog = Path(shutil.copytree(EXAMPLES, tmp_path / "catalog"))
    again = CliRunner().invoke(
        app, ["run", "--catalog", str(catalog), "--lake", str(lake), "-s", "stores", "--format", "json"]
    )
    assert again.exit_code == 0, again.output
    run = json.loads(again.stdout)
    assert run["lake"] == str(lake) and [s["source"] for s in run["sources"]] == ["stores"]
    assert run["sources"][0]["status"] == "unchanged"

    rewrite_customers(catalog, {0: {"lifetime_value": "-1"}})
    stopped = CliRunner().invoke(
        app, ["run", "--catalog", str(catalog), "--lake", str(lake), "-s", "customers", "--format", "csv"]
    )
    assert stopped.exit_code == 1, stopped.output
    [row] = _rows(stopped.stdout)
    assert list(row)[:4] == ["run_id", "lake", "source", "status"]
    assert (row["source"], row["status"]) == ("customers", "stopped")
    assert json.loads(row["expectations"])  # nested fields as JSON text


def test_validate_as_json_and_csv(tmp_path: Path) -> None:
    ok = CliRunner().invoke(app, ["validate", "--catalog", str(EXAMPLES), "--format", "json"])
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.stdout)
    assert report["valid"] is True and report["problems"] == []
    assert (report["sources"], report["contracts"], report["plans"]) == (3, 3, 1)

    catalog = Path(shutil.copytree(EXAMPLES, tmp_path / "catalog"))
    passport = catalog / "sources" / "stores.yaml"
    passport.write_text(passport.read_text(encoding="utf-8").replace("sensitivity: ", "sensitivity: x"))
    bad = CliRunner().invoke(app, ["validate", "--catalog", str(catalog), "--format", "json"])
    assert bad.exit_code == 1
    [problem] = json.loads(bad.stdout)["problems"]
    assert problem["file"] == str(passport) and problem["field"] == "sensitivity"
    assert problem["line"] > 1 and problem["column"] >= 1 and problem["message"]
    as_csv = CliRunner().invoke(app, ["validate", "--catalog", str(catalog), "--format", "csv"])
    assert as_csv.exit_code == 1
    [row] = _rows(as_csv.stdout)
    assert row == {k: str(v) for k, v in problem.items()}
    clean = CliRunner().invoke(app, ["validate", "--catalog", str(EXAMPLES), "--format", "csv"])
    assert clean.exit_code == 0 and clean.stdout.splitlines() == ["file,line,column,field,message"]


def test_label_status_and_invite_as_json(
    label_studio: LabelStudioServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.upper().startswith("LOCKGATE_")]:
        monkeypatch.delenv(name)
    env = {"LOCKGATE_LABEL_STUDIO_TOKEN": label_studio.token}
    studio = ["--studio-url", label_studio.url]
    status = CliRunner().invoke(
        app,
        ["label", "status", "-c", str(EXAMPLES), "-l", str(tmp_path / "lake"), *studio, "--format", "json"],
        env=env,
    )
    assert status.exit_code == 0, status.output
    [plan] = json.loads(status.stdout)
    assert plan["plan"] == "support_topics" and plan["labels_version"] is None
    invite = CliRunner().invoke(app, ["label", "invite", *studio, "--format", "csv"], env=env)
    assert invite.exit_code == 0, invite.output
    [row] = _rows(invite.stdout)
    assert row["invite_link"].startswith(label_studio.url)
