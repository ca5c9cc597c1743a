"""Inter-annotator agreement: how far the labels of several annotators can be trusted.

Annotations are long-form rows ``item_id, annotator, label``: any annotator may label any subset of the
items, so an item can carry one, two or many labels. The headline measure is Krippendorff's α (it handles
missing labels and a varying number of annotators per item, and has levels of measurement); Fleiss' κ and
Cohen's κ are reported where their assumptions hold, and None (with a note saying why) where they do not.

Conventions, chosen so the numbers mean one thing each:

- An annotator gives one label per item: a second label for the same item is an input error, not an
  update (which of the two is right is not ours to guess).
- Item ids, annotators and labels are compared as text with surrounding whitespace removed. For the
  ``ordinal``, ``interval`` and ``ratio`` levels labels must be numbers, and ``3`` and ``3.0`` are the same
  label (written ``3``).
- Items with a single annotation count in ``items`` but carry no pairing information: α, κ and the
  agreement shares are computed from items with two or more annotations.
- Undefined statistics (no pairs, a single label everywhere) are None, never NaN; ``notes`` says why.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import krippendorff
import numpy as np
import polars as pl
from pydantic import BaseModel
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from labeling.errors import AnnotationsError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from numpy.typing import NDArray

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[str, ...] = get_args(Level)
COLUMNS = ("item_id", "annotator", "label")
AlphaUndefined = Literal["no_pairs", "no_variation", "undefined"]

# Cohen's κ weights by level: disagreeing by one step on an ordinal scale is not as bad as by four.
# sklearn weighs by the distance between the labels' ranks, which is their numeric distance on an
# evenly spaced scale (1..5); on an uneven interval scale it is an approximation.
KAPPA_WEIGHTS: dict[str, Literal["linear", "quadratic"] | None] = {
    "nominal": None,
    "ordinal": "linear",
    "interval": "quadratic",
    "ratio": "quadratic",
}
MIN_SHARED_FOR_KAPPA = 2
_CSV_SEPARATORS = {".csv": ",", ".tsv": "\t"}
_JSON_SUFFIXES = {".json", ".ndjson", ".jsonl"}


class AnnotatorStats(BaseModel):
    """One annotator against the others.

    ``agreement`` is pairwise observed agreement: of all pairings of this annotator's labels with another
    annotator's label on the same item, the share that are equal (None when it shares no item). It is the
    per-annotator share of the observed agreement α builds on, and has no ties to break, unlike
    agreement with a majority. ``cohen_kappa`` holds κ with each other annotator sharing at least two
    items (None when κ is undefined there, e.g. both used a single label).
    """

    items: int
    paired_items: int
    agreement: float | None
    cohen_kappa: dict[str, float | None]


class LabelStats(BaseModel):
    """One label: how often it is used and how reliably annotators agree on it.

    ``majority_items`` counts items where more than half of the annotations carry this label.
    ``specific_agreement`` is, over all pairings of annotations on the same item where one of the two is
    this label, the share where the other is this label too (None when the label is never paired).
    """

    annotations: int
    majority_items: int
    specific_agreement: float | None


class AgreementReport(BaseModel):
    """Agreement of a set of annotations; JSON-serialisable (``model_dump(mode="json")``)."""

    level: Level
    krippendorff_alpha: float | None
    fleiss_kappa: float | None
    cohen_kappa: float | None
    items: int
    annotators: int
    annotations: int
    paired_items: int
    alpha_undefined: AlphaUndefined | None = None
    per_annotator: dict[str, AnnotatorStats]
    per_label: dict[str, LabelStats]
    notes: list[str]


class GoldScore(BaseModel):
    """An annotator on the gold items (items whose right label is known)."""

    items: int
    correct: int
    accuracy: float | None


# --- reading and checking -------------------------------------------------------------------------


def load_annotations(path: Path, *, level: Level = "nominal") -> pl.DataFrame:
    """Read ``item_id, annotator, label`` from CSV/TSV, a JSON array of objects, or NDJSON.

    Every value is read as text (a label ``007`` stays ``007``). Errors name the file and the row as a
    spreadsheet shows it for CSV (the header is row 1), the object's position for a JSON array, and the
    line for NDJSON. Pass ``level`` to check at load time that labels are numbers where they must be.
    """
    frame, rows, unit = _read(Path(path))
    return normalize_annotations(frame, level, source=str(path), rows=rows, unit=unit).select(COLUMNS)


def _read(path: Path) -> tuple[pl.DataFrame, pl.Series, str]:
    """The raw columns, the row number of each row for messages, and what a row is called."""
    suffix = path.suffix.lower()
    if suffix not in _CSV_SEPARATORS and suffix not in _JSON_SUFFIXES:
        known = ", ".join([*_CSV_SEPARATORS, *sorted(_JSON_SUFFIXES)])
        raise AnnotationsError([f"{path}: unknown file type '{path.suffix}'; use one of {known}"])
    if not path.is_file():
        raise AnnotationsError([f"{path}: no such file"])
    if suffix in _CSV_SEPARATORS:
        return _read_csv(path, _CSV_SEPARATORS[suffix])
    return _read_json(path)


def _read_csv(path: Path, separator: str) -> tuple[pl.DataFrame, pl.Series, str]:
    try:
        frame = pl.read_csv(path, infer_schema=False, separator=separator)
    except pl.exceptions.NoDataError as exc:
        raise AnnotationsError([f"{path}: empty file"]) from exc
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise AnnotationsError([f"{path}: not a readable CSV file: {str(exc).splitlines()[0]}"]) from exc
    frame = frame.rename({name: name.strip() for name in frame.columns})
    rows = pl.int_range(2, frame.height + 2, eager=True, dtype=pl.Int64).alias("_row")
    present = [c for c in COLUMNS if c in frame.columns]
    if present:  # blank lines come back as all-null rows: skip them, keep the other rows' numbers
        keep = frame.select(~pl.all_horizontal(pl.col(c).is_null() for c in present)).to_series()
        frame, rows = frame.filter(keep), rows.filter(keep)
    return frame, rows, "row"


def _read_json(path: Path) -> tuple[pl.DataFrame, pl.Series, str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AnnotationsError([f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}"]) from exc
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AnnotationsError([f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}"]) from exc
        return _records_frame(path, list(enumerate(records, 1)), "row")
    numbered: list[tuple[int, Any]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                numbered.append((lineno, json.loads(line)))
            except json.JSONDecodeError as exc:
                problem = (
                    f"{path}: line {lineno}: not valid JSON ({exc.msg}); expected a JSON array or NDJSON"
                )
                raise AnnotationsError([problem]) from exc
    return _records_frame(path, numbered, "line")


def _records_frame(
    path: Path, numbered: list[tuple[int, Any]], unit: str
) -> tuple[pl.DataFrame, pl.Series, str]:
    """Columns from JSON objects; a value must be a string, number or boolean (null counts as empty)."""
    problems: list[str] = []
    found: dict[str, None] = {}
    columns: dict[str, list[str | None]] = {c: [] for c in COLUMNS}
    for number, record in numbered:
        if not isinstance(record, dict):
            problems.append(f"{path}: {unit} {number}: expected an object, got {_json_kind(record)}")
            record = {}
        found.update(dict.fromkeys(record))
        for name in COLUMNS:
            value = record.get(name)
            if isinstance(value, dict | list):
                problems.append(
                    f"{path}: {unit} {number}: {name} must be a string or a number, got {_json_kind(value)}"
                )
            columns[name].append(_json_text(value))
    missing = [c for c in COLUMNS if c not in found]
    if missing and numbered:
        raise AnnotationsError([_missing_columns(str(path), missing, list(found))])
    if problems:
        raise AnnotationsError(problems)
    frame = pl.DataFrame(columns, schema=dict.fromkeys(COLUMNS, pl.String))
    rows = pl.Series("_row", [n for n, _ in numbered], dtype=pl.Int64)
    return frame, rows, unit


def _json_text(value: object) -> str | None:
    """JSON scalars as the text they were written as (true, 3, 2.5); containers as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


