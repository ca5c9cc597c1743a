"""The zero-leak check: scan a masked frame for PII that masking should have removed.

Columns whose rule makes clean output by construction are not scanned: ``hash`` (64 hex digits),
``redact`` (a fixed marker), ``encrypt`` (``v1:`` + base64url) and ``drop`` (gone). Everything else
is: ``partial`` (a careless keep_last can keep a whole number), ``generalize``, ``redact_pii``
(detection may miss what a second look finds), columns without a rule, and columns the contract does
not declare at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.model import DropRule, EncryptRule, HashRule, RedactRule
from contracts.pii.scan import ScanReport, scan_frame

if TYPE_CHECKING:
    import polars as pl

    from contracts.model import Contract

CLEAN_BY_CONSTRUCTION = (HashRule, RedactRule, EncryptRule, DropRule)


def columns_to_check(frame: pl.DataFrame, contract: Contract) -> list[str]:
    """The masked frame's columns whose content masking does not make clean by construction."""
    skip = {p.name for p in contract.columns if isinstance(p.masking, CLEAN_BY_CONSTRUCTION)}
    return [c for c in frame.columns if c not in skip]


def leaks(
    frame: pl.DataFrame,
    contract: Contract,
    *,
    sample_rows: int | None = None,
    seed: int = 0,
    names: bool = True,
    ner_share: float = 1.0,
) -> ScanReport:
    """Scan of the masked `frame`'s columns that can still hold PII; ``report.clean`` means none found.

    Every row by default: a leak in one row of millions must stop the line, so the gate never samples
    (only NER, for names, reads a sample; the report says how large).
    """
    return scan_frame(
        frame,
        columns=columns_to_check(frame, contract),
        sample_rows=sample_rows,
        seed=seed,
        names=names,
        ner_share=ner_share,
    )
