"""Curated datasets as Delta tables: versions with Lockgate's record in each commit, idempotent publishing,
restore, append and merge, erasure and retention, on a local lake and on S3."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import duckdb
import polars as pl
import pytest
from deltalake import DeltaTable

from storage import curated, layout
from storage.curated import (
    check_current,
    current_version,
    delta_table,
    erase_rows,
    list_versions,
    publish,
    read_current,
    rollback,
    table_uri,
    vacuum_history,
)
from storage.errors import IntegrityError, UnknownVersion
from storage.release import ReleaseParts
from storage.staging import Staged
from storage.store import ObjectNotFound, ObjectStore, StorageError
from storage.warehouse import load_delta

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

FRAME_1 = pl.DataFrame({"id": [1, 2, 3], "email": ["h1", "h2", "h3"]})
FRAME_2 = pl.DataFrame({"id": [1, 2, 3, 4], "email": ["h1", "h2", "h3", "h4"]})


def _parts(inputs: list[str], **change: object) -> ReleaseParts:
    fields: dict[str, object] = {
        "inputs": inputs,
        "contract_id": "customers",
        "contract_version": "1.0.0",
        "contract_sha256": "c" * 64,
        "code_version": "0.1.0",
        "key_ids": {"email": "hash:abc"},
    }
    return ReleaseParts.model_validate({**fields, **change})


def _publish(store: ObjectStore, frame: pl.DataFrame, run_id: str, inputs: list[str], **extra: object):  # type: ignore[no-untyped-def]
    return publish(
        store,
        "customers",
        frame,
        release=_parts(inputs),
        run_id=run_id,
        masked_columns={"email": "hash:abc"},
        sensitivity="confidential",
        pii=True,
        **extra,  # type: ignore[arg-type]
    )


def test_first_publish_is_version_zero_with_lockgate_metadata(store: ObjectStore) -> None:
    result = _publish(store, FRAME_1, "run-1", ["a" * 64])
    assert result.changed
    version = result.version
    assert (version.version, version.action, version.run_id, version.rows) == (0, "publish", "run-1", 3)
    assert version.release_id == _parts(["a" * 64]).release_id
    assert version.input_sha256 == ["a" * 64]
    assert (version.contract_id, version.contract_version) == ("customers", "1.0.0")
    assert version.masked_columns == {"email": "hash:abc"}
    assert read_current(store, "customers").equals(FRAME_1)
    assert any(key.startswith("curated/customers/_delta_log/") for key in store.list("curated/customers/"))


def test_new_input_makes_a_new_version_and_keeps_the_old_one(store: ObjectStore) -> None:
    _publish(store, FRAME_1, "run-1", ["a" * 64])
    second = _publish(store, FRAME_2, "run-2", ["b" * 64]).version
    assert second.version == 1
    assert [v.version for v in list_versions(store, "customers")] == [0, 1]
    old = delta_table(store, "customers", 0)
    assert old is not None and pl.from_arrow(old.to_pyarrow_table()).equals(FRAME_1)  # type: ignore[union-attr]


def test_the_same_release_adds_no_version(store: ObjectStore) -> None:
    first = _publish(store, FRAME_1, "run-1", ["a" * 64]).version
    again = _publish(store, FRAME_1, "run-2", ["a" * 64])
    assert not again.changed
    assert again.version.version == first.version and again.version.run_id == "run-1"
    assert len(list_versions(store, "customers")) == 1


@pytest.mark.parametrize(
    "change", [{"contract_version": "1.1.0"}, {"key_ids": {"email": "hash:new"}}, {"code_version": "0.2.0"}]
)
def test_any_change_of_a_release_part_publishes_again(store: ObjectStore, change: dict[str, object]) -> None:
    _publish(store, FRAME_1, "run-1", ["a" * 64])
    result = publish(
        store, "customers", FRAME_1, release=_parts(["a" * 64], **change), run_id="run-2", masked_columns={}
    )
    assert result.changed and result.version.version == 1


def test_rollback_restores_the_data_as_a_new_version_that_says_who_and_why(store: ObjectStore) -> None:
    first = _publish(store, FRAME_1, "run-1", ["a" * 64]).version
    _publish(store, FRAME_2, "run-2", ["b" * 64])
    restored = rollback(store, "customers", 0, by="alice", reason="bad delivery")
    assert (restored.version, restored.action, restored.restored_version) == (2, "rollback", 0)
    assert (restored.by, restored.reason) == ("alice", "bad delivery")
    assert restored.release_id == first.release_id and restored.rows == 3
    assert read_current(store, "customers").equals(FRAME_1)
    assert "rollback to v0 by alice: bad delivery" in restored.describe()


def test_rollback_to_the_current_version_changes_nothing(store: ObjectStore) -> None:
    _publish(store, FRAME_1, "run-1", ["a" * 64])
    assert rollback(store, "customers", 0, by="alice", reason="x").version == 0
    assert len(list_versions(store, "customers")) == 1


def test_an_unknown_version_is_refused_listing_the_known_ones(store: ObjectStore) -> None:
    _publish(store, FRAME_1, "run-1", ["a" * 64])
    with pytest.raises(UnknownVersion, match="known versions: 0"):
        rollback(store, "customers", 7, by="alice", reason="x")


def test_read_current_without_a_version(store: ObjectStore) -> None:
    assert current_version(store, "customers") is None
    assert list_versions(store, "customers") == []
    with pytest.raises(ObjectNotFound):
        read_current(store, "customers")


def _read_by_duckdb(uri: str) -> pl.DataFrame:
    """The table's current rows as DuckDB's delta extension reads them (offline, S3 as the warehouse does)."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    load_delta(con)
    if uri.startswith("s3://"):
        from storage.warehouse import _enable_s3  # the warehouse's own S3 session setup

        _enable_s3(con)
    return con.execute(f"SELECT * FROM delta_scan('{uri}')").pl()


