"""Comparing the JSON values a contract holds (rule arguments, dumped fields) the way its readers do.

Contract values arrive as parsed YAML or JSON: ``1`` and ``1.0`` are one value to a reader, ``true``
and ``1`` are not, and a date may be written as a string. These helpers compare values on those terms.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any, TypeGuard

# Stands for a key absent from a mapping, so that absent and an explicit null stay different.
MISSING = object()


def is_number(value: object) -> TypeGuard[float]:
    """A finite int or float; booleans are not numbers here, whatever Python says."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def as_datetime(value: object) -> datetime | None:
    """A date, a datetime or an ISO string as a datetime (a date at midnight); None for anything else."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time())
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def compare(a: object, b: object) -> int | None:
    """-1, 0 or 1 for two bounds of one kind (numbers, or ISO dates and times); None otherwise."""
    if is_number(a) and is_number(b):
        return (a > b) - (a < b)
    da, db = as_datetime(a), as_datetime(b)
    if da is None or db is None or (da.tzinfo is None) != (db.tzinfo is None):
        return None
    return (da > db) - (da < db)


def same(a: object, b: object) -> bool:
    """Equal as JSON values: 1 and 1.0 are the same, true and 1 are not."""
    return canonical(a) == canonical(b)


def canonical(value: object) -> str:
    """One text per JSON value, so values compare and sort alike whatever their spelling."""
    if value is MISSING:
        return "<missing>"
    if is_number(value):
        value = float(value)
    return json.dumps(value, sort_keys=True, default=str)


def jsonable(value: object) -> Any:
    """`value` as plain JSON data (dates and enums become strings), for the JSON report."""
    return json.loads(json.dumps(value, default=str))
