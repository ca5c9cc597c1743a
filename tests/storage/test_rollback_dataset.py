"""Rolling a dataset back moves its pointer and its warehouse view together, and records why."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pytest

from storage.curated import dataset_versions, publish
from storage.errors import UnknownVersion
from storage.warehouse import query, register_views, rollback_dataset

if TYPE_CHECKING:
    from pathlib import Path

    from storage.store import ObjectStore

SMALL = pl.DataFrame({"id": [1, 2, 3]})


def _publish(store: ObjectStore, frame: pl.DataFrame, inputs: list[str]) -> str:
    version = publish(
        store,
        "customers",
        frame,
        run_id="r1",
        input_sha256=inputs,
        contract_id="customers",
        contract_version="1.0.0",
        masked_columns={},
    )
    return store.uri(version.data_key)


@pytest.fixture
def two_versions(store: ObjectStore, warehouse: Path) -> None:
    _publish(store, SMALL, ["a"])
    register_views(warehouse, {"customers": _publish(store, pl.concat([SMALL, SMALL]), ["b"])})


@pytest.mark.usefixtures("two_versions")
def test_pointer_view_and_history_move_together(lake: str, store: ObjectStore, warehouse: Path) -> None:
    moved = rollback_dataset(lake, "customers", 1, reason="bad delivery", warehouse=warehouse)
    assert moved.before is not None
    assert (moved.source, moved.before.version, moved.after.version) == ("customers", 2, 1)
    assert query(warehouse, "SELECT count(*) FROM customers").item() == 3
    found = dataset_versions(store, "customers")
    assert [v.version for v in found.versions] == [1, 2]
    assert found.current == 1
    assert found.history[-1].describe() == "rollback v2 → v1: bad delivery"


@pytest.mark.usefixtures("two_versions")
def test_an_unknown_version_moves_nothing(lake: str, store: ObjectStore, warehouse: Path) -> None:
    with pytest.raises(UnknownVersion, match="known versions: 1, 2"):
        rollback_dataset(lake, "customers", 9, warehouse=warehouse)
    assert dataset_versions(store, "customers").current == 2
    assert query(warehouse, "SELECT count(*) FROM customers").item() == 6


def test_a_dataset_never_published_has_no_versions(store: ObjectStore) -> None:
    found = dataset_versions(store, "customers")
    assert (found.versions, found.current, found.history) == ([], None, [])
