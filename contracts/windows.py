"""The contract's steps over a staged batch, a window at a time: a source larger than memory.

Each function reads one stage (`storage.staging.Staged`) a window at a time, applies the step that the
in-memory path applies to the whole frame, and writes the result as the next stage, so no step holds
more than one window of rows. What a step must judge over the whole batch is judged over the whole
batch: schema issues are counted over every window (`conform.merge_issues`), the contract's rules run
once on all of the conformed stage (`validation.validate`, GX over DuckDB), and a quarantining
uniqueness rule sets aside every row whose value occurs twice anywhere in the batch
(`quarantine.duplicated_values`). Row-level steps (casting, suppression, row rules, masking) give a row
the same result whatever window it is in, so the stages hold what the in-memory path's frames hold, in
the same order. A stage holds at least one part: a batch of no rows is never staged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from contracts.conform import SchemaIssue, conform, merge_issues
from contracts.masking import mask
from contracts.quarantine import duplicated_values, split

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from contracts.model import Contract, QualityRule
    from storage.staging import Staged


@dataclass
class ConformedWindows:
    """What conforming a staged batch gave: its schema issues, and the rows `keep` left out."""

    issues: list[SchemaIssue]
    dropped: int = 0
    digests: list[str] = field(default_factory=list)


def conform_windows(
    text: Staged,
    contract: Contract,
    out: Staged,
    keep: Callable[[pl.DataFrame], tuple[pl.DataFrame, int, list[str]]],
) -> ConformedWindows:
    """Conform each window of `text` into `out`, passing it through `keep` (the suppression of erased
    subjects: the window kept, rows dropped, digests applied) when no issue blocks the batch.

    Once an issue blocks, the rest of the batch is still conformed, to count what does not fit, but
    nothing more is staged: the source stops.
    """
    issues: list[tuple[int, list[SchemaIssue]]] = []
    result = ConformedWindows(issues=[])
    offset, blocked = 0, False
    for window in text.frames():
        conformed = conform(window, contract)
        issues.append((offset, conformed.issues))
        offset += window.height
        blocked = blocked or any(issue.blocking for issue in conformed.issues)
        if blocked:
            continue
        kept, dropped, digests = keep(conformed.frame)
        result.dropped += dropped
        result.digests.extend(d for d in digests if d not in result.digests)
        out.add(kept)
    result.issues = merge_issues(contract, issues)
    return result


@dataclass
class SplitWindows:
    """The rows set aside (all of them, with the rules each broke) and the count per rule."""

    quarantined: pl.DataFrame
    counts: dict[str, int]


def split_windows(
    conformed: Staged,
    rules: list[QualityRule],
    unexpected: Mapping[str, int | None],
    kept: Staged,
    *,
    memory_limit: int | None = None,
) -> SplitWindows:
    """`quarantine.split` of each window of `conformed`, the rows that go on staged in `kept`.

    The rows set aside are returned in memory: they are the batch's failures, a share of it that a
    contract's ``mostly`` keeps small (a rule failing more rows than that blocks the source instead).
    """
    duplicates = duplicated_values(conformed, rules, unexpected, memory_limit)
    quarantined: list[pl.DataFrame] = []
    counts: dict[str, int] = {}
    offset = 0
    for window in conformed.frames():
        held = split(window, rules, unexpected, offset=offset, duplicates=duplicates)
        offset += window.height
        kept.add(held.kept)
        if held.quarantined.height:
            quarantined.append(held.quarantined)
        for rule, count in held.counts.items():
            counts[rule] = counts.get(rule, 0) + count
    return SplitWindows(pl.concat(quarantined) if quarantined else pl.DataFrame(), counts)


@dataclass
class MaskedWindows:
    """The masking rules applied per column, and the keys' ids, as `masking.MaskResult` says them."""

    applied: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)


def mask_windows(conformed: Staged, contract: Contract, keys: dict[str, bytes], out: Staged) -> MaskedWindows:
    """`masking.mask` of each window of `conformed`, staged in `out`."""
    result = MaskedWindows()
    memo: dict[str, dict[str, str]] = {}  # free text repeats across windows: each note through NER once
    for window in conformed.frames():
        masked = mask(window, contract, keys, memo=memo)
        out.add(masked.frame)
        result.applied, result.key_ids = masked.applied, masked.key_ids
    return result
