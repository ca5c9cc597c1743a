"""The pipeline's PII gate: what a masked frame may not carry into the curated layer, in words.

One scan covers both promises: a column the contract does not declare must hold no personal data
(declare it, with a masking rule, instead), and a masked column must hold none after masking. The scan
reads every row of every column that masking does not make clean by construction, for every
pattern-and-checksum kind; only person names, found by NER, are read on a sample, and the verdict says
how large it was and how rare a name it could miss. Findings name the column, the kinds and row counts,
never a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from contracts.pii.leaks import leaks
from contracts.pii.scan import merge_reports, min_detectable_fraction
from storage.staging import Staged

if TYPE_CHECKING:
    import polars as pl

    from contracts.model import Contract
    from contracts.pii.scan import ScanReport


@dataclass(frozen=True)
class GateVerdict:
    """What the gate found (empty when the frame may be published) and what it read to say so."""

    findings: list[str]  # one sentence per column that still holds personal data
    coverage: str  # rows and columns read, and the NER samples, in words


def pii_gate(frame: pl.DataFrame | Staged, contract: Contract, *, seed: int = 0) -> GateVerdict:
    """Scan the masked `frame` exhaustively; the verdict lists each column still holding personal data.

    A staged batch is scanned a window at a time, every row of each; NER's samples are shared out
    between the windows, so the names check costs what it costs on the batch whole.
    """
    if isinstance(frame, Staged):
        share = 1.0 / max(1, frame.windows)
        reports = [leaks(window, contract, seed=seed, ner_share=share) for window in frame.frames()]
        report = merge_reports(reports) if reports else leaks(frame.lazy().collect(), contract, seed=seed)
    else:
        report = leaks(frame, contract, seed=seed)
    return GateVerdict(_findings(report, contract), _coverage(report))


def _findings(report: ScanReport, contract: Contract) -> list[str]:
    declared = {prop.name: prop for prop in contract.columns}
    findings = []
    for column, found in report.columns.items():
        if not found.kinds:
            continue
        kinds = ", ".join(
            f"{kind} in {rows} of {found.rows_scanned} scanned rows"
            for kind, rows in sorted(found.kinds.items())
        )
        prop = declared.get(column)
        if prop is None or prop.pii is None:
            findings.append(
                f"column {column} holds personal data the contract does not declare ({kinds}); "
                "declare its pii kind and a masking rule"
            )
        else:
            rule = prop.masking.rule if prop.masking is not None else "none"
            findings.append(f"column {column} still holds personal data after masking by {rule} ({kinds})")
    return findings


def _coverage(report: ScanReport) -> str:
    """``every row (N) of K column(s) checked for every pattern kind`` plus each column's NER sample."""
    checked = len(report.columns) - len(report.skipped)
    scope = "every row" if not report.sampled else f"a sample of {report.rows_scanned} rows"
    text = f"{scope} ({report.rows_scanned}) of {checked} column(s) checked for every pattern kind"
    samples = [
        f"{column}: names read by NER in {found.ner_rows} of {found.ner_candidates} candidate rows "
        f"(a name in fewer than {min_detectable_fraction(found.ner_rows):.2%} of them may be missed)"
        for column, found in report.columns.items()
        if found.ner_rows is not None and found.ner_candidates is not None
    ]
    return "; ".join([text, *samples])