def test_deltalake_polars_and_duckdb_read_the_same_rows(store: ObjectStore) -> None:
    _publish(store, FRAME_1, "run-1", ["a" * 64])
    _publish(store, FRAME_2, "run-2", ["b" * 64])
    options = store.table_options()
    uri = table_uri(store, "customers")
    by_deltalake = pl.from_arrow(DeltaTable(uri, storage_options=options).to_pyarrow_table())
    by_polars = pl.read_delta(uri, storage_options=options or None)
    by_duckdb = _read_by_duckdb(uri)
    for frame in (by_deltalake, by_polars, by_duckdb):
        assert isinstance(frame, pl.DataFrame)
        assert frame.sort("id").equals(FRAME_2)


def test_append_adds_rows_and_merge_upserts_on_keys(store: ObjectStore) -> None:
    publish(
        store, "orders", FRAME_1, release=_parts(["a" * 64]), run_id="r1", masked_columns={}, mode="append"
    )
    appended = publish(
        store,
        "orders",
        FRAME_2.tail(1),
        release=_parts(["a" * 64, "b" * 64]),
        run_id="r2",
        masked_columns={},
        mode="append",
    ).version
    assert (appended.action, appended.rows) == ("append", 4)
    changed = pl.DataFrame({"id": [4, 5], "email": ["h4-new", "h5"]})
    merged = publish(
        store,
        "orders",
        changed,
        release=_parts(["a" * 64, "b" * 64, "c" * 64]),
        run_id="r3",
        masked_columns={},
        mode="merge",
        merge_keys=["id"],
    ).version
    assert (merged.action, merged.rows) == ("merge", 5)
    rows = read_current(store, "orders").sort("id")
    assert rows["email"].to_list() == ["h1", "h2", "h3", "h4-new", "h5"]


