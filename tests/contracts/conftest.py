"""Contracts built from plain dicts, as data owners would write them in YAML."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contracts.model import Contract

MakeContract = Callable[..., Contract]

# Shared generators of valid identifiers and test tables (pii_data.py) for the PII tests.
_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)


def build_contract(
    properties: list[dict[str, Any]],
    quality: list[dict[str, Any]] | None = None,
    drift: dict[str, str] | None = None,
) -> Contract:
    schema: dict[str, Any] = {"name": "people", "properties": properties, "quality": quality or []}
    if drift is not None:
        schema["drift"] = drift
    return Contract.model_validate(
        {
            "apiVersion": "v3.1.0",
            "kind": "DataContract",
            "id": "people",
            "version": "1.0.0",
            "schema": [schema],
        }
    )


@pytest.fixture(scope="session")
def make_contract() -> MakeContract:
    """``make_contract([{"name": "id", "logicalType": "integer"}], quality=[...])``."""
    return build_contract
