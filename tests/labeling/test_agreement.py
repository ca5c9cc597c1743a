"""Agreement statistics against published worked examples, degenerate batches and bad input files."""

from __future__ import annotations

import json
import math
import warnings
from typing import TYPE_CHECKING

import krippendorff
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from labeling.agreement import (
    AgreementReport,
    agreement,
    alpha_band,
    gold_accuracy,
    kappa_band,
    load_annotations,
    normalize_annotations,
    reliability_matrix,
)
from labeling.errors import AnnotationsError

if TYPE_CHECKING:
    from pathlib import Path

Row = tuple[str, str, str]


def frame(rows: list[Row]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["item_id", "annotator", "label"], orient="row")


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers × 12 units,
# nominal/ordinal/interval/ratio values 1..5 with missing values (None).
KRIPPENDORFF_2011: dict[str, list[int | None]] = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}

# Fleiss (1971) as given on Wikipedia ("Fleiss' kappa", worked example): 10 items, 14 raters each,
# counts of raters per category 1..5.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def krippendorff_rows() -> list[Row]:
    return [
        (f"unit{unit + 1:02d}", observer, str(value))
        for observer, values in KRIPPENDORFF_2011.items()
        for unit, value in enumerate(values)
        if value is not None
    ]


def fleiss_rows() -> list[Row]:
    rows: list[Row] = []
    for item, counts in enumerate(FLEISS_TABLE):
        labels = [str(category + 1) for category, n in enumerate(counts) for _ in range(n)]
        rows += [(f"item{item}", f"rater{r}", label) for r, label in enumerate(labels)]
    return rows


def cohen_rows() -> list[Row]:
    """Wikipedia's Cohen's κ example: 50 proposals, A and B both yes on 20, both no on 15, A yes B no
    on 5, A no B yes on 10: p_o = 0.7, p_e = 0.5, κ = 0.4."""
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    return [row for i, (a, b) in enumerate(pairs) for row in ((f"p{i}", "A", a), (f"p{i}", "B", b))]


# --- published examples ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "expected"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_2011_example(level: str, expected: float) -> None:
    report = agreement(frame(krippendorff_rows()), level)
    assert round(report.krippendorff_alpha or math.nan, 3) == expected
    assert (report.items, report.annotators, report.annotations, report.paired_items) == (12, 4, 41, 11)
    assert any("1 item(s) have a single annotation" in note for note in report.notes)


def test_krippendorff_example_matches_the_package_on_the_published_matrix() -> None:
    published = np.array([[np.nan if v is None else v for v in vs] for vs in KRIPPENDORFF_2011.values()])
    expected = krippendorff.alpha(reliability_data=published, level_of_measurement="interval")
    assert agreement(frame(krippendorff_rows()), "interval").krippendorff_alpha == pytest.approx(expected)


def test_fleiss_1971_example() -> None:
    report = agreement(frame(fleiss_rows()))
    assert round(report.fleiss_kappa or math.nan, 3) == 0.210
    assert report.cohen_kappa is None
    assert "Cohen's κ needs exactly two annotators (found 14)" in report.notes


def test_cohen_wikipedia_example() -> None:
    report = agreement(frame(cohen_rows()))
    assert round(report.cohen_kappa or math.nan, 3) == 0.400
    assert report.per_annotator["A"].cohen_kappa == {"B": pytest.approx(0.4)}
    assert report.per_annotator["A"].agreement == pytest.approx(0.7)  # p_o
    assert report.fleiss_kappa is not None  # two annotations on every item


def test_fleiss_is_none_when_items_have_different_numbers_of_annotations() -> None:
    report = agreement(frame(krippendorff_rows()))
    assert report.fleiss_kappa is None
    assert "Fleiss' κ needs the same number of annotations on every item (found 1 to 4)" in report.notes


@pytest.mark.parametrize(("level", "weights"), [("ordinal", "linear"), ("interval", "quadratic")])
def test_cohen_is_weighted_for_ordered_levels(level: str, weights: str) -> None:
    a, b = [1, 2, 3, 4, 5, 3, 2, 1], [1, 3, 3, 5, 4, 2, 2, 2]
    rows = [(f"i{i}", "A", str(x)) for i, x in enumerate(a)] + [
        (f"i{i}", "B", str(y)) for i, y in enumerate(b)
    ]
    expected = cohen_kappa_score(a, b, weights=weights)
    assert agreement(frame(rows), level).cohen_kappa == pytest.approx(expected)
    assert agreement(frame(rows)).cohen_kappa == pytest.approx(cohen_kappa_score(a, b))


