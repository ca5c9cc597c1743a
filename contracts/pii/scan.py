"""Scan a frame for personal data, column by column, and say how sure the answer is.

Per column, on every row (``sample_rows=None``, as the pipeline's PII gate scans) or on a uniform random
sample of rows (all rows when the frame is small):

1. stage 1 — one polars regex per kind marks candidate rows (`detect.candidate_exprs`), vectorised;
2. stage 2 — Python validates the distinct candidate values only (checksums, phonenumbers), and
   every row inherits its value's verdict, so repeated values cost one check;
3. names — natasha NER runs only on text columns, only on values that pass the name gate, and at
   most on `NER_MAX_ROWS` of them; counts from a sub-sample are scaled up and listed in ``estimated``.

Only names may be sampled in an exhaustive scan: each column records how many candidate rows NER read
(``ner_rows`` of ``ner_candidates``). What a sample cannot see: a kind present in a fraction p of rows
is missed by n sampled rows with probability (1−p)^n, so the report's ``min_detectable_fraction`` =
1 − 0.05^(1/n) is the smallest share of rows a kind must have to be found with 95% confidence
(n = 20,000 → 0.015%).

Findings are counts and kinds only: no value, match or offset ever leaves this module.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from contracts.model import PiiKind
from contracts.pii.detect import (
    REGEX_KINDS,
    candidate_exprs,
    column_hint,
    is_embedded,
    name_candidates,
    regex_spans,
    resolve,
)
from contracts.pii.names import NAME_GATE, NAME_SHAPE, english_name_spans, merge_adjacent, ner_person_spans

DEFAULT_SAMPLE_ROWS = 20_000
CONFIDENCE = 0.95
NER_MAX_ROWS = 1_000  # free-text values sent to NER per column
NAME_COLUMN_SAMPLE = 300  # values checked before calling a short column a name column
MIN_NER_SAMPLE = 50  # the least NER reads of a window of a batch scanned in windows
NAME_COLUMN_SHARE = 0.5  # share of 2–3-word values, and of those NER calls names, to call it one
NAME_COVERAGE = 0.6  # a value is a name when name spans cover this share of its letters
TEXT_MEAN_CHARS = 20  # "text column": longer on average, or mostly containing spaces...
TEXT_SPACE_SHARE = 0.5
TEXT_MEAN_WORDS = 1.5  # ...and made of words, not digit groups like "+7 903 970-28-80"
GUARD_MIN_CANDIDATES = 30  # see _guard
GUARD_MIN_SHARE = 0.5

_TEXT_DTYPES = (pl.String, pl.Categorical, pl.Enum)
_LETTER_WORD = r"\p{L}{2,}"


class ColumnFindings(BaseModel):
    """Rows of one column (among those scanned) that hold each kind."""

    model_config = ConfigDict(frozen=True)

    kinds: dict[str, int] = Field(default_factory=dict)
    rows_scanned: int
    ner_rows: int | None = Field(
        None,
        description="Rows NER read for person names when it read a sample of the candidate rows; "
        "None when it read them all or did not run.",
    )
    ner_candidates: int | None = Field(None, description="The candidate rows that sample was drawn from.")


class ScanReport(BaseModel):
    """What a scan found, per column, with the sample size and what it could have missed."""

    model_config = ConfigDict(frozen=True)

    columns: dict[str, ColumnFindings]
    rows_total: int
    rows_scanned: int
    sampled: bool
    seed: int
    min_detectable_fraction: float = Field(
        description="Smallest share of rows a kind must occupy to be found with 95% confidence."
    )
    estimated: dict[str, list[str]] = Field(
        default_factory=dict, description="Kinds per column counted on a NER sub-sample and scaled up."
    )
    skipped: list[str] = Field(default_factory=list, description="Columns of types that hold no text.")

    def flagged(self) -> dict[str, list[str]]:
        """Columns where anything was found, with their kinds."""
        return {name: sorted(c.kinds) for name, c in self.columns.items() if c.kinds}

    @property
    def clean(self) -> bool:
        return not any(c.kinds for c in self.columns.values())

    def to_json_dict(self) -> dict[str, Any]:
        """``{"columns": {col: {"kinds": {kind: rows}, "rows_scanned": n}}, ...}`` plus sample metadata
        (``ner_samples``: the columns whose names NER read on a sample, with its size)."""
        return {
            "columns": {
                name: {"kinds": dict(c.kinds), "rows_scanned": c.rows_scanned}
                for name, c in self.columns.items()
            },
            "rows_total": self.rows_total,
            "rows_scanned": self.rows_scanned,
            "sampled": self.sampled,
            "seed": self.seed,
            "min_detectable_fraction": self.min_detectable_fraction,
            "estimated": {name: list(kinds) for name, kinds in self.estimated.items()},
            "skipped": list(self.skipped),
            "ner_samples": {
                name: {"rows": c.ner_rows, "of": c.ner_candidates}
                for name, c in self.columns.items()
                if c.ner_rows is not None
            },
        }


def min_detectable_fraction(rows: int, confidence: float = CONFIDENCE) -> float:
    """1 − (1 − confidence)^(1/n): rarer kinds may be missed by a sample of n rows."""
    if rows <= 0:
        return 1.0
    return 1.0 - math.pow(1.0 - confidence, 1.0 / rows)


def scan_frame(
    frame: pl.DataFrame,
    *,
    columns: list[str] | None = None,
    sample_rows: int | None = DEFAULT_SAMPLE_ROWS,
    seed: int = 0,
    names: bool = True,
    ner_share: float = 1.0,
) -> ScanReport:
    """Find the PII kinds each column holds, on a uniform sample of at most `sample_rows` rows, or on
    every row when `sample_rows` is None (then only person names, found by NER, are sampled).

    `names=False` skips NER (person names, and names as evidence of free text): several times faster.
    `ner_share` scales NER's samples down, for a batch scanned a window at a time (`merge_reports`).
    """
    wanted = list(frame.columns if columns is None else columns)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise KeyError(f"no such column(s): {', '.join(missing)}")
    if sample_rows is not None and sample_rows < 1:
        raise ValueError("sample_rows must be at least 1")
    data = frame.select(wanted)
    sampled = sample_rows is not None and data.height > sample_rows
    if sampled:
        assert sample_rows is not None
        data = data.sample(n=sample_rows, seed=seed, shuffle=False)
    scanned = data.height

    text_columns = [c for c in wanted if _is_texty(data.schema[c])]
    skipped = [c for c in wanted if c not in text_columns]
    findings: dict[str, ColumnFindings] = {c: ColumnFindings(rows_scanned=scanned) for c in skipped}
    estimated: dict[str, list[str]] = {}
    for name in text_columns:
        kinds, guessed, ner = _scan_column(
            data.get_column(name), name, names=names, seed=seed, ner_share=ner_share
        )
        findings[name] = ColumnFindings(
            kinds=kinds,
            rows_scanned=scanned,
            ner_rows=ner[0] if ner else None,
            ner_candidates=ner[1] if ner else None,
        )
        if guessed:
            estimated[name] = guessed
    return ScanReport(
        columns={c: findings[c] for c in wanted},
        rows_total=frame.height,
        rows_scanned=scanned,
        sampled=sampled,
        seed=seed,
        min_detectable_fraction=min_detectable_fraction(scanned),
        estimated=estimated,
        skipped=skipped,
    )


def merge_reports(reports: list[ScanReport]) -> ScanReport:
    """One report for a batch scanned a window at a time: each column's rows and kinds summed, NER's
    samples and candidates summed, the kinds any window estimated listed as estimated."""
    if not reports:
        raise ValueError("merge_reports needs at least one report")
    first = reports[0]
    columns: dict[str, ColumnFindings] = {}
    for name in first.columns:
        parts = [report.columns[name] for report in reports]
        kinds: Counter[str] = Counter()
        for part in parts:
            kinds.update(part.kinds)
        sampled = [part for part in parts if part.ner_rows is not None]
        columns[name] = ColumnFindings(
            kinds=dict(kinds),
            rows_scanned=sum(part.rows_scanned for part in parts),
            ner_rows=sum(part.ner_rows or 0 for part in sampled) if sampled else None,
            ner_candidates=sum(part.ner_candidates or 0 for part in sampled) if sampled else None,
        )
    estimated: dict[str, list[str]] = {}
    for report in reports:
        for name, kinds_ in report.estimated.items():
            estimated[name] = sorted({*estimated.get(name, []), *kinds_})
    scanned = sum(report.rows_scanned for report in reports)
    return ScanReport(
        columns=columns,
        rows_total=sum(report.rows_total for report in reports),
        rows_scanned=scanned,
        sampled=any(report.sampled for report in reports),
        seed=first.seed,
        min_detectable_fraction=min_detectable_fraction(scanned),
        estimated=estimated,
        skipped=list(first.skipped),
    )


def _is_texty(dtype: pl.DataType) -> bool:
    """Text and integer columns can hold identifiers (an INN or a card kept as a number); dates cannot."""
    return isinstance(dtype, _TEXT_DTYPES) or dtype.is_integer() or dtype.is_decimal()


def _scan_column(
    series: pl.Series, name: str, *, names: bool, seed: int, ner_share: float = 1.0
) -> tuple[dict[str, int], list[str], tuple[int, int] | None]:
    """Kinds → row counts for one (sampled) column, which of those counts are estimates, and, when NER
    read only a sample, (rows it read, candidate rows)."""
    text = series.cast(pl.String).drop_nulls().rename("v")
    if text.is_empty():
        return {}, [], None
    hint = column_hint(name)
    # Every expression runs once per distinct value, which carries its row count `n`: columns repeat
    # (cities, segments, masked tails, pooled notes), and the regexes are the cost of a scan of every row.
    v, n = pl.col("v"), pl.col("n")
    flags = text.value_counts(name="n").select(
        v,
        n,
        *[e.alias(k) for k, e in candidate_exprs(v, hint).items()],
        v.str.contains(NAME_GATE).fill_null(False).alias("_gate"),
        v.str.contains(NAME_SHAPE).fill_null(False).alias("_shape"),
    )
    rows = text.len()
    stats = flags.select(
        ((v.str.len_chars() * n).sum() / rows).alias("chars"),
        ((v.str.contains("[ \t]").cast(pl.Int64) * n).sum() / rows).alias("spaces"),
        ((v.str.count_matches(_LETTER_WORD) * n).sum() / rows).alias("words"),
    ).row(0, named=True)
    is_text = (stats["chars"] > TEXT_MEAN_CHARS or stats["spaces"] >= TEXT_SPACE_SHARE) and (
        stats["words"] >= TEXT_MEAN_WORDS
    )

    # Stage 2 on distinct candidate values; each carries its row count.
    candidate_rows = {k: int(flags.filter(pl.col(k)).get_column("n").sum()) for k in REGEX_KINDS}
    counted = flags.filter(pl.any_horizontal(list(REGEX_KINDS)))
    found: Counter[str] = Counter()
    regex_cache: dict[str, list[Any]] = {}
    embedded_values: set[str] = set()
    for row in counted.iter_rows(named=True):
        value: str = row["v"]
        raw = regex_spans(value, [k for k in REGEX_KINDS if row[k]], hint)
        regex_cache[value] = raw
        spans = resolve(value, raw, hint)
        for kind in {s.kind for s in spans}:
            found[kind] += row["n"]
        if spans and is_text and is_embedded(value, spans):
            embedded_values.add(value)

    kinds = {k: n for k, n in found.items() if not _guard(k, n, candidate_rows[k], is_text)}
    guessed: list[str] = []
    embedded_rows = (
        int(flags.filter(v.is_in(list(embedded_values))).get_column("n").sum()) if embedded_values else 0
    )
    free_text_rows = float(embedded_rows)

    ner: tuple[int, int] | None = None
    if names and is_text:
        # NER samples rows, in their order: the rows of the values that pass each gate.
        shape = text.filter(text.is_in(flags.filter(pl.col("_shape")).get_column("v")))
        name_sample = max(MIN_NER_SAMPLE, round(NAME_COLUMN_SAMPLE * ner_share))
        ner_rows = max(MIN_NER_SAMPLE, round(NER_MAX_ROWS * ner_share))
        if shape.len() >= NAME_COLUMN_SHARE * text.len():
            persons, exact = _name_column(shape, seed, name_sample)
            if shape.len() > name_sample:
                ner = (name_sample, shape.len())
            if persons:
                kinds[PiiKind.PERSON_NAME] = persons
                if not exact:
                    guessed.append(PiiKind.PERSON_NAME)
        else:
            gated = text.filter(text.is_in(flags.filter(pl.col("_gate")).get_column("v")))
            persons_f, free_f, exact = _free_text_names(
                gated, regex_cache, hint, embedded_values, seed, ner_rows
            )
            if not exact:
                ner = (ner_rows, gated.len())
            if persons_f:
                kinds[PiiKind.PERSON_NAME] = round(persons_f)
                if not exact:
                    guessed.append(PiiKind.PERSON_NAME)
            # Rows outside the gate keep their exact regex verdict; gated rows take the NER sample's.
            outside = embedded_rows - (
                int(gated.is_in(list(embedded_values)).sum()) if embedded_values else 0
            )
            free_text_rows = outside + free_f
            if not exact and free_f:
                guessed.append(PiiKind.FREE_TEXT)
    if is_text and round(free_text_rows) > 0:
        kinds[PiiKind.FREE_TEXT] = round(free_text_rows)
    order: dict[str, int] = {k: i for i, k in enumerate(PiiKind)}
    result = {str(k): kinds[k] for k in sorted(kinds, key=order.__getitem__) if kinds[k] > 0}
    return result, [str(k) for k in guessed if str(k) in result], ner


def _guard(kind: str, found: int, candidates: int, is_text: bool) -> bool:
    """True when hits in a structured column are chance coincidences, not data of that kind.

    A column of random 10-digit order numbers passes the INN checksum about one time in ten, and
    random 16-digit ids pass Luhn as often. A real INN or card column validates almost always. So
    outside free text, a kind is kept only if at least half of the values stage 1 marked for it
    validate (once there are enough of them to judge).
    """
    return not is_text and candidates >= GUARD_MIN_CANDIDATES and found < GUARD_MIN_SHARE * candidates


def _sample_values(values: pl.Series, limit: int, seed: int) -> tuple[Counter[str], bool]:
    """Distinct values with their counts, from at most `limit` rows drawn uniformly; and whether all were."""
    exact = values.len() <= limit
    chosen = values if exact else values.sample(n=limit, seed=seed)
    return Counter(chosen.to_list()), exact


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def _name_column(shape: pl.Series, seed: int, sample: int = NAME_COLUMN_SAMPLE) -> tuple[int, bool]:
    """Rows holding a person's name in a column of short 2–3-word values (0 if it is not a name column).

    NER runs on a sample only; the share it calls names is applied to all 2–3-word rows.
    """
    counts, exact = _sample_values(shape, sample, seed)
    values = list(counts)
    hits = 0
    for value, spans in zip(values, ner_person_spans(values), strict=True):
        covered = sum(
            _letters(value[a:b]) for a, b in merge_adjacent(value, [*spans, *english_name_spans(value)])
        )
        if covered >= NAME_COVERAGE * max(1, _letters(value)):
            hits += counts[value]
    share = hits / max(1, sum(counts.values()))
    if share < NAME_COLUMN_SHARE:
        return 0, True
    return (hits if exact else round(share * shape.len())), exact


def _free_text_names(
    gated: pl.Series,
    regex_cache: dict[str, list[Any]],
    hint: str | None,
    embedded_values: set[str],
    seed: int,
    limit: int = NER_MAX_ROWS,
) -> tuple[float, float, bool]:
    """(rows with a person name, rows with embedded PII) among gated rows; scaled when sub-sampled."""
    if gated.is_empty():
        return 0.0, 0.0, True
    counts, exact = _sample_values(gated, limit, seed)
    values = list(counts)
    persons = embedded = 0
    for value, ner in zip(values, ner_person_spans(values), strict=True):
        names = merge_adjacent(value, [*ner, *english_name_spans(value)])
        spans = resolve(value, [*regex_cache.get(value, []), *name_candidates(value, names)], hint)
        if any(s.kind == PiiKind.PERSON_NAME for s in spans):
            persons += counts[value]
        if value in embedded_values or (spans and is_embedded(value, spans)):
            embedded += counts[value]
    scale = gated.len() / max(1, sum(counts.values()))
    return persons * scale, embedded * scale, exact
