"""Fixtures shared by every layer's tests: a private copy of the example catalog and the masking key."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HASH_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A private copy of the example catalog, free to be broken by the test."""
    return Path(shutil.copytree(REPO / "examples" / "catalog", tmp_path / "catalog"))


@pytest.fixture
def hash_key(monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setenv("LOCKGATE_HASH_KEY", HASH_KEY)
    return bytes.fromhex(HASH_KEY)


def read_customers(catalog: Path) -> list[dict[str, str]]:
    """The rows of the catalog's customers.csv."""
    with (catalog / "data" / "customers.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def rewrite_customers(catalog: Path, change: dict[int, dict[str, str]]) -> None:
    """Edit rows of the catalog's customers.csv in place (row index → new values)."""
    rows = read_customers(catalog)
    for index, values in change.items():
        rows[index].update(values)
    with (catalog / "data" / "customers.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