def test_cohen_uses_only_the_items_both_annotators_labeled() -> None:
    rows = [*cohen_rows(), ("extra1", "A", "yes"), ("extra2", "B", "no")]
    assert round(agreement(frame(rows)).cohen_kappa or math.nan, 3) == 0.400


# --- per annotator, per label ---------------------------------------------------------------------


def small_batch() -> pl.DataFrame:
    return frame(
        [
            ("i1", "ann", "cat"),
            ("i1", "bob", "cat"),
            ("i1", "cid", "dog"),
            ("i2", "ann", "dog"),
            ("i2", "bob", "dog"),
            ("i3", "ann", "cat"),
            ("i3", "cid", "cat"),
            ("i4", "bob", "bird"),
        ]
    )


def test_per_annotator_pairwise_agreement_and_kappa() -> None:
    report = agreement(small_batch())
    ann, bob, cid = (report.per_annotator[n] for n in ("ann", "bob", "cid"))
    # ann pairs: i1 with bob (=) and cid (≠), i2 with bob (=), i3 with cid (=) → 3 of 4.
    assert (ann.items, ann.paired_items, ann.agreement) == (3, 3, 0.75)
    # bob pairs: i1 ann (=), cid (≠); i2 ann (=); i4 alone → 2 of 3.
    assert (bob.items, bob.paired_items) == (3, 2)
    assert bob.agreement == pytest.approx(2 / 3)
    assert cid.agreement == pytest.approx(1 / 3)  # i1 against two cats (≠, ≠), i3 (=)
    # κ only where two annotators share ≥2 items: ann-bob (i1, i2), ann-cid (i1, i3); bob-cid share one.
    assert set(ann.cohen_kappa) == {"bob", "cid"}
    assert ann.cohen_kappa["bob"] == pytest.approx(1.0)
    assert bob.cohen_kappa == {"ann": pytest.approx(1.0)}


def test_per_annotator_with_no_shared_item_has_no_agreement() -> None:
    report = agreement(frame([("i1", "a", "x"), ("i2", "b", "y")]))
    assert report.per_annotator["a"].agreement is None
    assert report.per_annotator["a"].cohen_kappa == {}


def test_per_label_counts_majorities_and_specific_agreement() -> None:
    report = agreement(small_batch())
    assert list(report.per_label) == ["bird", "cat", "dog"]
    cat, dog, bird = (report.per_label[n] for n in ("cat", "dog", "bird"))
    # cat: i1 n=2 of 3, i3 n=2 of 2 → agree 2+2, pairs 2*2+2*1 = 6.
    assert (cat.annotations, cat.majority_items) == (4, 2)
    assert cat.specific_agreement == pytest.approx(4 / 6)
    # dog: i1 n=1 of 3 → 0 of 2, i2 n=2 of 2 → 2 of 2.
    assert (dog.annotations, dog.majority_items) == (3, 1)
    assert dog.specific_agreement == pytest.approx(2 / 4)
    # bird: only on a single-annotation item: never paired.
    assert (bird.annotations, bird.majority_items, bird.specific_agreement) == (1, 1, None)


def test_reliability_matrix_is_annotators_by_items_with_nan_for_missing() -> None:
    matrix, annotators, items = reliability_matrix(normalize_annotations(small_batch()))
    assert matrix.shape == (3, 4)
    assert annotators == ["ann", "bob", "cid"]
    assert items == ["i1", "i2", "i3", "i4"]
    assert np.isnan(matrix).sum() == 12 - 8


def test_report_is_json_serialisable() -> None:
    dumped = json.loads(agreement(small_batch()).model_dump_json())
    assert AgreementReport.model_validate(dumped) == agreement(small_batch())


# --- levels and labels ----------------------------------------------------------------------------


def test_numeric_levels_need_numeric_labels() -> None:
    rows = [("i1", "a", "3"), ("i1", "b", "high"), ("i2", "a", "nan")]
    with pytest.raises(AnnotationsError) as caught:
        agreement(frame(rows), "ordinal")
    assert str(caught.value).splitlines() == [
        "annotations: row 2: label 'high' is not a number (level ordinal needs numeric labels)",
        "annotations: row 3: label 'nan' is not a number (level ordinal needs numeric labels)",
    ]
    assert agreement(frame(rows)).per_label.keys() == {"3", "high", "nan"}  # fine as nominal


def test_numeric_labels_are_one_label_however_written() -> None:
    rows = [("i1", "a", "3"), ("i1", "b", "3.0"), ("i2", "a", " 2 "), ("i2", "b", "2.5")]
    report = agreement(frame(rows), "interval")
    assert list(report.per_label) == ["2", "2.5", "3"]
    assert report.per_label["3"].specific_agreement == 1.0


