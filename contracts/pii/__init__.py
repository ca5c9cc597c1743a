"""PII detection: find personal data in frames (`scan_frame`) and in single texts (`find_spans`).

Detection never reports a value: findings are kinds and row counts. See `scan` for the sampling and
confidence rules, `detect` for the two-stage pattern matching, `names` for person names.
"""

from __future__ import annotations

from contracts.pii.detect import DETECTABLE_KINDS, REGEX_KINDS, SPAN_KINDS, Span, column_hint, find_spans
from contracts.pii.scan import ColumnFindings, ScanReport, min_detectable_fraction, scan_frame

__all__ = [
    "DETECTABLE_KINDS",
    "REGEX_KINDS",
    "SPAN_KINDS",
    "ColumnFindings",
    "ScanReport",
    "Span",
    "column_hint",
    "find_spans",
    "min_detectable_fraction",
    "scan_frame",
]
