"""A lake is self-contained and checked when read: portable views, current data files whole, `lake check`
findings and safe repairs, and reads that never create a lake. Local and S3 lakes alike where both apply."""

from __future__ import annotations

import io
import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl
import pytest

from storage.base import TEMP_MARKER
from storage.curated import (
    Published,
    check_current,
    dataset_versions,
    publish,
    read_current,
    table_key,
    table_uri,
    vacuum_history,
)
from storage.errors import IntegrityError, LakeNotFound
from storage.lake_check import check_lake
from storage.release import ReleaseParts
from storage.store import open_store
from storage.warehouse import load_delta, query_lake, register_current, register_views, rollback_dataset

if TYPE_CHECKING:
    from collections.abc import Callable

    from storage.base import ObjectStore

FRAME_1 = pl.DataFrame({"id": [1, 2, 3]})
FRAME_2 = pl.DataFrame({"id": [4, 5, 6, 7]})
TABLE = table_key("customers")


def _publish(
    store: ObjectStore, frame: pl.DataFrame, inputs: list[str], source: str = "customers"
) -> Published:
    release = ReleaseParts(
        inputs=inputs,
        contract_id=source,
        contract_version="1.0.0",
        contract_sha256="c" * 64,
        code_version="0.1.0",
    )
    return publish(store, source, frame, release=release, run_id="r1", masked_columns={})


def _data_files(store: ObjectStore, source: str = "customers") -> list[str]:
    """The data files in the table's folder (all versions'), oldest name first."""
    return [k for k in store.list(f"curated/{source}/") if k.endswith(".parquet") and "/_delta_log/" not in k]


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _kinds(lake: str, **options: object) -> list[tuple[str, str, bool]]:
    result = check_lake(lake, **options)  # type: ignore[arg-type]
    return [(f.kind, f.key, f.repaired is not None) for f in result.findings]


# A copied lake reads itself.


def test_a_copied_lake_reads_its_own_data_after_the_original_is_deleted(tmp_path: Path) -> None:
    original = str(tmp_path / "original")
    _publish(open_store(original), FRAME_1, ["a" * 64])
    register_current(original, ["customers"])
    copy = shutil.copytree(original, tmp_path / "copy")
    shutil.rmtree(original)
    assert query_lake(str(copy), "SELECT sum(id) AS s FROM customers").item() == 6
    assert _kinds(str(copy)) == []
    assert not Path(original).exists()


def test_a_moved_lake_reads_itself_not_a_lake_now_at_the_old_place(tmp_path: Path) -> None:
    """Two lakes swap places: each must read its own tables, whatever the other holds."""
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    _publish(open_store(first), FRAME_1, ["a" * 64])
    register_current(first, ["customers"])
    Path(first).rename(second)
    _publish(open_store(first), FRAME_2, ["b" * 64])  # a new lake where the first one was
    register_current(first, ["customers"])
    assert query_lake(second, "SELECT count(*) FROM customers").item() == FRAME_1.height
    assert query_lake(first, "SELECT count(*) FROM customers").item() == FRAME_2.height


def test_a_registered_lake_reads_and_checks_clean(lake: str, store: ObjectStore, warehouse: Path) -> None:
    _publish(store, FRAME_1, ["a" * 64])
    register_current(lake, ["customers"], warehouse=str(warehouse))
    assert query_lake(lake, "SELECT sum(id) FROM customers", warehouse=warehouse).item() == 6
    result = check_lake(lake, warehouse=warehouse)
    assert (result.sources, result.findings, result.ok) == (["customers"], [], True)


# Reads check the current version's files.


