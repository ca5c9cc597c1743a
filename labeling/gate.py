"""The acceptance gate: which labels of a batch to trust, which to send to review, which to drop.

Pure: annotations in, decisions out. The batch is judged first, by Krippendorff's α over its complete
items; the batch verdict then sets how strict the vote on each item is. An unreliable batch is not
rescued by majorities on single items, because a majority of unreliable annotators is still unreliable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Self

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from labeling.agreement import AgreementReport, Level, agreement, normalize_annotations


class Thresholds(BaseModel):
    """α bounds of the verdicts; defaults are Krippendorff's (0.800 reliable, 0.667 tentative)."""

    model_config = ConfigDict(frozen=True)

    accept: float = Field(0.8, ge=-1, le=1)
    review: float = Field(0.667, ge=-1, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.accept < self.review:
            raise ValueError(f"accept ({self.accept}) must be at least review ({self.review})")
        return self


class Verdict(StrEnum):
    ACCEPT = "accept"
    REVIEW = "review"
    REJECT = "reject"
    INSUFFICIENT = "insufficient"


class Decision(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REVIEW = "review"
    REJECTED = "rejected"


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict on a batch and its decision on every item.

    ``items`` has one row per item, in input order: ``item_id``, ``annotations``, ``candidates`` (labels,
    most votes first, ties in label order), ``votes`` (aligned with candidates), ``top_label``,
    ``top_votes``, ``share`` (top_votes / annotations) and ``decision``. ``report`` is the agreement of
    the complete items, the ones the verdict is based on.
    """

    verdict: Verdict
    alpha: float | None
    thresholds: Thresholds
    overlap: int
    items: pl.DataFrame
    report: AgreementReport
    notes: list[str] = field(default_factory=list)

    def accepted_labels(self) -> pl.DataFrame:
        """Labels to trust: ``item_id, label, votes, annotations, share``."""
        return self._with(Decision.ACCEPTED).select(
            "item_id",
            pl.col("top_label").alias("label"),
            pl.col("top_votes").alias("votes"),
            "annotations",
            "share",
        )

    def review_items(self) -> pl.DataFrame:
        """Items for a reviewer to settle: ``item_id, candidates, votes``."""
        return self._with(Decision.REVIEW).select("item_id", "candidates", "votes")

    def counts(self) -> dict[str, int]:
        """Number of items per decision, every decision listed."""
        found = dict(self.items.group_by("decision").len().iter_rows())
        return {d.value: found.get(d.value, 0) for d in Decision}

    def _with(self, decision: Decision) -> pl.DataFrame:
        return self.items.filter(pl.col("decision") == decision.value)


def decide(
    annotations: pl.DataFrame,
    *,
    overlap: int,
    thresholds: Thresholds | None = None,
    level: Level = "nominal",
) -> GateResult:
    """Judge a batch of annotations, then each item.

    An item is complete when it has at least ``overlap`` annotations; items with fewer are ``pending``
    whatever the verdict, and are left out of α. The verdict comes from α over the complete items:

    - ``accept`` when α ≥ ``thresholds.accept``, and also when α is undefined because every paired
      annotation carries the same label (observed disagreement is zero; a note says so);
    - ``review`` when ``thresholds.review`` ≤ α < ``thresholds.accept``;
    - ``reject`` when α < ``thresholds.review``;
    - ``insufficient`` when α cannot be computed for lack of data (no complete items, or none with two
      annotations to compare).

    Complete items are then decided by the verdict: under ``accept`` an item whose top label holds a
    strict majority (more than half its votes) is ``accepted`` with that label and the rest (ties, no
    majority) go to ``review``; under ``review`` only unanimous items are ``accepted`` and any
    disagreement goes to ``review``; under ``reject`` and ``insufficient`` nothing is accepted and
    complete items are ``rejected``.
    """
    if overlap < 1:
        raise ValueError(f"overlap must be at least 1, got {overlap}")
    thresholds = thresholds or Thresholds()
    df = normalize_annotations(annotations, level)
    votes = _votes(df)
    complete = votes.filter(pl.col("annotations") >= overlap)["item_id"]
    report = agreement(df.filter(pl.col("item_id").is_in(complete.implode())).select(*_COLUMNS), level)
    verdict, notes = _verdict(report, thresholds, complete.len())
    items = votes.with_columns(decision=_decision(verdict, overlap))
    return GateResult(verdict, report.krippendorff_alpha, thresholds, overlap, items, report, notes)


_COLUMNS = ("item_id", "annotator", "label")
_UNDEFINED = {
    "no_pairs": "no complete item has two or more annotations to compare",
    "undefined": "the annotations give no usable estimate",
}


def _votes(df: pl.DataFrame) -> pl.DataFrame:
    """One row per item (input order): candidates by votes, then label order; the top label's share."""
    order = df.select("item_id").unique(maintain_order=True).with_row_index("_pos")
    return (
        df.group_by("item_id", "code")
        .agg(pl.col("label").first(), votes=pl.len().cast(pl.Int64))
        .join(order, on="item_id")
        .sort("_pos", "votes", "code", descending=[False, True, False])
        .group_by("_pos", maintain_order=True)
        .agg(pl.col("item_id").first(), candidates=pl.col("label"), votes=pl.col("votes"))
        .with_columns(annotations=pl.col("votes").list.sum())
        .with_columns(
            top_label=pl.col("candidates").list.first(),
            top_votes=pl.col("votes").list.first(),
        )
        .with_columns(share=pl.col("top_votes") / pl.col("annotations"))
        .select("item_id", "annotations", "candidates", "votes", "top_label", "top_votes", "share")
    )


def _verdict(report: AgreementReport, thresholds: Thresholds, complete: int) -> tuple[Verdict, list[str]]:
    alpha = report.krippendorff_alpha
    if complete == 0:
        return Verdict.INSUFFICIENT, ["no complete items yet: nothing to judge"]
    if alpha is None:
        if report.alpha_undefined == "no_variation":
            return Verdict.ACCEPT, [
                "α undefined because every annotation of the complete items is the same label; "
                "observed disagreement is zero, so the batch is accepted"
            ]
        why = _UNDEFINED.get(report.alpha_undefined or "undefined", _UNDEFINED["undefined"])
        return Verdict.INSUFFICIENT, [f"α cannot be computed: {why}; nothing accepted"]
    if alpha >= thresholds.accept:
        return Verdict.ACCEPT, [
            f"α = {alpha:.3f} ≥ {thresholds.accept}: items with a strict majority accepted"
        ]
    if alpha >= thresholds.review:
        return Verdict.REVIEW, [
            f"α = {alpha:.3f} is between {thresholds.review} and {thresholds.accept}: "
            "only unanimous items accepted, every disagreement goes to review"
        ]
    return Verdict.REJECT, [f"α = {alpha:.3f} < {thresholds.review}: nothing accepted"]


def _decision(verdict: Verdict, overlap: int) -> pl.Expr:
    """The per-item rule for a verdict, as one expression over the ``_votes`` frame."""
    if verdict is Verdict.ACCEPT:
        trusted = pl.col("top_votes") * 2 > pl.col("annotations")
    elif verdict is Verdict.REVIEW:
        trusted = pl.col("top_votes") == pl.col("annotations")
    else:
        trusted = None
    judged = (
        pl.when(trusted).then(pl.lit(Decision.ACCEPTED.value)).otherwise(pl.lit(Decision.REVIEW.value))
        if trusted is not None
        else pl.lit(Decision.REJECTED.value)
    )
    return pl.when(pl.col("annotations") < overlap).then(pl.lit(Decision.PENDING.value)).otherwise(judged)
