"""Rolling a dataset back: a new Delta version holding an earlier version's data, recording who and why,
served by the warehouse at once; an unknown or no longer restorable version changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import polars as pl
import pytest

from storage.curated import dataset_versions, erase_rows, publish, table_uri, vacuum_history
from storage.errors import LakeNotFound, UnknownVersion
from storage.release import ReleaseParts
from storage.warehouse import query_lake, register_views, rollback_dataset

if TYPE_CHECKING:
    from pathlib import Path

    from storage.store import ObjectStore

SMALL = pl.DataFrame({"id": [1, 2, 3]})


def _publish(store: ObjectStore, frame: pl.DataFrame, inputs: list[str]) -> None:
    release = ReleaseParts(
        inputs=inputs,
        contract_id="customers",
        contract_version="1.0.0",
        contract_sha256="c" * 64,
        code_version="0.1.0",
    )
    publish(store, "customers", frame, release=release, run_id="r1", masked_columns={})


@pytest.fixture
def two_versions(store: ObjectStore, warehouse: Path) -> None:
    """v0 with 3 rows, v1 with 6, and a view over the table."""
    _publish(store, SMALL, ["a" * 64])
    _publish(store, pl.concat([SMALL, SMALL]), ["b" * 64])
    register_views(warehouse, {"customers": table_uri(store, "customers")})


@pytest.mark.usefixtures("two_versions")
def test_a_rollback_is_a_new_version_the_view_serves_at_once(
    lake: str, store: ObjectStore, warehouse: Path
) -> None:
    moved = rollback_dataset(lake, "customers", 0, by="alice", reason="bad delivery", warehouse=warehouse)
    assert moved.before is not None
    assert (moved.source, moved.before.version, moved.after.version) == ("customers", 1, 2)
    assert (moved.after.action, moved.after.restored_version) == ("rollback", 0)
    assert query_lake(lake, "SELECT count(*) FROM customers", warehouse=warehouse).item() == 3
    found = dataset_versions(store, "customers")
    assert [v.version for v in found.versions] == [0, 1, 2]
    assert (found.current, found.problem) == (2, None)
    assert found.versions[-1].describe() == "rollback to v0 by alice: bad delivery"
    assert found.versions[-1].release_id == found.versions[0].release_id  # the data is v0's
    assert all(v.restorable for v in found.versions)


@pytest.mark.usefixtures("two_versions")
def test_rolling_forward_again_is_one_more_version(lake: str, store: ObjectStore, warehouse: Path) -> None:
    rollback_dataset(lake, "customers", 0, by="alice", warehouse=warehouse)
    forward = rollback_dataset(lake, "customers", 1, by="bob", reason="fixed upstream", warehouse=warehouse)
    assert (forward.after.version, forward.after.restored_version, forward.after.rows) == (3, 1, 6)
    assert query_lake(lake, "SELECT count(*) FROM customers", warehouse=warehouse).item() == 6


@pytest.mark.usefixtures("two_versions")
def test_an_unknown_version_changes_nothing(lake: str, store: ObjectStore, warehouse: Path) -> None:
    with pytest.raises(UnknownVersion, match="known versions: 0, 1"):
        rollback_dataset(lake, "customers", 9, by="alice", warehouse=warehouse)
    assert dataset_versions(store, "customers").current == 1
    assert query_lake(lake, "SELECT count(*) FROM customers", warehouse=warehouse).item() == 6


@pytest.mark.usefixtures("two_versions")
def test_a_version_whose_files_an_erasure_removed_cannot_be_restored(
    lake: str, store: ObjectStore, warehouse: Path
) -> None:
    erase_rows(store, "customers", "id", ["2"], erasure_id="e1", by="dpo")
    found = dataset_versions(store, "customers")
    assert [v.restorable for v in found.versions if v.version <= 1] == [False, False]
    with pytest.raises(UnknownVersion, match="version 0 of 'customers' can no longer be restored"):
        rollback_dataset(lake, "customers", 0, by="alice", warehouse=warehouse)
    assert dataset_versions(store, "customers").current == found.current
    assert query_lake(lake, "SELECT count(*) FROM customers", warehouse=warehouse).item() == 4


@pytest.mark.usefixtures("two_versions")
def test_after_retention_the_current_version_still_says_what_it_holds(
    lake: str, store: ObjectStore, warehouse: Path
) -> None:
    """Retention removes the log entries of older versions, the one that published the data included:
    the commits retention makes carry the description on, release id first (publishing compares it)."""
    published = dataset_versions(store, "customers").versions[-1]
    vacuum_history(store, "customers", timedelta(0))
    [current] = dataset_versions(store, "customers").versions
    assert current.version > published.version
    assert (current.release_id, current.rows, current.restorable) == (published.release_id, 6, True)
    with pytest.raises(UnknownVersion, match=f"known versions: {current.version}$"):
        rollback_dataset(lake, "customers", 0, by="alice", warehouse=warehouse)
    assert query_lake(lake, "SELECT count(*) FROM customers", warehouse=warehouse).item() == 6


def test_a_dataset_never_published_has_no_versions(store: ObjectStore) -> None:
    found = dataset_versions(store, "customers")
    assert (found.versions, found.current, found.problem) == ([], None, None)


def test_a_missing_lake_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(LakeNotFound, match=f"no lake at {missing}"):
        rollback_dataset(str(missing), "customers", 0, by="alice")
    assert not missing.exists()