def test_a_resized_data_file_is_refused_by_every_read(
    lake: str, store: ObjectStore, warehouse: Path, overwrite: Callable[[str, bytes], None]
) -> None:
    _publish(store, FRAME_1, ["a" * 64])
    register_current(lake, ["customers"], warehouse=str(warehouse))
    [data] = _data_files(store)
    overwrite(data, _parquet(FRAME_2))  # valid Parquet with other rows: the size the log recorded tells
    refused = rf"{data} holds \d+ bytes, its log recorded \d+"
    with pytest.raises(IntegrityError, match=rf"view 'customers' not served: .*{refused}"):
        query_lake(lake, "SELECT * FROM customers", warehouse=warehouse)
    with pytest.raises(IntegrityError, match=refused):
        read_current(store, "customers")
    problem = dataset_versions(store, "customers").problem
    assert problem is not None and "lockgate lake check" in problem
    not_updated = r"warehouse views not updated for customers: .*its log recorded"
    with pytest.raises(IntegrityError, match=not_updated):
        register_current(lake, ["customers"], warehouse=str(warehouse))
    assert _kinds(lake, warehouse=warehouse, repair=True) == [("missing-data", TABLE, False)]
    assert store.get_bytes(data) == _parquet(FRAME_2)  # reported, never rewritten


def test_a_missing_data_file_is_refused_and_reported(lake: str, store: ObjectStore, warehouse: Path) -> None:
    _publish(store, FRAME_1, ["a" * 64])
    register_current(lake, ["customers"], warehouse=str(warehouse))
    [data] = _data_files(store)
    store.delete(data)
    with pytest.raises(IntegrityError, match=rf"{data} is missing"):
        query_lake(lake, "SELECT 1", warehouse=warehouse)
    [finding] = check_lake(lake, warehouse=warehouse).findings
    assert (finding.kind, finding.source, finding.key) == ("missing-data", "customers", TABLE)
    assert f"{data} is missing" in finding.detail


def test_publishing_the_current_release_again_repairs_a_damaged_version(
    store: ObjectStore, overwrite: Callable[[str, bytes], None]
) -> None:
    """The next run of the same input: unchanged while the version is whole, published again when not."""
    first = _publish(store, FRAME_1, ["a" * 64]).version
    assert not _publish(store, FRAME_1, ["a" * 64]).changed
    [data] = _data_files(store)
    overwrite(data, b"not parquet")
    again = _publish(store, FRAME_1, ["a" * 64])
    assert (again.changed, again.version.version, again.version.release_id) == (True, 1, first.release_id)
    assert read_current(store, "customers").equals(FRAME_1)
    assert not _publish(store, FRAME_1, ["a" * 64]).changed


def test_a_rollback_to_an_intact_version_serves_the_dataset_again(
    lake: str, store: ObjectStore, warehouse: Path, overwrite: Callable[[str, bytes], None]
) -> None:
    """Only the current version is checked: restoring an earlier whole one is the repair."""
    _publish(store, FRAME_1, ["a" * 64])
    first = _data_files(store)
    _publish(store, FRAME_2, ["b" * 64])
    register_current(lake, ["customers"], warehouse=str(warehouse))
    [second] = [k for k in _data_files(store) if k not in first]
    overwrite(second, b"not parquet")
    assert _kinds(lake, warehouse=warehouse) == [("missing-data", TABLE, False)]
    rollback_dataset(lake, "customers", 0, by="alice", reason="v1's file damaged", warehouse=warehouse)
    assert query_lake(lake, "SELECT sum(id) FROM customers", warehouse=warehouse).item() == 6
    assert _kinds(lake, warehouse=warehouse) == []


def test_files_of_a_writer_that_died_before_its_commit_are_never_read(
    lake: str, store: ObjectStore, warehouse: Path
) -> None:
    """A data file no commit names is invisible to every reader and no finding; retention removes it."""
    _publish(store, FRAME_1, ["a" * 64])
    register_current(lake, ["customers"], warehouse=str(warehouse))
    stray = "curated/customers/part-00000-00000000-dead-beef-0000-000000000000-c000.snappy.parquet"
    store.put_bytes(stray, _parquet(FRAME_2))
    assert read_current(store, "customers").equals(FRAME_1)
    assert query_lake(lake, "SELECT count(*) FROM customers", warehouse=warehouse).item() == 3
    check_current(store, "customers")
    assert _kinds(lake, warehouse=warehouse) == []
    assert vacuum_history(store, "customers", timedelta(0)) == [stray]
    assert not store.exists(stray)


# Broken table logs.


