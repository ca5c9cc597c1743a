"""Profiles in the lake, on a local folder and on the S3 test server: one object per run, tagged as
meta without personal data, and a history that only published runs make."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from storage import layout
from storage.curated import CuratedVersion
from storage.errors import StorageError
from storage.profiles import (
    ColumnProfile,
    Profile,
    load_profiles,
    published_runs,
    read_profile,
    write_profile,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from storage.store import ObjectStore


def profile(run_id: str, rows: int = 10) -> Profile:
    return Profile(
        source="orders",
        run_id=run_id,
        profiled_at=datetime(2026, 3, 1, tzinfo=UTC),
        contract_version="1.2.0",
        rows=rows,
        columns=[
            ColumnProfile(
                name="amount", dtype="Float64", nulls=1, null_rate=0.1, distinct=9, min=1.0, max=9.5
            ),
            ColumnProfile(name="email", dtype="String", nulls=0, null_rate=0.0, distinct=10, withheld=True),
        ],
    )


def test_a_profile_round_trips_under_its_run_key(
    store: ObjectStore, lake: str, object_tags: Callable[[str], dict[str, str]]
) -> None:
    written = profile("20260301T000000Z-aaaa")
    key = write_profile(store, written, sensitivity="confidential")
    assert key == "profiles/orders/20260301T000000Z-aaaa.json" == layout.profile_key("orders", written.run_id)
    assert read_profile(store, "orders", written.run_id) == written
    assert read_profile(store, "orders", "never") is None
    expected = {"layer": "meta", "source": "orders", "sensitivity": "confidential", "pii": "false"}
    assert object_tags(key) == (expected if lake.startswith("s3://") else {})
    assert written.column_types == {"amount": "Float64", "email": "String"}


def test_the_last_profiles_come_oldest_first(store: ObjectStore) -> None:
    runs = [f"20260301T00000{i}Z" for i in range(6)]
    for i, run in enumerate(runs):
        write_profile(store, profile(run, rows=i))
    assert [p.run_id for p in load_profiles(store, "orders", limit=3)] == runs[-3:]
    assert [p.rows for p in load_profiles(store, "orders", limit=100)] == list(range(6))
    assert load_profiles(store, "orders", limit=0) == []
    assert load_profiles(store, "nothing-yet", limit=5) == []


def test_history_can_be_restricted_to_given_runs(store: ObjectStore) -> None:
    for run in ("r1", "r2", "r3", "r4"):
        write_profile(store, profile(run))
    # r0 ran before profiling existed; r3 was stopped, so it is not among the published runs.
    chosen = load_profiles(store, "orders", limit=2, runs=["r0", "r1", "r2", "r4"])
    assert [p.run_id for p in chosen] == ["r2", "r4"]
    assert load_profiles(store, "orders", limit=5, runs=[]) == []


def test_an_unreadable_profile_is_named_without_its_content(
    store: ObjectStore, overwrite: Callable[[str, bytes], None]
) -> None:
    write_profile(store, profile("r1"))
    overwrite(layout.profile_key("orders", "r1"), b'{"source": "orders", "rows": "secret@example.org"}')
    with pytest.raises(StorageError, match=r"'profiles/orders/r1.json' is not a valid profile") as info:
        load_profiles(store, "orders", limit=5)
    assert "secret@example.org" not in str(info.value)


def version(number: int, action: str, run_id: str | None, release_id: str | None) -> CuratedVersion:
    return CuratedVersion.model_validate(
        {
            "source": "orders",
            "version": number,
            "created_at": datetime(2026, 3, 1, tzinfo=UTC),
            "operation": "WRITE",
            "action": action,
            "run_id": run_id,
            "release_id": release_id,
        }
    )


def test_published_runs_leave_out_rollbacks_erasures_and_releases_rolled_back_from() -> None:
    versions = [
        version(0, "publish", "r1", "rel-a"),
        version(1, "append", "r2", "rel-b"),
        version(2, "publish", "r3", "rel-c"),  # an operator rolled this one back
        version(3, "rollback", None, "rel-b"),
        version(4, "erase", "r9", "rel-b"),
        version(5, "merge", "r4", "rel-d"),
        version(6, "publish", "r4", "rel-d"),  # the same run twice counts once
    ]
    assert published_runs(versions) == ["r1", "r2", "r4"]
    assert published_runs([]) == []
