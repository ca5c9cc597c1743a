"""Lake keys: one shape, checked names, and where the warehouse lives."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from storage import layout

DAY = date(2026, 3, 7)


def test_raw_keys() -> None:
    assert layout.raw_prefix("customers", DAY, "r1") == "raw/customers/2026-03-07/r1/"
    assert layout.raw_key("customers", DAY, "r1", "a.csv") == "raw/customers/2026-03-07/r1/a.csv"
    assert layout.manifest_key("customers", DAY, "r1") == "raw/customers/2026-03-07/r1/_manifest.json"


def test_curated_keys() -> None:
    assert layout.curated_prefix("stores") == "curated/stores/"
    assert layout.curated_version_prefix("stores", 1) == "curated/stores/v000001/"
    assert layout.curated_data_key("stores", 12) == "curated/stores/v000012/data.parquet"
    assert layout.curated_meta_key("stores", 12) == "curated/stores/v000012/_version.json"
    assert layout.current_pointer_key("stores") == "curated/stores/_current.json"
    assert layout.version_of("stores", "curated/stores/v000012/data.parquet") == 12
    assert layout.version_of("stores", "curated/stores/_current.json") is None
    assert layout.version_of("stores", "curated/stores_x/v000001/data.parquet") is None


def test_index_event_and_state_keys() -> None:
    sha = "ab" * 32
    assert layout.raw_index_key("customers", sha) == f"raw/customers/_index/{sha}.json"
    with pytest.raises(ValueError, match="invalid sha256"):
        layout.raw_index_key("customers", "../x")
    at = datetime(2026, 3, 7, 12, 0, 5, 123, tzinfo=UTC)
    key = layout.event_key("stores", at, 12, "rollback")
    assert key == "curated/stores/_events/20260307T120005.000123Z-000012-rollback.json"
    assert layout.event_version("stores", key) == 12
    assert layout.event_version("stores", "curated/stores/_current.json") is None
    assert layout.version_of("stores", key) is None  # events never look like version folders
    # Key order is time order, also across a change of day or year.
    later = layout.event_key("stores", datetime(2027, 1, 1, tzinfo=UTC), 1, "publish")
    assert sorted([later, key]) == [key, later]
    assert layout.state_key("orders") == "state/orders/state.json"
    assert layout.state_history_key("orders", "r1") == "state/orders/history/r1.json"
    with pytest.raises(ValueError, match="invalid run id"):
        layout.state_history_key("orders", "../r1")


@pytest.mark.parametrize("bad", ["", "..", "a/b", "a\\b"])
def test_names_that_would_split_a_key_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        layout.raw_prefix(bad, DAY, "r1")
    with pytest.raises(ValueError, match="invalid"):
        layout.raw_key("s", DAY, "r1", bad)


@pytest.mark.parametrize("version", [0, -1, 1_000_000])
def test_version_numbers_out_of_range(version: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        layout.curated_data_key("s", version)


def test_warehouse_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert layout.warehouse_path("lake") == Path("lake") / "warehouse.duckdb"
    assert layout.warehouse_path("s3://bkt/team/lake/") == tmp_path / ".lockgate" / "bkt-team-lake.duckdb"
    assert layout.warehouse_path("s3://bkt") == tmp_path / ".lockgate" / "bkt.duckdb"
    configured = str(tmp_path / "w.duckdb")  # the LOCKGATE_WAREHOUSE setting
    assert layout.warehouse_path("s3://bkt/x", configured) == tmp_path / "w.duckdb"
    # Local lakes keep theirs.
    assert layout.warehouse_path("lake", configured) == Path("lake") / "warehouse.duckdb"


def test_is_s3() -> None:
    assert layout.is_s3("s3://b/p")
    assert not layout.is_s3("/data/lake")
    assert not layout.is_s3("lake")