_JSON_KINDS: dict[type[object], str] = {dict: "an object", list: "an array"}


def _json_kind(value: object) -> str:
    return _JSON_KINDS.get(type(value), type(value).__name__)


def _missing_columns(source: str, missing: list[str], found: list[str]) -> str:
    return f"{source}: missing column(s) {', '.join(missing)}; found: {', '.join(found) or 'none'}"


def normalize_annotations(
    frame: pl.DataFrame,
    level: Level = "nominal",
    *,
    source: str = "annotations",
    rows: pl.Series | None = None,
    unit: str = "row",
) -> pl.DataFrame:
    """Checked annotations with canonical labels, or AnnotationsError listing every bad row.

    Returns ``item_id, annotator, label`` (text, stripped; numeric labels written canonically), ``code``
    (the label's rank in label order: text order for nominal, numeric order otherwise) and ``value``
    (the number for numeric levels, the code for nominal): what the reliability matrix holds. ``rows``
    numbers the rows for messages (default: 1, 2, ...).
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; use one of {', '.join(LEVELS)}")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise AnnotationsError([_missing_columns(source, missing, frame.columns)])
    if rows is None:
        rows = pl.int_range(1, frame.height + 1, eager=True, dtype=pl.Int64)
    try:
        df = frame.select(pl.col(c).cast(pl.String).str.strip_chars() for c in COLUMNS)
    except pl.exceptions.PolarsError as exc:
        raise AnnotationsError([f"{source}: columns {', '.join(COLUMNS)} must hold text or numbers"]) from exc
    df = df.with_columns(rows.alias("_row"))
    numeric = level != "nominal"
    if numeric:
        df = df.with_columns(value=pl.col("label").cast(pl.Float64, strict=False))
    problems = [*_empty_problems(df), *_duplicate_problems(df)]
    if numeric:
        problems += _numeric_problems(df, level)
    if problems:
        problems.sort(key=lambda p: p[0][0])
        raise AnnotationsError([f"{source}: {_where(unit, at)}: {text}" for at, text in problems])
    return _canonical(df, numeric)


def _where(unit: str, rows: list[int]) -> str:
    return f"{unit} {rows[0]}" if len(rows) == 1 else f"{unit}s {', '.join(map(str, rows))}"


def _empty_problems(df: pl.DataFrame) -> list[tuple[list[int], str]]:
    flags = df.select("_row", *((pl.col(c).is_null() | (pl.col(c) == "")).alias(c) for c in COLUMNS))
    bad = flags.filter(pl.any_horizontal(COLUMNS))
    return [
        ([row["_row"]], f"empty {', '.join(c for c in COLUMNS if row[c])}")
        for row in bad.iter_rows(named=True)
    ]


def _duplicate_problems(df: pl.DataFrame) -> list[tuple[list[int], str]]:
    keyed = df.filter(pl.col("item_id").str.len_chars() > 0, pl.col("annotator").str.len_chars() > 0)
    dupes = (
        keyed.group_by("item_id", "annotator", maintain_order=True)
        .agg(pl.col("_row"))
        .filter(pl.col("_row").list.len() > 1)
    )
    return [
        (
            rows,
            f"annotator {annotator!r} labeled item {item!r} "
            f"{len(rows)} times; an annotator gives one label per item",
        )
        for item, annotator, rows in dupes.iter_rows()
    ]


def _numeric_problems(df: pl.DataFrame, level: str) -> list[tuple[list[int], str]]:
    bad = df.filter(pl.col("label").str.len_chars() > 0, ~pl.col("value").is_finite().fill_null(False))
    return [
        ([row], f"label {label!r} is not a number (level {level} needs numeric labels)")
        for row, label in bad.select("_row", "label").iter_rows()
    ]


def _canonical(df: pl.DataFrame, numeric: bool) -> pl.DataFrame:
    """Add ``code`` and ``value``; numeric labels are rewritten from their value (``3.0`` → ``3``)."""
    key = "value" if numeric else "label"
    domain = df.get_column(key).unique().sort()
    codes = pl.DataFrame({key: domain, "code": pl.int_range(0, len(domain), eager=True, dtype=pl.Int64)})
    out = df.join(codes, on=key, how="left", maintain_order="left")
    if numeric:
        names = pl.Series([_number_text(v) for v in domain], dtype=pl.String)
        out = out.with_columns(label=pl.col("code").replace_strict(codes["code"], names))
    else:
        out = out.with_columns(value=pl.col("code").cast(pl.Float64))
    return out.select(*COLUMNS, "code", "value")


def _number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


# --- agreement ------------------------------------------------------------------------------------


def agreement(annotations: pl.DataFrame, level: Level = "nominal") -> AgreementReport:
    """Krippendorff's α, Fleiss' κ, Cohen's κ and per-annotator / per-label agreement.

    Fleiss' κ treats labels as categories whatever the level, and needs the same number of annotations
    on every item. Cohen's κ needs exactly two annotators and is computed on the items both labeled,
    unweighted for nominal, linearly weighted for ordinal, quadratically for interval and ratio.
    """
    df = normalize_annotations(annotations, level)
    notes: list[str] = []
    if df.is_empty():
        return _empty_report(level)
    counts = _counts(df)
    alpha, undefined = _krippendorff(df, counts, level, notes)
    pairwise = _pairwise_kappas(df, level)
    return AgreementReport(
        level=level,
        krippendorff_alpha=alpha,
        alpha_undefined=undefined,
        fleiss_kappa=_fleiss(df, counts, notes),
        cohen_kappa=_cohen_overall(df, pairwise, notes),
        items=counts["item_id"].n_unique(),
        annotators=df["annotator"].n_unique(),
        annotations=df.height,
        paired_items=counts.filter(pl.col("n_item") >= 2)["item_id"].n_unique(),
        per_annotator=_per_annotator(df, counts, pairwise),
        per_label=_per_label(df, counts),
        notes=notes,
    )


def _empty_report(level: Level) -> AgreementReport:
    return AgreementReport(
        level=level,
        krippendorff_alpha=None,
        alpha_undefined="no_pairs",
        fleiss_kappa=None,
        cohen_kappa=None,
        items=0,
        annotators=0,
        annotations=0,
        paired_items=0,
        per_annotator={},
        per_label={},
        notes=["no annotations"],
    )


def _counts(df: pl.DataFrame) -> pl.DataFrame:
    """Votes per (item, label) with the item's number of annotations: what every share is built from."""
    return (
        df.group_by("item_id", "code")
        .agg(votes=pl.len(), label=pl.col("label").first())
        .with_columns(n_item=pl.col("votes").sum().over("item_id"))
    )


