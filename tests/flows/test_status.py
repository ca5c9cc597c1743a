"""Status rows: freshness against the passport's schedule (edge cases and properties), the quality trend,
and the status of a source after real ingest runs (published, unchanged, stopped) under Prefect."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st
from testkit.catalog_fixtures import HASH_KEY
from testkit.prefect_reads import latest_artifact

from flows.due import DEFAULT_GRACE, Freshness, due_verdict
from flows.errors import RunFailed
from flows.pipeline import ingest
from flows.results import ExpectationLine, SourceResult, SourceStatus
from flows.status import RunPoint, Trend, catalog_status, quality_trend, run_quality
from storage.errors import StorageError
from storage.run_history import read_runs
from storage.store import open_store

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 3, 4, 30, tzinfo=UTC)  # a Monday, just after a daily run at 03:00
CRONS = ["@hourly", "0 3 * * *", "0 3 * * 1", "0 3 1 * *", "15 */6 * * *", "*/5 * * * *", "0 9 * * 1-5"]
MONTHLY, DAILY, HOURLY = "0 3 1 * *", "0 3 * * *", "0 * * * *"


# --- freshness --------------------------------------------------------------------------------------


def test_never_run_is_neither_fresh_nor_late() -> None:
    assert due_verdict(DAILY, None, T0).freshness is Freshness.NEVER_RUN


def test_a_daily_source_is_due_at_the_next_run_and_late_an_hour_after() -> None:
    due = datetime(2026, 3, 3, 3, 0, tzinfo=UTC)
    assert due_verdict(DAILY, T0, T0).due_at == due
    assert due_verdict(DAILY, T0, due + timedelta(minutes=59)).freshness is Freshness.FRESH
    late = due_verdict(DAILY, T0, due + DEFAULT_GRACE)
    assert (late.freshness, late.late_at, late.missed_due) == (Freshness.LATE, due + DEFAULT_GRACE, due)
    # Three days on, the latest missed due time is the one whose grace has passed, not the first.
    later = due_verdict(DAILY, T0, due + timedelta(days=2, minutes=30))
    assert later.missed_due == due + timedelta(days=1)


def test_the_grace_is_never_longer_than_one_period() -> None:
    every_5 = due_verdict("*/5 * * * *", T0, T0 + timedelta(minutes=10, seconds=31))
    assert every_5.due_at == datetime(2026, 3, 2, 3, 5, tzinfo=UTC)
    assert every_5.late_at == datetime(2026, 3, 2, 3, 10, tzinfo=UTC)
    assert every_5.freshness is Freshness.LATE


def test_a_run_that_ends_exactly_on_a_due_time_is_due_at_the_next_one() -> None:
    on_time = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    assert due_verdict(DAILY, on_time, on_time).due_at == on_time + timedelta(days=1)


def test_naive_times_are_utc_and_month_ends_are_handled() -> None:
    verdict = due_verdict(MONTHLY, datetime(2026, 1, 31, 23, 0), datetime(2026, 2, 1, 3, 30))
    assert verdict.due_at == datetime(2026, 2, 1, 3, 0, tzinfo=UTC) and verdict.freshness is Freshness.FRESH
    assert due_verdict(MONTHLY, datetime(2026, 1, 31), datetime(2026, 2, 1, 4, 1)).freshness is Freshness.LATE


def test_a_custom_grace_applies() -> None:
    due = datetime(2026, 3, 3, 3, 0, tzinfo=UTC)
    zero = due_verdict(DAILY, T0, due, timedelta(0))
    assert zero.freshness is Freshness.LATE and zero.missed_due == due
    assert due_verdict(DAILY, T0, due + timedelta(hours=5), timedelta(hours=6)).freshness is Freshness.FRESH


moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(
    cron=st.sampled_from(CRONS),
    anchor=moments,
    wait=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
)
def test_freshness_properties(cron: str, anchor: datetime, wait: timedelta) -> None:
    now = anchor + wait
    verdict = due_verdict(cron, anchor, now)
    assert verdict.due_at is not None and verdict.late_at is not None
    assert anchor < verdict.due_at <= verdict.late_at
    assert croniter.match(cron, verdict.due_at)  # due times are the schedule's own times
    if now < verdict.due_at:
        assert verdict.freshness is Freshness.FRESH  # never late before it is due
    if verdict.freshness is Freshness.LATE:
        assert verdict.missed_due is not None and croniter.match(cron, verdict.missed_due)
        assert verdict.due_at <= verdict.missed_due <= now - (verdict.late_at - verdict.due_at)
        # Once late, later checks stay late until a run succeeds; the missed due time only moves on.
        after = due_verdict(cron, anchor, now + timedelta(hours=7))
        assert after.freshness is Freshness.LATE and after.missed_due is not None
        assert after.missed_due >= verdict.missed_due
    else:
        assert verdict.missed_due is None and now < verdict.late_at


@settings(max_examples=100, deadline=None)
@given(anchor=moments, wait=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)))
def test_hourly_and_daily_are_late_exactly_after_due_plus_grace(anchor: datetime, wait: timedelta) -> None:
    for cron, period in ((HOURLY, timedelta(hours=1)), (DAILY, timedelta(days=1))):
        verdict = due_verdict(cron, anchor, anchor + wait)
        assert verdict.due_at is not None
        grace = min(DEFAULT_GRACE, period)
        assert (verdict.freshness is Freshness.LATE) == (anchor + wait >= verdict.due_at + grace)


# --- quality -----------------------------------------------------------------------------------------


def _rule(ok: bool) -> ExpectationLine:
    return ExpectationLine(rule_id="r", expectation="e", column=None, severity="error", success=ok)


def _point(quality: float | None) -> RunPoint:
    return RunPoint(
        run_id="r",
        status="published",
        started_at=T0,
        finished_at=T0,
        quality=quality,
        checks=0,
        rows_in=None,
        rows_out=None,
        rows_quarantined=0,
    )


def test_quality_counts_rules_schema_problems_and_pii_findings() -> None:
    result = SourceResult(source="s", status=SourceStatus.STOPPED, run_id="r")
    assert run_quality(result) == (None, 0)
    result.expectations = [_rule(True), _rule(True), _rule(False)]
    result.pii_findings = ["email: 3 value(s) of kind email"]
    assert run_quality(result) == (0.5, 4)


def test_the_trend_compares_the_last_scored_run_with_the_ones_before() -> None:
    assert quality_trend([_point(None), _point(0.9)]) is Trend.UNKNOWN
    assert quality_trend([_point(0.8), _point(0.9), _point(None)]) is Trend.IMPROVING
    assert quality_trend([_point(1.0), _point(0.8), _point(0.7)]) is Trend.WORSENING
    assert quality_trend([_point(0.9), _point(0.9), _point(0.902)]) is Trend.STEADY


# --- after real runs ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory, prefect_api: None) -> Iterator[tuple[Path, str]]:
    """The stores source run three times: published, unchanged (same file), stopped (duplicate ids)."""
    root = tmp_path_factory.mktemp("status")
    catalog = Path(shutil.copytree(REPO / "examples" / "catalog", root / "catalog"))
    lake = str(root / "lake")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCKGATE_HASH_KEY", HASH_KEY)
        ingest(catalog=str(catalog), lake=lake, sources=["stores"])
        ingest(catalog=str(catalog), lake=lake, sources=["stores"])
        data = catalog / "data" / "stores.csv"
        data.write_bytes(data.read_bytes().replace(b"\n2;", b"\n1;", 1))  # store_id must be unique
        with pytest.raises(RunFailed):
            ingest(catalog=str(catalog), lake=lake, sources=["stores"])
        yield catalog, lake


def test_the_run_history_holds_each_run_with_its_times(three_runs: tuple[Path, str]) -> None:
    _, lake = three_runs
    runs = read_runs(open_store(lake), "stores")
    assert [(r.status, r.ok) for r in runs] == [("published", True), ("unchanged", True), ("stopped", False)]
    for record in runs:
        assert record.started_at <= record.finished_at
        result = SourceResult.model_validate(record.result)
        assert result.run_id == record.run_id and result.finished_at == record.finished_at
    # A start is the run id's stamp, to the second: the next run may start within the second this one ended.
    assert runs[0].finished_at.replace(microsecond=0) <= runs[1].started_at


def test_status_after_published_unchanged_and_stopped(three_runs: tuple[Path, str]) -> None:
    catalog, lake = three_runs
    runs = read_runs(open_store(lake), "stores")
    rows = {r.source: r for r in catalog_status(catalog, lake)}
    assert list(rows) == ["customers", "stores", "support_tickets"]
    stores = rows["stores"]
    assert (stores.owner, stores.sensitivity, stores.update_frequency) == (
        "realestate-owner@example.com",
        "confidential",
        "weekly",
    )
    assert (stores.last_run_id, stores.last_state) == (runs[-1].run_id, "stopped")
    assert stores.last_success_at == runs[1].finished_at  # the unchanged run counts as a good one
    assert stores.curated_version == 0 and stores.release_id is not None  # the stop-line kept version 0
    assert stores.freshness is Freshness.FRESH and stores.due_at is not None
    assert stores.due_at.weekday() == 0 and (stores.due_at.hour, stores.due_at.minute) == (3, 0)
    assert [p.status for p in stores.runs] == ["published", "unchanged", "stopped"]
    assert stores.runs[0].quality == stores.runs[1].quality == 1.0  # the same file, checked again
    assert stores.runs[2].quality is not None and stores.runs[2].quality < 1.0
    assert stores.quality_trend is Trend.WORSENING
    assert stores.runs[0].rows_in == stores.runs[0].rows_out == 50
    for name in ("customers", "support_tickets"):
        assert rows[name].freshness is Freshness.NEVER_RUN and rows[name].runs == []

    # A week and more on, the stop-line has left the source late.
    later = catalog_status(catalog, lake, sources=["stores"], now=stores.due_at + timedelta(hours=2))
    assert later[0].freshness is Freshness.LATE and later[0].missed_due == stores.due_at
    [latest] = catalog_status(catalog, lake, sources=["stores"], last=1)
    assert [p.status for p in latest.runs] == ["stopped"]


def test_each_run_publishes_the_sources_trend_as_markdown(three_runs: tuple[Path, str]) -> None:
    markdown = latest_artifact("lockgate-trend-stores")
    assert "# stores: quality and volume over the last 3 run(s)" in markdown
    assert "| stopped |" in markdown and "| published | 100.0% |" in markdown
    assert "quality trend **worsening**" in markdown


def test_a_missing_lake_is_named(three_runs: tuple[Path, str], tmp_path: Path) -> None:
    catalog, _ = three_runs
    with pytest.raises(StorageError, match=r"no lake at .*nowhere"):
        catalog_status(catalog, str(tmp_path / "nowhere"))
