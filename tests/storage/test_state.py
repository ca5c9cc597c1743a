"""Connector state: one current state per source, replaced whole, with every committed state kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from storage import layout
from storage.errors import StorageError
from storage.state import (
    read_state,
    read_state_record,
    restore_state,
    state_history,
    write_state,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from storage.store import ObjectStore

    InjectFault = Callable[[ObjectStore, str, Callable[[], None]], ObjectStore]

WATERMARK_1 = {"cursor": "2026-03-07T00:00:00Z", "last_id": 120, "files": ["a.csv"]}
WATERMARK_2 = {"cursor": "2026-03-08T00:00:00Z", "last_id": 180, "files": ["a.csv", "b.csv"]}


def test_no_state_before_the_first_commit(store: ObjectStore) -> None:
    assert read_state(store, "orders") is None
    assert read_state_record(store, "orders") is None
    assert state_history(store, "orders") == []


def test_commits_replace_the_state_and_keep_every_earlier_one(store: ObjectStore) -> None:
    write_state(store, "orders", WATERMARK_1, run_id="r1", curated_version=1)
    write_state(store, "orders", WATERMARK_2, run_id="r2", curated_version=2)
    assert read_state(store, "orders") == WATERMARK_2
    record = read_state_record(store, "orders")
    assert record is not None
    assert (record.run_id, record.curated_version) == ("r2", 2)
    assert store.list(layout.state_prefix("orders")) == [
        "state/orders/history/r1.json",
        "state/orders/history/r2.json",
        "state/orders/state.json",
    ]
    assert [(r.run_id, r.state) for r in state_history(store, "orders")] == [
        ("r1", WATERMARK_1),
        ("r2", WATERMARK_2),
    ]
    # The current state is byte-identical to its history entry: one record, two places.
    assert store.get_bytes(layout.state_key("orders")) == store.get_bytes(
        layout.state_history_key("orders", "r2")
    )


def test_a_retried_commit_of_the_same_run_changes_nothing(store: ObjectStore) -> None:
    write_state(store, "orders", WATERMARK_1, run_id="r1", curated_version=1)
    before = {key: store.get_bytes(key) for key in store.list("state/")}
    write_state(store, "orders", WATERMARK_1, run_id="r1", curated_version=1)
    assert {key: store.get_bytes(key) for key in store.list("state/")} == before


def test_a_run_that_commits_twice_keeps_its_last_state(store: ObjectStore) -> None:
    write_state(store, "orders", WATERMARK_1, run_id="r1", curated_version=1)
    write_state(store, "orders", WATERMARK_2, run_id="r1", curated_version=1)
    assert read_state(store, "orders") == WATERMARK_2
    assert [r.state for r in state_history(store, "orders")] == [WATERMARK_2]


def test_an_owner_can_restore_an_earlier_state(store: ObjectStore) -> None:
    write_state(store, "orders", WATERMARK_1, run_id="r1", curated_version=1)
    write_state(store, "orders", WATERMARK_2, run_id="r2", curated_version=2)
    restored = restore_state(store, "orders", "r1", run_id="restore-ops-7")
    assert read_state(store, "orders") == WATERMARK_1
    assert (restored.run_id, restored.restored_from, restored.curated_version) == ("restore-ops-7", "r1", 1)
    assert [r.run_id for r in state_history(store, "orders")] == ["r1", "r2", "restore-ops-7"]
    default_named = restore_state(store, "orders", "r2")
    assert default_named.run_id.startswith("restore-")
    assert read_state(store, "orders") == WATERMARK_2
    with pytest.raises(StorageError, match=r"no state committed by run 'r9'; known runs: r1, r2, restore-"):
        restore_state(store, "orders", "r9")


@pytest.mark.parametrize(
    "state",
    [
        {"cursor": datetime(2026, 3, 7, tzinfo=UTC)},
        {"ids": (1, 2)},
        {1: "x"},
        {"ratio": float("nan")},
    ],
)
def test_state_that_json_would_change_is_refused_without_showing_it(
    store: ObjectStore, state: dict[str, Any]
) -> None:
    with pytest.raises(StorageError, match="not plain JSON") as info:
        write_state(store, "orders", state, run_id="r1", curated_version=1)
    assert "2026" not in str(info.value)
    assert store.list("state/") == []


def test_state_objects_carry_access_tags(
    store: ObjectStore, lake: str, object_tags: Callable[[str], dict[str, str]]
) -> None:
    write_state(store, "orders", WATERMARK_1, run_id="r1", curated_version=None, sensitivity="internal")
    expected = {"layer": "state", "source": "orders", "sensitivity": "internal", "pii": "true"}
    for key in store.list("state/"):
        assert object_tags(key) == (expected if lake.startswith("s3://") else {})


def test_a_crash_between_history_and_state_leaves_the_old_state_current(
    store: ObjectStore, inject_fault: InjectFault
) -> None:
    write_state(store, "orders", WATERMARK_1, run_id="r1", curated_version=1)

    def crash() -> None:
        raise StorageError("injected: died before state.json")

    with pytest.raises(StorageError, match="injected"):
        write_state(
            inject_fault(store, layout.state_key("orders"), crash),
            "orders",
            WATERMARK_2,
            run_id="r2",
            curated_version=2,
        )
    assert read_state(store, "orders") == WATERMARK_1  # the next run re-extracts: nothing is skipped
    write_state(store, "orders", WATERMARK_2, run_id="r2", curated_version=2)  # the retry converges
    assert read_state(store, "orders") == WATERMARK_2


def test_a_damaged_state_object_is_reported_not_guessed(store: ObjectStore) -> None:
    store.put_bytes(layout.state_key("orders"), json.dumps({"cursor": "x"}).encode())
    with pytest.raises(
        StorageError, match=r"'state/orders/state\.json' is not a valid connector state"
    ) as info:
        read_state(store, "orders")
    assert "cursor" not in str(info.value)
