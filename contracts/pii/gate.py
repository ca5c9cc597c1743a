"""The pipeline's PII gate: what a masked frame may not carry into the curated layer, in words.

One scan covers both promises: a column the contract does not declare must hold no personal data
(declare it, with a masking rule, instead), and a masked column must hold none after masking.
Findings name the column, the kinds and row counts, never a value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.pii.leaks import leaks

if TYPE_CHECKING:
    import polars as pl

    from contracts.model import Contract


def pii_findings(frame: pl.DataFrame, contract: Contract, *, seed: int = 0) -> list[str]:
    """One sentence per column of the masked `frame` that still holds personal data; empty when clean."""
    report = leaks(frame, contract, seed=seed)
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