def test_an_unreadable_log_is_corrupt_metadata_named_never_a_parser_traceback(
    lake: str, store: ObjectStore, overwrite: Callable[[str, bytes], None]
) -> None:
    _publish(store, FRAME_1, ["a" * 64])
    [entry] = [k for k in store.list("curated/customers/_delta_log/") if k.endswith(".json")]
    overwrite(entry, b"{not json")
    [finding] = check_lake(lake, repair=True).findings
    assert (finding.kind, finding.key, finding.repaired) == ("corrupt-metadata", TABLE, None)
    assert finding.detail.startswith("could not open the curated table of 'customers': ")
    assert "\n" not in finding.detail  # the first line of delta-rs's message, no backtrace
    assert store.get_bytes(entry) == b"{not json"


def test_a_table_folder_without_a_log_is_corrupt_metadata(lake: str, store: ObjectStore) -> None:
    _publish(store, FRAME_1, ["a" * 64])
    for key in store.list("curated/customers/_delta_log/"):
        store.delete(key)
    assert _kinds(lake, repair=True) == [("corrupt-metadata", TABLE, False)]
    [finding] = check_lake(lake).findings
    assert finding.detail == "the folder holds no Delta table log"


# Stale views and leftovers are repaired.


@pytest.mark.parametrize(
    ("reads", "detail"),
    [
        ("fixed", "reads a fixed path, not the lake it lives in"),
        ("other", "reads curated/stores, not the table curated/customers"),
        ("nothing", "reads something else, not the table curated/customers"),
    ],
)
def test_a_stale_view_is_reported_and_registered_again(tmp_path: Path, reads: str, detail: str) -> None:
    lake = str(tmp_path / "lake")
    store = open_store(lake)
    _publish(store, FRAME_1, ["a" * 64])
    _publish(store, FRAME_2, ["b" * 64], source="stores")
    register_current(lake, ["customers", "stores"])
    body = {
        "fixed": f"SELECT * FROM delta_scan('{table_uri(store, 'customers')}')",
        "other": "SELECT * FROM stores",
        "nothing": "SELECT 1 AS id",
    }[reads]
    if reads == "other":
        register_views(Path(lake) / "warehouse.duckdb", {"customers": table_uri(store, "stores")})
    else:
        con = duckdb.connect(str(Path(lake) / "warehouse.duckdb"))
        load_delta(con)
        con.execute(f"CREATE OR REPLACE VIEW customers AS {body}")
        con.close()
    [finding] = check_lake(lake).findings
    assert (finding.kind, finding.key, finding.repaired) == ("stale-view", "view customers", None)
    assert finding.detail.startswith(detail)
    [repaired] = check_lake(lake, repair=True).findings
    assert repaired.repaired == "view registered again over its table"
    assert check_lake(lake).findings == []
    assert query_lake(lake, "SELECT sum(id) FROM customers").item() == 6


def test_a_leftover_of_an_interrupted_write_is_removed_by_repair(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    _publish(open_store(lake), FRAME_1, ["a" * 64])
    leftover = Path(lake) / "curated" / f"{TEMP_MARKER}crashed"
    leftover.write_bytes(b"half a file")
    assert _kinds(lake) == [("leftover", f"curated/{TEMP_MARKER}crashed", False)]
    assert _kinds(lake, repair=True) == [("leftover", f"curated/{TEMP_MARKER}crashed", True)]
    assert not leftover.exists()
    assert _kinds(lake) == []


# Reads never create a lake.


def test_reads_of_a_missing_lake_fail_and_create_nothing(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    for read in (
        lambda: check_lake(missing),
        lambda: query_lake(missing, "SELECT 1"),
        lambda: rollback_dataset(missing, "customers", 0, by="alice"),
    ):
        with pytest.raises(LakeNotFound, match=rf"no lake at {missing}"):
            read()
    assert not Path(missing).exists()


def test_the_check_reports_json_ready_findings(lake: str, store: ObjectStore) -> None:
    _publish(store, FRAME_1, ["a" * 64])
    [data] = _data_files(store)
    store.delete(data)
    result = check_lake(lake)
    assert result.sources == ["customers"]
    assert not result.ok
    [finding] = json.loads(result.model_dump_json())["findings"]
    assert (finding["kind"], finding["source"], finding["key"], finding["repaired"]) == (
        "missing-data",
        "customers",
        TABLE,
        None,
    )
