"""When a source is due, and when it is late: its passport's schedule measured from its last good run.

A source is *due* at the first scheduled time (its passport's ``update_frequency`` as cron, UTC, the
schedule ``lockgate serve`` and ``deploy`` run it on) after its last run that left the curated data
current (published or unchanged) finished. It is *late* once that due time is past by more than the
grace, and stays late until a run succeeds again. The grace lets a scheduled run finish: an hour by
default, never more than one period of the schedule (so a source due every 15 minutes is late 15
minutes after a missed run, a daily one an hour after). A source that never succeeded is measured from
its first recorded run; one with no run at all is *never run*, not late.

While a source stays late, each further scheduled time it misses is a new *missed due time*: the
freshness check announces each one once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from croniter import croniter

DEFAULT_GRACE = timedelta(hours=1)


class Freshness(StrEnum):
    FRESH = "fresh"  # the next due time (plus grace) has not passed
    LATE = "late"  # a due time passed, plus its grace, without a successful run
    NEVER_RUN = "never run"  # no run of the source is recorded


@dataclass(frozen=True)
class Due:
    """A source's freshness at one moment, with the times it was judged by."""

    freshness: Freshness
    due_at: datetime | None = None  # the first scheduled time after the last good run
    late_at: datetime | None = None  # due_at plus the grace: late from then on
    missed_due: datetime | None = None  # when late: the latest scheduled time whose grace has passed


def utc(moment: datetime) -> datetime:
    """A naive time is taken as UTC, as run ids and records write time."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def grace_after(cron: str, due: datetime, grace: timedelta = DEFAULT_GRACE) -> timedelta:
    """The grace at a due time: `grace`, but never longer than the gap to the next scheduled time."""
    after: datetime = croniter(cron, due).get_next(datetime)
    return min(grace, after - due)


def due_verdict(cron: str, anchor: datetime | None, now: datetime, grace: timedelta = DEFAULT_GRACE) -> Due:
    """Fresh, late or never run, at `now`, for a source on `cron` whose last good run ended at `anchor`."""
    if anchor is None:
        return Due(Freshness.NEVER_RUN)
    anchor, now = utc(anchor), utc(now)
    due = utc(croniter(cron, anchor).get_next(datetime))
    wait = grace_after(cron, due, grace)
    late_at = due + wait
    if now < late_at:
        return Due(Freshness.FRESH, due_at=due, late_at=late_at)
    # The latest scheduled time at or before now - grace: one second later, since get_prev is strict.
    latest = utc(croniter(cron, now - wait + timedelta(seconds=1)).get_prev(datetime))
    return Due(Freshness.LATE, due_at=due, late_at=late_at, missed_due=max(due, latest))