def test_unknown_level_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown level 'categorical'"):
        agreement(small_batch(), "categorical")


# --- degenerate batches ---------------------------------------------------------------------------


def test_one_item_with_one_label_everywhere_gives_none_with_notes() -> None:
    report = agreement(frame([("i1", "a", "x"), ("i1", "b", "x"), ("i1", "c", "x")]))
    assert report.krippendorff_alpha is None
    assert report.alpha_undefined == "no_variation"
    assert report.fleiss_kappa is None
    assert any("every paired annotation is 'x'" in n for n in report.notes)
    assert "Fleiss' κ undefined: a single label on every item" in report.notes


def test_one_annotator_has_nothing_to_compare() -> None:
    report = agreement(frame([("i1", "a", "x"), ("i2", "a", "y"), ("i3", "a", "x")]))
    assert (report.krippendorff_alpha, report.fleiss_kappa, report.cohen_kappa) == (None, None, None)
    assert report.alpha_undefined == "no_pairs"
    assert report.annotators == 1
    assert "Fleiss' κ needs two or more annotations per item" in report.notes
    assert report.per_annotator["a"].agreement is None


def test_two_annotators_always_the_same_single_label() -> None:
    rows = [(f"i{i}", who, "x") for i in range(5) for who in ("a", "b")]
    report = agreement(frame(rows))
    assert (report.krippendorff_alpha, report.fleiss_kappa, report.cohen_kappa) == (None, None, None)
    assert "Cohen's κ undefined: the two annotators used a single label on their shared items" in report.notes
    assert report.per_annotator["a"].agreement == 1.0
    assert report.per_annotator["a"].cohen_kappa == {"b": None}


def test_two_annotators_sharing_one_item_have_no_cohen_kappa() -> None:
    report = agreement(frame([("i1", "a", "x"), ("i1", "b", "y"), ("i2", "a", "x")]))
    assert report.cohen_kappa is None
    assert "Cohen's κ undefined: the two annotators share fewer than 2 items" in report.notes


def test_empty_annotations() -> None:
    report = agreement(frame([]))
    assert (report.items, report.krippendorff_alpha, report.notes) == (0, None, ["no annotations"])


def test_no_nan_anywhere_in_degenerate_reports() -> None:
    for rows in (
        [("i1", "a", "x")],
        [("i1", "a", "x"), ("i1", "b", "x")],
        [("i1", "a", "x"), ("i1", "b", "y")],
    ):
        dumped = agreement(frame(rows)).model_dump_json()
        assert "NaN" not in dumped
        assert "Infinity" not in dumped


# --- frames with mistakes -------------------------------------------------------------------------


def test_duplicate_annotation_is_an_error_naming_the_rows() -> None:
    rows = [("i1", "a", "x"), ("i1", "b", "x"), ("i1", "a", "y")]
    with pytest.raises(
        AnnotationsError, match=r"^annotations: rows 1, 3: annotator 'a' labeled item 'i1' 2 times"
    ):
        agreement(frame(rows))


def test_missing_column_names_the_columns_found() -> None:
    with pytest.raises(AnnotationsError) as caught:
        agreement(pl.DataFrame({"item": ["i1"], "annotator": ["a"], "value": ["x"]}))
    assert str(caught.value) == "annotations: missing column(s) item_id, label; found: item, annotator, value"


# --- files ----------------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_load_csv_ignores_extra_columns_strips_whitespace_and_skips_blank_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "annotations.csv",
        "item_id,annotator,label,lead_time\n i1 ,ann, cat ,3\n\ni1,bob,007,4\n",
    )
    loaded = load_annotations(path)
    assert loaded.columns == ["item_id", "annotator", "label"]
    assert loaded.rows() == [("i1", "ann", "cat"), ("i1", "bob", "007")]


def test_load_tsv(tmp_path: Path) -> None:
    path = write(tmp_path / "a.tsv", "item_id\tannotator\tlabel\ni1\tann\tcat, tabby\n")
    assert load_annotations(path).rows() == [("i1", "ann", "cat, tabby")]


