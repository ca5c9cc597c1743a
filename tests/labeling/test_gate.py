"""The acceptance gate on constructed batches: verdicts, item decisions, and properties that must hold."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from labeling.gate import Decision, Thresholds, Verdict, decide

Row = tuple[str, str, str]
ANNOTATORS = ("ann", "bob", "cid")


def frame(rows: list[Row]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["item_id", "annotator", "label"], orient="row")


def item(item_id: str, *labels: str) -> list[Row]:
    """One item labeled by the first len(labels) annotators."""
    names = ANNOTATORS if len(labels) <= len(ANNOTATORS) else [f"a{i}" for i in range(len(labels))]
    return [(item_id, who, label) for who, label in zip(names, labels, strict=False)]


def batch(*items: list[Row]) -> pl.DataFrame:
    return frame([row for rows in items for row in rows])


def decisions(result: object) -> dict[str, str]:
    return dict(result.items.select("item_id", "decision").iter_rows())


# --- thresholds -----------------------------------------------------------------------------------


def test_thresholds_defaults_and_bounds() -> None:
    assert Thresholds() == Thresholds(accept=0.8, review=0.667)
    with pytest.raises(ValidationError, match="accept"):
        Thresholds(accept=0.5, review=0.6)
    with pytest.raises(ValidationError):
        Thresholds(accept=1.5)
    with pytest.raises(ValidationError):
        Thresholds(review=-1.1)


def test_overlap_must_be_positive() -> None:
    with pytest.raises(ValueError, match="overlap"):
        decide(batch(item("i1", "x", "x")), overlap=0)


# --- verdicts -------------------------------------------------------------------------------------


def agreed() -> pl.DataFrame:
    """Nine unanimous items over three labels and one 2-1 split: α ≈ 0.90."""
    unanimous = [item(f"u{i}", *[label] * 3) for i, label in enumerate("xyzxyzxyz")]
    return batch(*unanimous, item("split", "x", "x", "y"))


def test_agreed_batch_is_accepted_with_majority_labels() -> None:
    result = decide(agreed(), overlap=3, thresholds=Thresholds())
    assert result.verdict is Verdict.ACCEPT
    assert result.alpha is not None
    assert result.alpha >= 0.8
    assert result.counts() == {"pending": 0, "accepted": 10, "review": 0, "rejected": 0}
    split = result.accepted_labels().filter(pl.col("item_id") == "split").row(0, named=True)
    assert split == {
        "item_id": "split",
        "label": "x",
        "votes": 2,
        "annotations": 3,
        "share": pytest.approx(2 / 3),
    }
    assert result.review_items().is_empty()
    assert result.report.items == 10


def test_accept_verdict_sends_ties_to_review() -> None:
    data = pl.concat([agreed(), batch(item("tie", "x", "y", "z"))])
    result = decide(data, overlap=3, thresholds=Thresholds(accept=0.7, review=0.5))
    assert result.verdict is Verdict.ACCEPT
    assert decisions(result)["tie"] == "review"
    assert result.review_items().rows() == [("tie", ["x", "y", "z"], [1, 1, 1])]


def test_middling_batch_accepts_only_unanimous_items() -> None:
    result = decide(agreed(), overlap=3, thresholds=Thresholds(accept=0.95, review=0.8))
    assert result.verdict is Verdict.REVIEW
    assert decisions(result)["split"] == "review"
    assert result.counts()["accepted"] == 9
    assert result.review_items().rows() == [("split", ["x", "y"], [2, 1])]
    assert "only unanimous items accepted" in result.notes[0]


def disagreed() -> pl.DataFrame:
    return batch(
        item("i1", "x", "y", "x"),
        item("i2", "y", "x", "z"),
        item("i3", "z", "z", "x"),
        item("i4", "x", "y", "y"),
    )


def test_disagreeing_batch_is_rejected_whatever_the_majorities() -> None:
    result = decide(disagreed(), overlap=3, thresholds=Thresholds())
    assert result.verdict is Verdict.REJECT
    assert result.alpha is not None
    assert result.alpha < 0.667
    assert set(decisions(result).values()) == {"rejected"}
    assert result.accepted_labels().is_empty()
    assert result.review_items().is_empty()


def test_items_below_overlap_are_pending_and_left_out_of_alpha() -> None:
    data = pl.concat([agreed(), batch(item("new", "z"), item("half", "x", "y"))])
    result = decide(data, overlap=3, thresholds=Thresholds())
    assert decisions(result)["new"] == decisions(result)["half"] == "pending"
    assert result.alpha == decide(agreed(), overlap=3).alpha
    assert result.report.items == 10
    assert result.items.filter(pl.col("item_id") == "half")["candidates"].to_list() == [["x", "y"]]


def test_pending_items_stay_pending_under_a_reject_verdict() -> None:
    result = decide(pl.concat([disagreed(), batch(item("new", "x"))]), overlap=3)
    assert result.verdict is Verdict.REJECT
    assert decisions(result)["new"] == "pending"


def test_everyone_always_the_same_label_is_accepted_with_a_note() -> None:
    result = decide(batch(item("i1", "x", "x"), item("i2", "x", "x")), overlap=2)
    assert result.alpha is None
    assert result.verdict is Verdict.ACCEPT
    assert "observed disagreement is zero" in result.notes[0]
    assert result.accepted_labels()["label"].to_list() == ["x", "x"]


def test_no_complete_items_is_insufficient() -> None:
    result = decide(batch(item("i1", "x"), item("i2", "x", "y")), overlap=3)
    assert result.verdict is Verdict.INSUFFICIENT
    assert result.counts() == {"pending": 2, "accepted": 0, "review": 0, "rejected": 0}
    assert "no complete items" in result.notes[0]


def test_nothing_to_compare_is_insufficient() -> None:
    result = decide(batch(item("i1", "x"), item("i2", "y")), overlap=1)
    assert result.verdict is Verdict.INSUFFICIENT
    assert "no complete item has two or more annotations" in result.notes[0]
    assert set(decisions(result).values()) == {"rejected"}


def test_items_frame_in_input_order_with_candidates_by_votes() -> None:
    data = batch(item("b", "y", "x", "x"), item("a", "z", "z", "z"))
    result = decide(data, overlap=3, thresholds=Thresholds(accept=-1, review=-1))
    assert result.items.columns == [
        "item_id",
        "annotations",
        "candidates",
        "votes",
        "top_label",
        "top_votes",
        "share",
        "decision",
    ]
    assert result.items.select("item_id", "candidates", "votes", "top_label").rows() == [
        ("b", ["x", "y"], [2, 1], "x"),
        ("a", ["z"], [3], "z"),
    ]


def test_ordinal_gate_votes_on_numeric_labels() -> None:
    data = batch(
        *[item(f"i{i}", *[str(v)] * 3) for i, v in enumerate([1, 2, 3, 4, 5] * 2)], item("s", "2", "2.0", "3")
    )
    result = decide(data, overlap=3, level="ordinal")
    assert result.verdict is Verdict.ACCEPT
    assert result.accepted_labels().filter(pl.col("item_id") == "s")["label"].to_list() == ["2"]


# --- properties -----------------------------------------------------------------------------------


@st.composite
def batches(draw: st.DrawFn) -> list[Row]:
    annotators = [f"a{i}" for i in range(draw(st.integers(1, 5)))]
    rows: list[Row] = []
    for n in range(draw(st.integers(1, 15))):
        for who in draw(st.lists(st.sampled_from(annotators), min_size=1, unique=True)):
            rows.append((f"item{n}", who, draw(st.sampled_from("xyz"))))
    return rows


thresholds = st.tuples(st.floats(-1, 1), st.floats(-1, 1)).map(
    lambda t: Thresholds(accept=max(t), review=min(t))
)


@settings(max_examples=100, deadline=None)
@given(batches(), st.integers(1, 4), thresholds)
def test_decisions_partition_the_items_and_follow_the_verdict(
    rows: list[Row], overlap: int, limits: Thresholds
) -> None:
    result = decide(frame(rows), overlap=overlap, thresholds=limits)
    items = result.items
    assert items["item_id"].to_list() == list(dict.fromkeys(r[0] for r in rows))
    assert sum(result.counts().values()) == items.height
    assert set(items["decision"]) <= {d.value for d in Decision}
    assert (items.filter(pl.col("decision") == "pending")["annotations"] < overlap).all()
    assert (items.filter(pl.col("decision") != "pending")["annotations"] >= overlap).all()
    accepted = result.accepted_labels()
    assert ((accepted["votes"] * 2) > accepted["annotations"]).all()
    if result.verdict is Verdict.REVIEW:
        assert (accepted["votes"] == accepted["annotations"]).all()
    if result.verdict in (Verdict.REJECT, Verdict.INSUFFICIENT):
        assert accepted.is_empty()
    assert (
        accepted.height + result.review_items().height
        == result.counts()["accepted"] + result.counts()["review"]
    )


@settings(max_examples=60, deadline=None)
@given(batches(), st.integers(1, 3))
def test_accepting_everything_still_needs_a_strict_majority(rows: list[Row], overlap: int) -> None:
    result = decide(frame(rows), overlap=overlap, thresholds=Thresholds(accept=-1, review=-1))
    if result.verdict is Verdict.ACCEPT:
        complete = result.items.filter(pl.col("annotations") >= overlap)
        majority = complete.filter(pl.col("top_votes") * 2 > pl.col("annotations"))
        assert sorted(result.accepted_labels()["item_id"]) == sorted(majority["item_id"])