def reliability_matrix(df: pl.DataFrame) -> tuple[NDArray[np.float64], list[str], list[str]]:
    """Annotators × items of ``value`` (normalized annotations), NaN where an annotator left an item."""
    annotators = df["annotator"].unique().sort()
    items = df["item_id"].unique().sort()
    row = df["annotator"].replace_strict(annotators, pl.int_range(0, len(annotators), eager=True)).to_numpy()
    col = df["item_id"].replace_strict(items, pl.int_range(0, len(items), eager=True)).to_numpy()
    matrix = np.full((len(annotators), len(items)), np.nan)
    matrix[row, col] = df["value"].to_numpy()
    return matrix, annotators.to_list(), items.to_list()


def _krippendorff(
    df: pl.DataFrame, counts: pl.DataFrame, level: Level, notes: list[str]
) -> tuple[float | None, AlphaUndefined | None]:
    """α over the items with two or more annotations (the others add no coincidences)."""
    single = counts.filter(pl.col("n_item") == 1).height
    if single:
        notes.append(f"{single} item(s) have a single annotation and carry no pairing information")
    paired = df.join(counts.filter(pl.col("n_item") >= 2).select("item_id").unique(), on="item_id")
    if paired.is_empty():
        notes.append("Krippendorff's α undefined: no item has two or more annotations to compare")
        return None, "no_pairs"
    if paired["code"].n_unique() == 1:
        notes.append(
            f"Krippendorff's α undefined: every paired annotation is {paired['label'][0]!r}; "
            "there is no variation to measure agreement against (observed disagreement is 0)"
        )
        return None, "no_variation"
    matrix, _, _ = reliability_matrix(paired)
    value = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    if not math.isfinite(value):
        notes.append("Krippendorff's α undefined for these annotations")
        return None, "undefined"
    return float(value), None


