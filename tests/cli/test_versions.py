"""`lockgate versions` and `lockgate rollback` on a local lake where `stores` has two curated versions.

The second version comes from rotating the masking key, so each version's hashes say which one the
warehouse serves: a rollback (a new Delta version holding an earlier one's data) must be served at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from dataclasses import dataclass
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
ROWS = len(STORES.read_bytes().splitlines()) - 1
ROTATED_KEY = bytes(reversed(bytes.fromhex(HASH_KEY))).hex()


@dataclass(frozen=True)
class TwoVersions:
    lake: Path
    runs: tuple[str, str]  # the run that published v0, then v1
    releases: tuple[str, str]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, prefect_api: None) -> TwoVersions:
    """`stores` published with the test key (v0), then with the key rotated (v1); tests only read it."""
    root = tmp_path_factory.mktemp("versions")
    catalog = shutil.copytree(REPO / "examples" / "catalog", root / "catalog")
    runs, releases = [], []
    with pytest.MonkeyPatch.context() as env:
        for key in (HASH_KEY, ROTATED_KEY):
            env.setenv("LOCKGATE_HASH_KEY", key)
            run = ingest(catalog=str(catalog), lake=str(root / "lake"), sources=["stores"])
            [stores] = run.sources
            assert stores.status == SourceStatus.PUBLISHED
            assert stores.release_id is not None
            runs.append(run.run_id)
            releases.append(stores.release_id)
    return TwoVersions(root / "lake", (runs[0], runs[1]), (releases[0], releases[1]))


def lockgate(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "LOCKGATE_USER": "alice"})


def table(result: Result) -> list[list[str]]:
    """The body rows of the versions table, cell by cell."""
    return [
        [c.strip() for c in line.strip()[1:-1].split("│")]
        for line in result.stdout.splitlines()
        if line.startswith("│")
    ]


def test_versions_lists_each_version_with_what_made_it(published: TwoVersions) -> None:
    result = lockgate("versions", "stores", "--lake", str(published.lake))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("stores: curated versions")
    v0, v1 = table(result)
    created = v0.pop(2), v1.pop(2)  # as YYYY-MM-DD HH:MM:SS
    run0, run1 = published.runs
    rel0, rel1 = published.releases
    assert v0 == ["", "v0", "publish", str(ROWS), rel0, "stores 1.0.0", run0, "yes"]
    assert v1 == ["→", "v1", "publish", str(ROWS), rel1, "stores 1.0.0", run1, "yes"]
    assert rel0 != rel1  # the masking key is a part of the release
    assert created[0] <= created[1]


def test_versions_as_json_names_every_field_a_tool_needs(published: TwoVersions) -> None:
    result = lockgate("versions", "stores", "--lake", str(published.lake), "--format", "json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert (found["source"], found["current"], found["problem"]) == ("stores", 1, None)
    for number, entry in enumerate(found["versions"]):
        assert (entry["version"], entry["action"], entry["rows"]) == (number, "publish", ROWS)
        assert (entry["run_id"], entry["release_id"]) == (published.runs[number], published.releases[number])
        assert (entry["release"]["contract_id"], entry["release"]["contract_version"]) == ("stores", "1.0.0")
        assert entry["release"]["inputs"] == [hashlib.sha256(STORES.read_bytes()).hexdigest()]
        assert entry["restorable"] is True


def _served_hash(lake: Path) -> str:
    """The first store's manager e-mail as the warehouse serves it now."""
    result = lockgate("sql", "--lake", str(lake), "SELECT manager_email FROM stores WHERE store_id = 1")
    assert result.exit_code == 0, result.output
    return table(result)[0][0]


def _hash_of_first_manager(key: str) -> str:
    email = STORES.read_bytes().splitlines()[1].split(b";")[-1].strip()
    return hmac.new(bytes.fromhex(key), email, hashlib.sha256).hexdigest()


def test_rollback_adds_a_version_with_the_old_data_and_the_warehouse_serves_it(
    published: TwoVersions, tmp_path: Path
) -> None:
    """On a copy of the lake (a local lake is self-contained), so the other tests keep v1 current."""
    lake = shutil.copytree(published.lake, tmp_path / "lake")
    assert _served_hash(lake) == _hash_of_first_manager(ROTATED_KEY)

    back = lockgate(
        "rollback", "stores", "--to", "0", "--lake", str(lake), "--reason", "rotation broke joins"
    )
    assert back.exit_code == 0, back.output
    assert back.stdout.strip() == "stores: current version v1 → v2 (the data of v0)"
    assert _served_hash(lake) == _hash_of_first_manager(HASH_KEY)
    after = table(lockgate("versions", "stores", "--lake", str(lake)))
    assert [row[:2] for row in after] == [["", "v0"], ["", "v1"], ["→", "v2"]]
    assert after[2][3:6] == [
        "rollback to v0 by alice: rotation broke joins",
        str(ROWS),
        published.releases[0],
    ]

    forward = lockgate("rollback", "stores", "--to", "1", "--lake", str(lake), "--format", "json")
    assert forward.exit_code == 0, forward.output
    moved = json.loads(forward.stdout)
    assert (moved["before"]["version"], moved["after"]["version"]) == (2, 3)
    assert (moved["after"]["restored_version"], moved["after"]["by"]) == (1, "alice")
    assert moved["after"]["release_id"] == published.releases[1]
    assert _served_hash(lake) == _hash_of_first_manager(ROTATED_KEY)


def test_unknown_version_exits_1_naming_the_known_ones_and_changes_nothing(published: TwoVersions) -> None:
    lake = str(published.lake)
    before = lockgate("versions", "stores", "--lake", lake).stdout
    result = lockgate("rollback", "stores", "--to", "7", "--lake", lake)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    assert result.stderr.strip() == "'stores' has no version 7; known versions: 0, 1"
    assert result.stdout == ""
    assert lockgate("versions", "stores", "--lake", lake).stdout == before

    negative = lockgate("rollback", "stores", "--to", "-1", "--lake", lake)
    assert negative.exit_code == 2  # a usage error: versions start at 0
    assert "Invalid value for '--to'" in negative.stderr


def test_unknown_dataset_exits_1_with_a_message(published: TwoVersions) -> None:
    lake = str(published.lake)
    listed = lockgate("versions", "nope", "--lake", lake)
    assert listed.exit_code == 1
    assert isinstance(listed.exception, SystemExit), f"uncaught {listed.exception!r}"
    assert listed.stderr.strip() == f"no curated versions of 'nope' in {lake}"
    assert listed.stdout == ""

    moved = lockgate("rollback", "nope", "--to", "0", "--lake", lake)
    assert moved.exit_code == 1
    assert isinstance(moved.exception, SystemExit), f"uncaught {moved.exception!r}"
    assert moved.stderr.strip() == "'nope' has no version 0; known versions: none"
    assert not (published.lake / "curated" / "nope").exists()
