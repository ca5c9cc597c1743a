"""The freshness check: a scheduled flow that finds late sources and emits ``lockgate.source.late``.

A late source is one whose passport schedule said it should have run successfully by now
(:mod:`flows.due`), so nobody has to run ``lockgate status`` to learn of it: ``lockgate serve`` and
``lockgate deploy`` schedule this check every 15 minutes beside the ingest and retention deployments.

One event per missed due time, not one per check: before emitting, the check claims the missed due
time in the lake (``runs/<source>/late/<due>.json``, created only if absent, see
:func:`storage.run_history.claim_late_notice`). A daily source that stops on Monday is announced once
Tuesday after 04:00 (03:00 plus the grace), once more Wednesday, and so on, however often the check
runs, and whichever of several checkers gets there first. Sources that never ran are not late.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from pydantic import BaseModel

from flows.due import DEFAULT_GRACE, Freshness
from flows.events import emit_source_late
from flows.runs import current_run_id, new_run_id
from flows.status import source_status
from sources.catalog import load_catalog
from storage.run_history import claim_late_notice
from storage.store import open_store


class FreshnessLine(BaseModel):
    """One source as the check saw it."""

    source: str
    owner: str
    freshness: Freshness
    due_at: datetime | None = None
    missed_due: datetime | None = None
    announced: bool = False  # this check emitted lockgate.source.late for missed_due


class FreshnessReport(BaseModel):
    run_id: str
    now: datetime
    sources: list[FreshnessLine]

    @property
    def late(self) -> list[FreshnessLine]:
        return [s for s in self.sources if s.freshness is Freshness.LATE]


@flow(name="lockgate-freshness", flow_run_name=new_run_id)
def freshness(
    catalog: str,
    lake: str = "lake",
    now: datetime | None = None,
    grace_minutes: float = DEFAULT_GRACE.total_seconds() / 60,
) -> FreshnessReport:
    """Judge every catalogued source's freshness and announce each newly missed due time once.

    `now` is the moment judged (default: the clock), so tests and operators can look ahead.
    """
    run_id = current_run_id()
    moment = now or datetime.now(UTC)
    grace = timedelta(minutes=grace_minutes)
    store = open_store(lake)
    lines = []
    for source in load_catalog(Path(catalog)).sources:
        row = source_status(store, source, now=moment, last=1, grace=grace)
        line = FreshnessLine(source=source.name, owner=row.owner, freshness=row.freshness, due_at=row.due_at)
        if row.freshness is Freshness.LATE and row.missed_due is not None:
            line.missed_due = row.missed_due
            passport = source.passport
            claimed = claim_late_notice(
                store,
                source.name,
                row.missed_due,
                {"check_run_id": run_id, "last_run_id": row.last_run_id},
                sensitivity=passport.sensitivity.value,
                pii=any(prop.pii is not None for prop in source.contract.columns),
            )
            if claimed:
                emit_source_late(
                    passport,
                    check_run_id=run_id,
                    missed_due=row.missed_due,
                    due_at=row.due_at,
                    last_run_id=row.last_run_id,
                    last_success_at=row.last_success_at,
                )
                line.announced = True
                get_run_logger().warning(
                    "%s is late: missed %s, last good run %s",
                    source.name,
                    row.missed_due.isoformat(),
                    row.last_success_at.isoformat() if row.last_success_at else "never",
                )
        lines.append(line)
    report = FreshnessReport(run_id=run_id, now=moment, sources=lines)
    create_markdown_artifact(key="lockgate-freshness", markdown=freshness_markdown(report))
    return report


def freshness_markdown(report: FreshnessReport) -> str:
    """The check as a Prefect artifact: one row per source."""
    lines = [
        f"# Freshness as of {report.now.isoformat()}",
        "",
        f"{len(report.late)} of {len(report.sources)} source(s) late.",
        "",
        "| source | owner | freshness | due | missed due | announced now |",
        "|---|---|---|---|---|---|",
    ]
    for s in report.sources:
        due = s.due_at.isoformat() if s.due_at else "-"
        missed = s.missed_due.isoformat() if s.missed_due else "-"
        lines.append(
            f"| {s.source} | {s.owner} | {s.freshness.value} | {due} | {missed} "
            f"| {'yes' if s.announced else ''} |"
        )
    return "\n".join(lines)