def test_load_json_array_and_ndjson_agree(tmp_path: Path) -> None:
    records = [
        {"item_id": 1, "annotator": "ann", "label": "cat", "extra": {"x": 1}},
        {"item_id": 1, "annotator": "bob", "label": 2.5},
        {"item_id": 2, "annotator": "ann", "label": True},
    ]
    array = write(tmp_path / "a.json", json.dumps(records, indent=2))
    ndjson = write(tmp_path / "a.ndjson", "\n".join(json.dumps(r) for r in records) + "\n\n")
    sniffed = write(tmp_path / "b.json", "\n".join(json.dumps(r) for r in records))
    expected = [("1", "ann", "cat"), ("1", "bob", "2.5"), ("2", "ann", "true")]
    for path in (array, ndjson, sniffed):
        assert load_annotations(path).rows() == expected


def test_csv_empty_label_names_file_and_spreadsheet_row(tmp_path: Path) -> None:
    lines = ["item_id,annotator,label"] + [f"i{i},a,x" for i in range(5)] + ["i9,a,", "i10,,y"]
    path = write(tmp_path / "annotations.csv", "\n".join(lines) + "\n")
    with pytest.raises(AnnotationsError) as caught:
        load_annotations(path)
    assert str(caught.value).splitlines() == [
        f"{path}: row 7: empty label",
        f"{path}: row 8: empty annotator",
    ]


def test_csv_missing_column_names_the_columns_found(tmp_path: Path) -> None:
    path = write(tmp_path / "annotations.csv", "item,annotator,label\ni1,a,x\n")
    with pytest.raises(AnnotationsError, match=r"missing column\(s\) item_id; found: item, annotator, label"):
        load_annotations(path)


def test_csv_duplicate_names_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "annotations.csv", "item_id,annotator,label\ni1,a,x\ni2,a,x\ni1,a,y\n")
    with pytest.raises(AnnotationsError) as caught:
        load_annotations(path)
    assert str(caught.value) == (
        f"{path}: rows 2, 4: annotator 'a' labeled item 'i1' 2 times; an annotator gives one label per item"
    )


def test_csv_non_numeric_label_at_a_numeric_level(tmp_path: Path) -> None:
    path = write(tmp_path / "annotations.csv", "item_id,annotator,label\ni1,a,1\ni1,b,two\n")
    with pytest.raises(AnnotationsError, match=r"row 3: label 'two' is not a number \(level interval"):
        load_annotations(path, level="interval")


def test_ndjson_errors_name_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.ndjson", '{"item_id": "i1", "annotator": "a", "label": "x"}\n\n{"item_id": "i2",\n'
    )
    with pytest.raises(AnnotationsError, match=r"a\.ndjson: line 3: not valid JSON"):
        load_annotations(path)
    path = write(
        tmp_path / "b.ndjson", '{"item_id": "i1", "annotator": "a", "label": "x"}\n\n{"item_id": "i2"}\n'
    )
    with pytest.raises(AnnotationsError, match=r"b\.ndjson: line 3: empty annotator, label$"):
        load_annotations(path)


def test_json_field_errors_name_the_row_and_field(tmp_path: Path) -> None:
    records = [{"item_id": "i1", "annotator": "a", "label": ["x"]}, "oops"]
    path = write(tmp_path / "a.json", json.dumps(records))
    with pytest.raises(AnnotationsError) as caught:
        load_annotations(path)
    assert str(caught.value).splitlines() == [
        f"{path}: row 1: label must be a string or a number, got an array",
        f"{path}: row 2: expected an object, got str",
    ]


