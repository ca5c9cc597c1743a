"""Every source's status at a glance: owner, last run, current curated version, freshness, quality trend.

Built from the catalog (owner, schedule) and the lake: the run history (:mod:`storage.run_history`) and
the curated tables, never Prefect's database, so it answers for any lake a reader can open, also when
the Prefect server is elsewhere or gone. Counts, names and ids only.

A run's *quality* is the share of its checks that passed: the contract's rules, plus the schema
problems and PII findings that stopped the line, each counted as a failed check. A run that checked
nothing (no new data, or an error before validation) has no quality and does not move the trend. The
*trend* compares the last scored run with the mean of the scored runs before it in the window:
``improving`` or ``worsening`` past half a percentage point, else ``steady``; ``n/a`` with fewer than
two scored runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from flows.due import DEFAULT_GRACE, Freshness, due_verdict
from flows.results import SourceResult
from sources.catalog import load_catalog
from storage.curated import current_version
from storage.errors import StorageError
from storage.layout import is_s3
from storage.run_history import RunRecord, last_ok_run, read_run, read_runs, run_keys
from storage.store import open_store

if TYPE_CHECKING:
    from sources.catalog import Source
    from storage.base import ObjectStore

DEFAULT_RUNS = 10  # runs per source the trend and the plot look at
TREND_STEP = 0.005


class Trend(StrEnum):
    IMPROVING = "improving"
    STEADY = "steady"
    WORSENING = "worsening"
    UNKNOWN = "n/a"


class RunPoint(BaseModel):
    """One run of a source as the trend and the plot see it."""

    run_id: str
    status: str
    started_at: datetime
    finished_at: datetime
    quality: float | None  # share of checks passed, 0..1; None when the run checked nothing
    checks: int
    rows_in: int | None
    rows_out: int | None
    rows_quarantined: int


class SourceStatusRow(BaseModel):
    """One source's status; `runs` are its recent runs, oldest first."""

    source: str
    owner: str
    sensitivity: str
    update_frequency: str
    last_run_id: str | None = None
    last_run_at: datetime | None = None  # when the last run's steps for this source ended
    last_state: str | None = None  # published, unchanged, stopped, failed, interrupted
    last_success_at: datetime | None = None
    curated_version: int | None = None  # the version readers see now (after any rollback)
    release_id: str | None = None
    freshness: Freshness
    due_at: datetime | None = None
    late_since: datetime | None = None  # due_at plus the grace, when late
    missed_due: datetime | None = None  # when late: the latest scheduled time missed (past its grace)
    quality: float | None = None  # the last scored run's
    quality_trend: Trend = Trend.UNKNOWN
    runs: list[RunPoint] = Field(default_factory=list)


def run_quality(result: SourceResult) -> tuple[float | None, int]:
    """Share of the run's checks that passed, and how many checks there were."""
    checks = len(result.expectations) + len(result.schema_issues) + len(result.pii_findings)
    if not checks:
        return None, 0
    return sum(1 for e in result.expectations if e.success) / checks, checks


def run_point(record: RunRecord) -> RunPoint:
    result = SourceResult.model_validate(record.result)
    quality, checks = run_quality(result)
    return RunPoint(
        run_id=record.run_id,
        status=record.status,
        started_at=record.started_at,
        finished_at=record.finished_at,
        quality=quality,
        checks=checks,
        rows_in=result.rows_in,
        rows_out=result.rows_out,
        rows_quarantined=result.rows_quarantined,
    )


def quality_trend(points: list[RunPoint]) -> Trend:
    scored = [p.quality for p in points if p.quality is not None]
    if len(scored) < 2:
        return Trend.UNKNOWN
    *earlier, last = scored
    change = last - sum(earlier) / len(earlier)
    if change > TREND_STEP:
        return Trend.IMPROVING
    if change < -TREND_STEP:
        return Trend.WORSENING
    return Trend.STEADY


def source_status(
    store: ObjectStore,
    source: Source,
    *,
    now: datetime,
    last: int = DEFAULT_RUNS,
    grace: timedelta = DEFAULT_GRACE,
) -> SourceStatusRow:
    """One source's row: its last `last` runs (one listing, `last` reads; older ones only when none of
    those succeeded) and its current curated version."""
    passport = source.passport
    keys = run_keys(store, source.name)
    records = read_runs(store, source.name, last) if keys else []
    good = last_ok_run(store, source.name, known=records, keys=keys)
    anchor = None
    if good is not None:
        anchor = good.finished_at
    elif keys:  # it never succeeded: due from its first recorded run
        anchor = (records[0] if len(records) == len(keys) else read_run(store, keys[0])).finished_at
    verdict = due_verdict(passport.cron, anchor, now, grace)
    points = [run_point(r) for r in records]
    scored = [p.quality for p in points if p.quality is not None]
    current = current_version(store, source.name)
    newest = records[-1] if records else None
    return SourceStatusRow(
        source=source.name,
        owner=str(passport.owner),
        sensitivity=passport.sensitivity.value,
        update_frequency=passport.update_frequency,
        last_run_id=newest.run_id if newest else None,
        last_run_at=newest.finished_at if newest else None,
        last_state=newest.status if newest else None,
        last_success_at=good.finished_at if good else None,
        curated_version=current.version if current else None,
        release_id=current.release_id if current else None,
        freshness=verdict.freshness,
        due_at=verdict.due_at,
        late_since=verdict.late_at if verdict.freshness is Freshness.LATE else None,
        missed_due=verdict.missed_due,
        quality=scored[-1] if scored else None,
        quality_trend=quality_trend(points),
        runs=points,
    )


def catalog_status(
    catalog: Path,
    lake: str,
    *,
    sources: list[str] | None = None,
    now: datetime | None = None,
    last: int = DEFAULT_RUNS,
    grace: timedelta = DEFAULT_GRACE,
) -> list[SourceStatusRow]:
    """Every catalogued source's status (or the named ones'), in catalog order."""
    selected = load_catalog(catalog).select(sources or [])
    if not is_s3(lake) and not Path(lake).is_dir():  # opening would create it: a mistyped path says so
        raise StorageError(f"no lake at {lake}: no run has written one there (check --lake)")
    store = open_store(lake)
    moment = now or datetime.now(UTC)
    return [source_status(store, s, now=moment, last=last, grace=grace) for s in selected]


def status_columns() -> list[str]:
    """The CSV header: the row's fields in order (the recent runs last, as JSON)."""
    return list(SourceStatusRow.model_fields)