def test_a_frame_is_published_slice_by_slice_as_one_version(
    store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slices of a few rows each (the size lowered from 64 MiB): the table, its row count and columns
    are what the whole frame gives, for a new table, an append and a merge."""
    monkeypatch.setattr(curated, "SLICE_BYTES", 40)
    frame = pl.DataFrame({"id": list(range(1, 101)), "email": [f"h{i}" for i in range(1, 101)], "gone": None})
    assert curated.slice_rows(frame, curated.SLICE_BYTES) < 10  # many slices
    first = publish(
        store, "orders", frame, release=_parts(["a" * 64]), run_id="r1", masked_columns={}
    ).version
    assert (first.rows, first.columns) == (100, ["id", "email", "gone"])
    stored = read_current(store, "orders").sort("id")  # Delta keeps no row order across record batches
    assert stored.drop("gone").equals(frame.drop("gone")) and stored["gone"].dtype == pl.String
    more = frame.with_columns(pl.col("id") + 100)
    appended = publish(
        store,
        "orders",
        more,
        release=_parts(["a" * 64, "b" * 64]),
        run_id="r2",
        masked_columns={},
        mode="append",
    ).version
    assert appended.rows == 200
    changed = frame.head(30).with_columns(pl.lit("new").alias("email"))
    publish(
        store,
        "orders",
        changed,
        release=_parts(["a" * 64, "b" * 64, "c" * 64]),
        run_id="r3",
        masked_columns={},
        mode="merge",
        merge_keys=["id"],
    )
    rows = read_current(store, "orders").sort("id")
    assert rows.height == 200 and rows["email"].to_list()[:31] == [*["new"] * 30, "h31"]


def test_an_empty_frame_publishes_its_columns(store: ObjectStore) -> None:
    empty = FRAME_1.head(0)
    version = publish(
        store, "empty", empty, release=_parts(["a" * 64]), run_id="r1", masked_columns={}
    ).version
    assert version.rows == 0
    assert read_current(store, "empty").schema == empty.schema


def test_concurrent_appenders_lose_no_commit(store: ObjectStore) -> None:
    publish(store, "events", FRAME_1, release=_parts(["0" * 64]), run_id="seed", masked_columns={})
    start = threading.Barrier(6)

    def append(i: int) -> None:
        start.wait()
        for attempt in range(5):
            try:
                publish(
                    store,
                    "events",
                    pl.DataFrame({"id": [100 + i], "email": [f"x{i}"]}),
                    release=_parts([f"{i + 1:064d}"]),
                    run_id=f"r{i}",
                    masked_columns={},
                    mode="append",
                )
                return
            except StorageError:  # another writer won this commit: the task retries, as Prefect's would
                if attempt == 4:
                    raise

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(append, range(6)))
    assert read_current(store, "events").height == 3 + 6
    assert len(list_versions(store, "events")) == 7


def test_attachments_are_stored_before_the_commit_and_named_in_it(store: ObjectStore) -> None:
    version = _publish(store, FRAME_1, "run-1", ["a" * 64], attachments={"agreement.json": b"{}"}).version
    key = version.attachment_key("agreement.json")
    assert key.startswith("curated/customers/_lockgate/attachments/") and store.get_bytes(key) == b"{}"
    with pytest.raises(ObjectNotFound):
        version.attachment_key("other.json")


def test_the_log_holds_no_data_values(store: ObjectStore, lake: str) -> None:
    """No column statistics: erasure and retention then only need to remove data files."""
    frame = pl.DataFrame({"id": [1], "email": ["needle-value@example.org"]})
    publish(store, "people", frame, release=_parts(["a" * 64]), run_id="r", masked_columns={})
    log = [k for k in store.list("curated/people/") if "/_delta_log/" in k]
    assert log and all(b"needle-value" not in store.get_bytes(k) for k in log)


def test_erasure_deletes_rows_and_vacuums_every_older_file(store: ObjectStore) -> None:
    _publish(store, FRAME_1, "run-1", ["a" * 64])
    _publish(store, FRAME_2, "run-2", ["b" * 64])
    dry = erase_rows(store, "customers", "email", ["h2"], erasure_id="e1", by="dpo", dry_run=True)
    assert dry.rows == 1 and dry.version is None and len(list_versions(store, "customers")) == 2
    erased = erase_rows(store, "customers", "email", ["h2"], erasure_id="e1", by="dpo")
    assert erased.rows == 1 and erased.removed_files
    assert read_current(store, "customers")["email"].to_list() == ["h1", "h3", "h4"]
    versions = list_versions(store, "customers", check_restorable=True)
    erase = next(v for v in versions if v.action == "erase")
    assert erase.erasure_id == "e1" and erase.by == "dpo" and erase.release is not None
    assert erase.release.erasures == ["e1"] and erase.release_id != versions[1].release_id
    assert [v.restorable for v in versions if v.version < erase.version] == [False, False]
    assert versions[-1].restorable
    data = [k for k in store.list("curated/customers/") if k.endswith(".parquet") and "_delta_log" not in k]
    held = pl.concat([pl.read_parquet(store.get_bytes(k)) for k in data])
    assert "h2" not in held["email"].to_list()
    with pytest.raises(UnknownVersion, match="can no longer be restored"):
        rollback(store, "customers", 0, by="alice", reason="undo")


def test_erasure_of_an_unknown_value_changes_nothing(store: ObjectStore) -> None:
    _publish(store, FRAME_1, "run-1", ["a" * 64])
    assert erase_rows(store, "customers", "email", ["nobody"], erasure_id="e", by="dpo").rows == 0
    assert len(list_versions(store, "customers")) == 1
    with pytest.raises(StorageError, match="no column 'phone'"):
        erase_rows(store, "customers", "phone", ["x"], erasure_id="e", by="dpo")


def test_retention_vacuums_history_but_never_the_current_version(store: ObjectStore) -> None:
    _publish(store, FRAME_1, "run-1", ["a" * 64])
    _publish(store, FRAME_2, "run-2", ["b" * 64])
    planned = vacuum_history(store, "customers", timedelta(0), dry_run=True)
    assert len(planned) == 1 and len(list_versions(store, "customers")) == 2
    assert vacuum_history(store, "customers", timedelta(0)) == planned
    assert read_current(store, "customers").equals(FRAME_2)
    assert not any(k in store.list("curated/customers/") for k in planned)


def test_a_missing_or_resized_data_file_is_refused(
    store: ObjectStore, overwrite: Callable[[str, bytes], None]
) -> None:
    _publish(store, FRAME_1, "run-1", ["a" * 64])
    data = next(
        k for k in store.list("curated/customers/") if k.endswith(".parquet") and "_delta_log" not in k
    )
    overwrite(data, b"not parquet")
    with pytest.raises(IntegrityError, match="its log recorded"):
        check_current(store, "customers")
    store.delete(data)
    with pytest.raises(IntegrityError, match="is missing"):
        read_current(store, "customers")


@pytest.mark.parametrize("lake", ["s3"], indirect=True)  # the local backend keeps no tags
def test_s3_data_files_carry_the_access_tags(
    lake: str, store: ObjectStore, object_tags: Callable[[str], dict[str, str]]
) -> None:
    _publish(store, FRAME_1, "run-1", ["a" * 64])
    data = next(
        k for k in store.list("curated/customers/") if k.endswith(".parquet") and "_delta_log" not in k
    )
    assert object_tags(data) == {
        "layer": "curated",
        "source": "customers",
        "sensitivity": "confidential",
        "pii": "true",
    }


def test_a_local_table_is_at_the_documented_place(tmp_path: Path) -> None:
    from storage.store import open_store

    store = open_store(str(tmp_path / "lake"))
    _publish(store, FRAME_1, "run-1", ["a" * 64])
    assert DeltaTable(str(tmp_path / "lake" / layout.curated_prefix("customers"))).version() == 0


def _stage(tmp_path: Path, frame: pl.DataFrame, name: str, rows: int) -> Staged:
    stage = Staged.create(tmp_path, name)
    for offset in range(0, frame.height, rows):
        stage.add(frame.slice(offset, rows))
    return stage


def test_a_staged_batch_is_written_as_our_files_and_committed_as_one_version(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window per row group and, with the file size lowered, a file per window; delta-rs, polars and
    DuckDB read the version, and a change of schema goes through delta-rs's writer."""
    monkeypatch.setattr(curated, "TARGET_FILE_BYTES", 1)
    frame = pl.DataFrame(
        {
            "id": list(range(1, 101)),
            "email": [f"h{i}" if i % 9 else None for i in range(1, 101)],
            "day": [date(2024, 1, 1 + i % 28) for i in range(100)],
            "at": [datetime(2024, 1, 1, tzinfo=UTC)] * 100,
        }
    )
    first = publish(
        store,
        "orders",
        _stage(tmp_path, frame, "a", 30),
        release=_parts(["a" * 64]),
        run_id="r1",
        masked_columns={},
    ).version
    assert (first.version, first.rows, first.columns, first.run_id) == (0, 100, frame.columns, "r1")
    options = store.table_options()
    uri = table_uri(store, "orders")
    assert len(DeltaTable(uri, storage_options=options).file_uris()) == 4  # 30 + 30 + 30 + 10 rows
    by_duckdb = _read_by_duckdb(uri)
    for stored in (read_current(store, "orders"), pl.read_delta(uri, storage_options=options or None)):
        assert stored.sort("id").equals(frame)
    # DuckDB gives the timestamp in its session's time zone: the same instants.
    assert by_duckdb.sort("id").drop("at").equals(frame.drop("at"))
    assert by_duckdb["at"].dt.convert_time_zone("UTC").equals(frame["at"])

    replaced = frame.with_columns(pl.col("id") + 1000)
    second = publish(
        store,
        "orders",
        _stage(tmp_path, replaced, "b", 50),
        release=_parts(["b" * 64]),
        run_id="r2",
        masked_columns={},
    ).version
    assert (second.version, second.rows) == (1, 100)
    assert read_current(store, "orders").sort("id").equals(replaced)
    appended = publish(
        store,
        "orders",
        _stage(tmp_path, frame, "c", 100),
        release=_parts(["b" * 64, "c" * 64]),
        run_id="r3",
        masked_columns={},
        mode="append",
    ).version
    assert appended.rows == 200 and read_current(store, "orders").height == 200
    assert [v.run_id for v in list_versions(store, "orders")] == ["r1", "r2", "r3"]

    widened = frame.with_columns(pl.lit("x").alias("segment"))
    publish(
        store,
        "orders",
        _stage(tmp_path, widened, "d", 60),
        release=_parts(["d" * 64]),
        run_id="r4",
        masked_columns={},
    )
    assert read_current(store, "orders").sort("id").equals(widened)
