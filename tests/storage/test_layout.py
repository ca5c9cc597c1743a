"""Lake keys: one shape, checked names, and where the warehouse lives."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from storage import layout

DAY = date(2026, 3, 7)


def test_raw_keys() -> None:
    assert layout.raw_prefix("customers", DAY, "r1") == "raw/customers/2026-03-07/r1/"
    assert layout.raw_key("customers", DAY, "r1", "a.csv") == "raw/customers/2026-03-07/r1/a.csv"
    assert layout.manifest_key("customers", DAY, "r1") == "raw/customers/2026-03-07/r1/_manifest.json"


def test_curated_keys() -> None:
    """A dataset is one Delta table folder; Lockgate's own files sit in its ``_lockgate/`` folder."""
    assert layout.curated_prefix("stores") == "curated/stores/"
    sha = "ab" * 32
    assert (
        layout.curated_attachment_key("stores", sha, "agreement.json")
        == f"curated/stores/_lockgate/attachments/{sha}/agreement.json"
    )
    with pytest.raises(ValueError, match="invalid sha256"):
        layout.curated_attachment_key("stores", "../x", "agreement.json")
    with pytest.raises(ValueError, match="invalid attachment name"):
        layout.curated_attachment_key("stores", sha, "../agreement.json")


def test_index_and_state_keys() -> None:
    sha = "ab" * 32
    assert layout.raw_index_key("customers", sha) == f"raw/customers/_index/{sha}.json"
    with pytest.raises(ValueError, match="invalid sha256"):
        layout.raw_index_key("customers", "../x")
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
