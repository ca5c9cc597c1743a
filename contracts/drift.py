"""Profile drift: how a batch's profile compares with the last published runs', judged by the contract.

Three checks, each with the action the contract gives it under ``drift`` (``warn`` by default):

* ``volume``: the row count against the median row count of the history, as a relative change;
* ``null_rate``: each column's share of nulls against its median over the history, rises only, in
  percentage points;
* ``new_categories``: values of the columns the contract names that no profile of the history had.

The median keeps one odd run from moving the baseline. With no history (a source's first run, or the
first after the contract named a column) there is nothing to compare with, and so no finding.
Findings carry names and numbers only: a new category is counted, never shown (which values are new
is in the profiles, for those who may read them).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Sequence

    from contracts.model import DriftPolicy
    from storage.profiles import Profile

DriftKind = Literal["volume", "null_rate", "new_categories"]


@dataclass(frozen=True)
class DriftFinding:
    """One drift the contract checks for; `action` is ``warn`` or ``block``."""

    kind: DriftKind
    column: str | None
    detail: str
    action: Literal["warn", "block"]

    @property
    def blocking(self) -> bool:
        return self.action == "block"

    def __str__(self) -> str:
        where = f" {self.column}" if self.column else ""
        return f"{self.kind}{where}: {self.detail} ({self.action})"


def compare(profile: Profile, history: Sequence[Profile], policy: DriftPolicy) -> list[DriftFinding]:
    """Every drift of `profile` from `history` (oldest first; the last ``policy.history`` count) that the
    policy does not ignore."""
    past = list(history)[-policy.history :]
    if not past:
        return []
    return [
        *_volume(profile, past, policy),
        *_null_rates(profile, past, policy),
        *_categories(profile, past, policy),
    ]


def _runs(count: int) -> str:
    return f"the last {count} published run(s)"


def _volume(profile: Profile, past: Sequence[Profile], policy: DriftPolicy) -> list[DriftFinding]:
    check = policy.volume
    if check.action == "ignore":
        return []
    median = statistics.median(p.rows for p in past)
    if median == 0:
        if profile.rows == 0:
            return []
        change = "from none"
    else:
        ratio = (profile.rows - median) / median
        if abs(ratio) <= check.max_change:
            return []
        change = f"{ratio:+.0%}"
    detail = (
        f"{profile.rows} row(s) against a median of {median:g} over {_runs(len(past))}: {change}, "
        f"beyond ±{check.max_change:.0%}"
    )
    return [DriftFinding("volume", None, detail, check.action)]


def _null_rates(profile: Profile, past: Sequence[Profile], policy: DriftPolicy) -> list[DriftFinding]:
    check = policy.null_rate
    if check.action == "ignore":
        return []
    names = check.columns if check.columns is not None else [c.name for c in profile.columns]
    findings = []
    for name in names:
        column = profile.column(name)
        earlier = [c.null_rate for p in past if (c := p.column(name)) is not None]
        if column is None or not earlier:  # a column new to the data: schema drift's business
            continue
        baseline = statistics.median(earlier)
        rise = (column.null_rate - baseline) * 100
        if rise > check.max_increase:
            detail = (
                f"{column.null_rate:.1%} null against a median of {baseline:.1%} over {_runs(len(past))}: "
                f"+{rise:.1f} points, above {check.max_increase:g}"
            )
            findings.append(DriftFinding("null_rate", name, detail, check.action))
    return findings


def _categories(profile: Profile, past: Sequence[Profile], policy: DriftPolicy) -> list[DriftFinding]:
    check = policy.new_categories
    if check.action == "ignore":
        return []
    findings = []
    for name in check.columns:
        column = profile.column(name)
        earlier = [c for p in past if (c := p.column(name)) is not None and c.categories is not None]
        if column is None or not earlier:
            continue
        if column.categories is None:
            if column.categories_over:
                detail = f"{column.distinct} distinct value(s), more than the {check.max_categories} tracked"
                findings.append(DriftFinding("new_categories", name, detail, check.action))
            continue
        seen = set().union(*(c.categories or [] for c in earlier))
        new = len(set(column.categories) - seen)
        if new:
            detail = f"{new} value(s) that none of {_runs(len(earlier))} had"
            findings.append(DriftFinding("new_categories", name, detail, check.action))
    return findings


__all__ = ["DriftFinding", "DriftKind", "compare"]