def test_json_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path / "a.json", json.dumps([{"item": "i1", "annotator": "a", "label": "x"}]))
    with pytest.raises(AnnotationsError, match=r"missing column\(s\) item_id; found: item, annotator, label"):
        load_annotations(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.xlsx", "x", "unknown file type '.xlsx'"),
        ("a.csv", "", "empty file"),
        ("a.json", '[{"item_id": 1,', "line 1: not valid JSON"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    with pytest.raises(AnnotationsError, match=message):
        load_annotations(write(tmp_path / name, content))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AnnotationsError, match="no such file"):
        load_annotations(tmp_path / "nope.csv")


def test_non_utf8_json(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes('[{"label": "é"}]'.encode("latin-1"))
    with pytest.raises(AnnotationsError, match="not UTF-8 text"):
        load_annotations(path)


def test_many_problems_are_counted_beyond_the_first_twenty(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "item_id,annotator,label\n" + "".join(f"i{i},a,\n" for i in range(25)))
    with pytest.raises(AnnotationsError) as caught:
        load_annotations(path)
    assert len(caught.value.problems) == 25
    assert str(caught.value).splitlines()[-1] == "... and 5 more problem(s)"


# --- gold items -----------------------------------------------------------------------------------


def test_gold_accuracy() -> None:
    gold = {"i1": "cat", "i2": "dog", "i9": "bird"}
    scores = gold_accuracy(small_batch(), gold)
    assert scores["ann"].model_dump() == {"items": 2, "correct": 2, "accuracy": 1.0}
    assert scores["bob"].model_dump() == {"items": 2, "correct": 2, "accuracy": 1.0}
    assert scores["cid"].model_dump() == {"items": 1, "correct": 0, "accuracy": 0.0}


def test_gold_accuracy_without_gold_items_is_none_and_numeric_gold_matches_by_value() -> None:
    rows = [("i1", "a", "3.0"), ("i2", "a", "2"), ("i3", "b", "1")]
    scores = gold_accuracy(frame(rows), {"i1": "3", "i2": "2.5"}, level="ordinal")
    assert scores["a"].model_dump() == {"items": 2, "correct": 1, "accuracy": 0.5}
    assert scores["b"].model_dump() == {"items": 0, "correct": 0, "accuracy": None}


def test_bands() -> None:
    assert [alpha_band(a) for a in (None, 0.9, 0.7, 0.1)] == [
        "undefined",
        "reliable",
        "tentative",
        "unreliable",
    ]
    assert [kappa_band(k) for k in (0.9, 0.7, 0.5, 0.3, 0.1, -0.2)] == [
        "almost perfect",
        "substantial",
        "moderate",
        "fair",
        "slight",
        "poor",
    ]


# --- properties -----------------------------------------------------------------------------------

LABELS = ["a", "b", "c", "d"]


@st.composite
def annotation_rows(draw: st.DrawFn, labels: list[str] = LABELS) -> list[Row]:
    """Up to 15 items, each labeled by a random subset of up to 6 annotators."""
    annotators = [f"ann{i}" for i in range(draw(st.integers(1, 6)))]
    rows: list[Row] = []
    for item in range(draw(st.integers(1, 15))):
        for who in draw(st.lists(st.sampled_from(annotators), min_size=1, unique=True)):
            rows.append((f"item{item}", who, draw(st.sampled_from(labels))))
    return rows


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_alpha_is_one_when_everyone_agrees_on_every_item(data: st.DataObject) -> None:
    truth = data.draw(
        st.lists(st.sampled_from(LABELS), min_size=2, max_size=12).filter(lambda t: len(set(t)) > 1)
    )
    n = data.draw(st.integers(2, 5))
    rows = [(f"item{i}", f"ann{j}", label) for i, label in enumerate(truth) for j in range(n)]
    report = agreement(frame(rows))
    assert report.krippendorff_alpha == pytest.approx(1.0)
    assert report.fleiss_kappa == pytest.approx(1.0)
    assert all(stats.agreement == 1.0 for stats in report.per_annotator.values())


@settings(max_examples=60, deadline=None)
@given(annotation_rows(), st.randoms(use_true_random=False))
def test_renaming_annotators_and_reordering_rows_does_not_change_the_statistics(
    rows: list[Row], rnd: object
) -> None:
    names = sorted({who for _, who, _ in rows})
    shuffled = names.copy()
    rnd.shuffle(shuffled)
    renamed = [(item, "x" + shuffled[names.index(who)], label) for item, who, label in rows]
    rnd.shuffle(renamed)
    before, after = agreement(frame(rows)), agreement(frame(renamed))
    for measure in ("krippendorff_alpha", "fleiss_kappa", "cohen_kappa"):
        a, b = getattr(before, measure), getattr(after, measure)
        assert (a is None) == (b is None)
        assert a is None or a == pytest.approx(b)
    assert before.per_label == after.per_label


@settings(max_examples=60, deadline=None)
@given(annotation_rows())
def test_alpha_matches_the_package_on_the_full_matrix(rows: list[Row]) -> None:
    report = agreement(frame(rows))
    matrix, _, _ = reliability_matrix(normalize_annotations(frame(rows)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 0/0 when every paired value is the same
            expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    except ValueError:  # the package refuses: no pairs, or a single value
        expected = math.nan
    if report.krippendorff_alpha is None:  # undefined here exactly when the package has no number either
        assert math.isnan(expected)
    else:
        assert report.krippendorff_alpha == pytest.approx(expected)
    assert sum(s.annotations for s in report.per_label.values()) == len(rows)
    assert sum(s.items for s in report.per_annotator.values()) == len(rows)


@settings(max_examples=40, deadline=None)
@given(annotation_rows(labels=["1", "2", "3", "4", "5"]))
def test_csv_round_trip(rows: list[Row]) -> None:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.csv"
        frame(rows).write_csv(path)
        assert load_annotations(path, level="ordinal").rows() == rows
