"""Contract documents as a data owner writes them, built from one base and changed one field at a time."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

PROPERTIES: list[dict[str, Any]] = [
    {"name": "customer_id", "logicalType": "integer", "primaryKey": True},
    {"name": "email", "logicalType": "string", "required": True, "pii": "email", "masking": "hash"},
    {"name": "amount", "logicalType": "number"},
    {"name": "signup", "logicalType": "date"},
    {"name": "segment", "logicalType": "string", "classification": "internal"},
]
QUALITY: list[dict[str, Any]] = [
    {
        "id": "amount_range",
        "expectation": "expect_column_values_to_be_between",
        "kwargs": {"column": "amount", "min_value": 0, "max_value": 100},
    },
    {
        "expectation": "expect_column_values_to_be_in_set",
        "kwargs": {"column": "segment", "value_set": ["retail", "smb"]},
        "severity": "warn",
    },
]


def document(
    properties: list[dict[str, Any]] | None = None,
    quality: list[dict[str, Any]] | None = None,
    **top: Any,
) -> dict[str, Any]:
    """A contract as a data owner writes it; top-level fields (version, status...) override."""
    return {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": "customers",
        "version": "1.0.0",
        "schema": [
            {
                "name": "customers",
                "properties": copy.deepcopy(PROPERTIES if properties is None else properties),
                "quality": copy.deepcopy(QUALITY if quality is None else quality),
            }
        ],
        **top,
    }


def with_column(name: str, **fields: Any) -> list[dict[str, Any]]:
    """PROPERTIES with one column's fields replaced; a None value removes the field."""
    props = copy.deepcopy(PROPERTIES)
    for prop in props:
        if prop["name"] == name:
            prop.update(fields)
            for key in [k for k, v in prop.items() if v is None]:
                del prop[key]
    return props


def with_rule(index: int, **fields: Any) -> list[dict[str, Any]]:
    rules = copy.deepcopy(QUALITY)
    rules[index].update(fields)
    return rules


def write_document(folder: Path, name: str, data: dict[str, Any]) -> Path:
    """`data` as a contract file in `folder` (JSON is YAML)."""
    path = folder / name
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path
