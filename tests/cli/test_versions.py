"""`lockgate versions` and `lockgate rollback` on a local lake where `stores` has two curated versions.

The second version comes from rotating the masking key, so each version's hashes say which one the
warehouse serves: a rollback must move the pointer and the view together.
"""

from __future__ import annotations

import hashlib
import hmac
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
ROTATED_KEY = bytes(reversed(bytes.fromhex(HASH_KEY))).hex()


@dataclass(frozen=True)
class TwoVersions:
    lake: Path
    runs: tuple[str, str]  # the run that published v1, then v2


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, prefect_api: None) -> TwoVersions:
    """`stores` published with the test key (v1), then with the key rotated (v2); tests only read it."""
    root = tmp_path_factory.mktemp("versions")
    catalog = shutil.copytree(REPO / "examples" / "catalog", root / "catalog")
    runs = []
    with pytest.MonkeyPatch.context() as env:
        for key in (HASH_KEY, ROTATED_KEY):
            env.setenv("LOCKGATE_HASH_KEY", key)
            run = ingest(catalog=str(catalog), lake=str(root / "lake"), sources=["stores"])
            assert [r.status for r in run.sources] == [SourceStatus.PUBLISHED]
            runs.append(run.run_id)
    return TwoVersions(root / "lake", (runs[0], runs[1]))


def lockgate(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def table(result: Result) -> list[list[str]]:
    """The body rows of the versions table, cell by cell."""
    return [
        [c.strip() for c in line.strip()[1:-1].split("│")]
        for line in result.stdout.splitlines()
        if line.startswith("│")
    ]


def history(result: Result) -> list[str]:
    """The pointer moves listed under the table, without their timestamps."""
    return [line.split("  ", 1)[1] for line in result.stdout.splitlines() if line[:2] == "20"]


def test_versions_lists_each_version_and_the_moves_of_the_current_pointer(published: TwoVersions) -> None:
    result = lockgate("versions", "stores", "--lake", str(published.lake))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("stores: curated versions")
    rows = len(STORES.read_bytes().splitlines()) - 1
    sha = hashlib.sha256(STORES.read_bytes()).hexdigest()[:12]
    v1, v2 = table(result)
    created = v1.pop(2), v2.pop(2)  # as YYYY-MM-DD HH:MM:SS
    assert v1 == ["", "v1", str(rows), "stores 1.0.0", published.runs[0], sha]
    assert v2 == ["→", "v2", str(rows), "stores 1.0.0", published.runs[1], sha]
    assert created[0] <= created[1]
    assert history(result) == [
        f"publish none → v1 (run {published.runs[0]})",
        f"publish v1 → v2 (run {published.runs[1]})",
    ]


def _served_hash(lake: Path) -> str:
    """The first store's manager e-mail as the warehouse serves it now."""
    result = lockgate("sql", "--lake", str(lake), "SELECT manager_email FROM stores WHERE store_id = 1")
    assert result.exit_code == 0, result.output
    return table(result)[0][0]


def _hash_of_first_manager(key: str) -> str:
    email = STORES.read_bytes().splitlines()[1].split(b";")[-1].strip()
    return hmac.new(bytes.fromhex(key), email, hashlib.sha256).hexdigest()


def test_rollback_moves_the_current_version_and_the_warehouse_view(
    published: TwoVersions, tmp_path: Path
) -> None:
    """On a copy of the lake (a local lake is self-contained), so the other tests keep v2 current."""
    lake = shutil.copytree(published.lake, tmp_path / "lake")
    assert _served_hash(lake) == _hash_of_first_manager(ROTATED_KEY)

    back = lockgate(
        "rollback", "stores", "--to", "1", "--lake", str(lake), "--reason", "rotation broke joins"
    )
    assert back.exit_code == 0, back.output
    assert back.stdout.strip() == "stores: current version v2 → v1; warehouse view updated"
    assert _served_hash(lake) == _hash_of_first_manager(HASH_KEY)
    after = lockgate("versions", "stores", "--lake", str(lake))
    assert [row[:2] for row in table(after)] == [["→", "v1"], ["", "v2"]]
    assert history(after)[-1] == "rollback v2 → v1: rotation broke joins"

    forward = lockgate("rollback", "stores", "--to", "2", "--lake", str(lake))
    assert forward.exit_code == 0, forward.output
    assert forward.stdout.strip() == "stores: current version v1 → v2; warehouse view updated"
    assert _served_hash(lake) == _hash_of_first_manager(ROTATED_KEY)


def test_unknown_version_exits_1_naming_the_known_ones_and_moves_nothing(published: TwoVersions) -> None:
    lake = str(published.lake)
    before = lockgate("versions", "stores", "--lake", lake).stdout
    result = lockgate("rollback", "stores", "--to", "7", "--lake", lake)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    assert result.stderr.strip() == "'stores' has no version 7; known versions: 1, 2"
    assert result.stdout == ""
    assert lockgate("versions", "stores", "--lake", lake).stdout == before

    zero = lockgate("rollback", "stores", "--to", "0", "--lake", lake)
    assert zero.exit_code == 2  # a usage error: versions start at 1
    assert "Invalid value for '--to'" in zero.stderr


def test_unknown_dataset_exits_1_with_a_message(published: TwoVersions) -> None:
    lake = str(published.lake)
    listed = lockgate("versions", "nope", "--lake", lake)
    assert listed.exit_code == 1
    assert isinstance(listed.exception, SystemExit), f"uncaught {listed.exception!r}"
    assert listed.stderr.strip() == f"no curated versions of 'nope' in {lake}"
    assert listed.stdout == ""

    moved = lockgate("rollback", "nope", "--to", "1", "--lake", lake)
    assert moved.exit_code == 1
    assert isinstance(moved.exception, SystemExit), f"uncaught {moved.exception!r}"
    assert moved.stderr.strip() == "'nope' has no version 1; known versions: none"
    assert not (published.lake / "curated" / "nope").exists()
