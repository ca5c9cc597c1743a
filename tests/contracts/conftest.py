"""Contracts built from plain dicts, as data owners would write them in YAML."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from contracts.model import Contract

MakeContract = Callable[..., Contract]


def build_contract(properties: list[dict[str, Any]], quality: list[dict[str, Any]] | None = None) -> Contract:
    return Contract.model_validate(
        {
            "apiVersion": "v3.1.0",
            "kind": "DataContract",
            "id": "people",
            "version": "1.0.0",
            "schema": [{"name": "people", "properties": properties, "quality": quality or []}],
        }
    )


@pytest.fixture(scope="session")
def make_contract() -> MakeContract:
    """``make_contract([{"name": "id", "logicalType": "integer"}], quality=[...])``."""
    return build_contract
