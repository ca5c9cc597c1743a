"""A source larger than the memory limit is staged on disk and worked a window at a time, with the
outcome of reading it whole.

The example customers arrive as four CSV files with one id in two of them; with a memory limit of
1 MiB their 0.5 MB is more than a quarter of it, so the run stages them (windows of 1,000 rows, one
file's rows and another's apart). Conform, the rules (a row count over all files, uniqueness across
them), the quarantine, masking, the PII gate, the profile and publish must give what the run that
holds the whole batch in memory gives: the same report, quarantine and curated rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from testkit.partitioned_catalog import (
    RUN_SPECIFIC,
    UNIQUE_RULE,
    rows_checksum,
    run_customers,
    split_customers,
)

from flows import pipeline
from flows.pipeline import ingest
from flows.results import SourceStatus
from sources.staged_read import StagedRead, stage_source
from storage.curated import read_current
from storage.layout import work_root
from storage.quarantine import read_quarantine
from storage.store import open_store

if TYPE_CHECKING:
    from pathlib import Path

    from storage.staging import Staged

pytestmark = pytest.mark.usefixtures("prefect_api", "hash_key")

DUPLICATE = (1, 1200)  # row 1200 (the third file) takes the id of row 1 (the first file)


def test_a_staged_source_publishes_quarantines_and_reports_as_the_whole_batch(
    catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    split_customers(catalog, 4, duplicate=DUPLICATE)
    whole_run, whole = run_customers(catalog, tmp_path / "lake-whole")
    stages: list[tuple[int, int]] = []

    def staging(*args: Any, **options: Any) -> StagedRead | None:
        read = stage_source(*args, **options)
        stage: Staged = args[3]
        stages.append((stage.rows, len(stage.parts)))
        return read

    monkeypatch.setattr(pipeline, "stage_source", staging)
    staged_run, staged = run_customers(catalog, tmp_path / "lake-staged", memory_limit="1MiB")
    assert stages == [(2000, 4)]  # a window per file (1,000 rows at least, 500 a file)

    for result in (whole, staged):
        assert result.status is SourceStatus.PUBLISHED, result.error
        assert (result.rows_in, result.rows_quarantined, result.rows_out) == (2000, 2, 1998)
        rules = {e.rule_id: e for e in result.expectations}
        assert (rules[UNIQUE_RULE].action, rules[UNIQUE_RULE].unexpected_count) == ("quarantine", 2)
    assert staged.model_dump(exclude=RUN_SPECIFIC) == whole.model_dump(exclude=RUN_SPECIFIC)

    lakes = {name: open_store(str(tmp_path / f"lake-{name}")) for name in ("whole", "staged")}
    curated = {name: read_current(store, "customers") for name, store in lakes.items()}
    assert rows_checksum(curated["staged"], "customer_id") == rows_checksum(curated["whole"], "customer_id")
    held = {
        name: read_quarantine(store, "customers", run.run_id).drop("_lockgate_file", strict=False)
        for (name, store), run in zip(lakes.items(), (whole_run, staged_run), strict=True)
    }
    assert held["staged"].equals(held["whole"])
    # The stages lived in the run's working folder, which the run removed.
    assert not any(work_root(str(tmp_path / "lake-staged")).glob("run-*"))


def test_a_memory_limit_that_names_no_size_fails_the_run_naming_it(catalog: Path, tmp_path: Path) -> None:
    state = ingest(catalog=str(catalog), lake=str(tmp_path / "lake"), memory_limit="lots", return_state=True)
    assert state.is_failed()
    assert "memory limit 'lots': not a size" in str(state.message) + str(state.result(raise_on_failure=False))