def _fleiss(df: pl.DataFrame, counts: pl.DataFrame, notes: list[str]) -> float | None:
    """Fleiss' κ from items × annotations codes; it assumes the same number of raters on every item."""
    per_item = counts.group_by("item_id").agg(pl.col("n_item").first())["n_item"]
    low, high = _int_stat(per_item.min()), _int_stat(per_item.max())
    if low != high:
        notes.append(f"Fleiss' κ needs the same number of annotations on every item (found {low} to {high})")
        return None
    if high < 2:
        notes.append("Fleiss' κ needs two or more annotations per item")
        return None
    codes = df.sort("item_id")["code"].to_numpy().reshape(-1, high)
    table, _ = aggregate_raters(codes, n_cat=_int_stat(df["code"].max()) + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 0/0 when one label is used everywhere: reported as None
        value = fleiss_kappa(table, method="fleiss")
    return _finite(value, "Fleiss' κ undefined: a single label on every item", notes)


def _int_stat(value: object) -> int:
    """The min or max of a non-empty integer column: polars types it as any scalar, or None."""
    if not isinstance(value, int):
        raise TypeError(f"expected an integer aggregate, got {type(value).__name__}")
    return value


def _finite(value: float, note: str, notes: list[str]) -> float | None:
    if math.isfinite(value):
        return float(value)
    notes.append(note)
    return None


def _kappa(a: Iterable[int], b: Iterable[int], level: Level, n_codes: int) -> float | None:
    """Cohen's κ of two aligned label-code sequences; None where it is undefined (one label only)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = cohen_kappa_score(list(a), list(b), labels=list(range(n_codes)), weights=KAPPA_WEIGHTS[level])
    return float(value) if math.isfinite(value) else None


def _pairwise_kappas(df: pl.DataFrame, level: Level) -> dict[tuple[str, str], float | None]:
    """κ for every annotator pair sharing at least two items; one loop over pairs, none over items."""
    n_codes = _int_stat(df["code"].max()) + 1
    side = df.select("item_id", "annotator", "code")
    pairs = (
        side.join(side, on="item_id", suffix="_b")
        .filter(pl.col("annotator") < pl.col("annotator_b"))
        .group_by("annotator", "annotator_b")
        .agg(pl.col("code"), pl.col("code_b"))
        .filter(pl.col("code").list.len() >= MIN_SHARED_FOR_KAPPA)
    )
    return {(a, b): _kappa(x, y, level, n_codes) for a, b, x, y in pairs.iter_rows()}


def _cohen_overall(
    df: pl.DataFrame, pairwise: dict[tuple[str, str], float | None], notes: list[str]
) -> float | None:
    annotators = df["annotator"].unique().sort().to_list()
    if len(annotators) != 2:
        notes.append(f"Cohen's κ needs exactly two annotators (found {len(annotators)})")
        return None
    key = (annotators[0], annotators[1])
    if key not in pairwise:
        notes.append(f"Cohen's κ undefined: the two annotators share fewer than {MIN_SHARED_FOR_KAPPA} items")
        return None
    if pairwise[key] is None:
        notes.append("Cohen's κ undefined: the two annotators used a single label on their shared items")
    return pairwise[key]


def _per_annotator(
    df: pl.DataFrame, counts: pl.DataFrame, pairwise: dict[tuple[str, str], float | None]
) -> dict[str, AnnotatorStats]:
    stats = (
        df.join(counts.select("item_id", "code", "votes", "n_item"), on=["item_id", "code"])
        .group_by("annotator")
        .agg(
            items=pl.len(),
            paired_items=(pl.col("n_item") >= 2).sum(),
            agree=(pl.col("votes") - 1).sum(),
            pairs=(pl.col("n_item") - 1).sum(),
        )
        .sort("annotator")
    )
    kappas: dict[str, dict[str, float | None]] = {name: {} for name in stats["annotator"]}
    for (a, b), value in sorted(pairwise.items()):
        kappas[a][b] = value
        kappas[b][a] = value
    return {
        name: AnnotatorStats(
            items=items,
            paired_items=paired,
            agreement=agree / pairs if pairs else None,
            cohen_kappa=dict(sorted(kappas[name].items())),
        )
        for name, items, paired, agree, pairs in stats.iter_rows()
    }


def _per_label(df: pl.DataFrame, counts: pl.DataFrame) -> dict[str, LabelStats]:
    """Counts, majority items and specific agreement Σ n_ik(n_ik−1) / Σ n_ik(n_i−1) per label k."""
    stats = (
        counts.group_by("code")
        .agg(
            pl.col("label").first(),
            annotations=pl.col("votes").sum(),
            majority_items=(pl.col("votes") * 2 > pl.col("n_item")).sum(),
            agree=(pl.col("votes") * (pl.col("votes") - 1)).sum(),
            pairs=(pl.col("votes") * (pl.col("n_item") - 1)).sum(),
        )
        .sort("code")
    )
    return {
        label: LabelStats(
            annotations=n, majority_items=majority, specific_agreement=agree / pairs if pairs else None
        )
        for _, label, n, majority, agree, pairs in stats.iter_rows()
    }


# --- gold items and reading the numbers ------------------------------------------------------------


def gold_accuracy(
    annotations: pl.DataFrame, gold: dict[str, str], *, level: Level = "nominal"
) -> dict[str, GoldScore]:
    """Each annotator's accuracy on the gold items it labeled (every annotator listed; None if it had none).

    Gold labels are normalized like annotations, so for numeric levels ``3`` and ``3.0`` match.
    """
    df = normalize_annotations(annotations, level)
    truth = normalize_annotations(
        pl.DataFrame(
            {
                "item_id": list(gold),
                "annotator": ["gold"] * len(gold),
                "label": [str(v) for v in gold.values()],
            },
            schema=dict.fromkeys(COLUMNS, pl.String),
        ),
        level,
        source="gold",
    )
    key = "value" if level != "nominal" else "label"
    scored = (
        df.join(truth.select("item_id", pl.col(key).alias("truth")), on="item_id", how="left")
        .group_by("annotator")
        .agg(
            items=pl.col("truth").is_not_null().sum(),
            correct=(pl.col(key) == pl.col("truth")).fill_null(False).sum(),
        )
        .sort("annotator")
    )
    return {
        name: GoldScore(items=items, correct=correct, accuracy=correct / items if items else None)
        for name, items, correct in scored.iter_rows()
    }


def alpha_band(alpha: float | None) -> str:
    """Krippendorff's reading of α: ≥ 0.800 reliable, ≥ 0.667 tentative conclusions only."""
    if alpha is None:
        return "undefined"
    return "reliable" if alpha >= 0.8 else "tentative" if alpha >= 0.667 else "unreliable"


def kappa_band(kappa: float | None) -> str:
    """Landis & Koch (1977) bands for κ."""
    if kappa is None:
        return "undefined"
    for bound, name in ((0.8, "almost perfect"), (0.6, "substantial"), (0.4, "moderate"), (0.2, "fair")):
        if kappa > bound:
            return name
    return "slight" if kappa >= 0 else "poor"
