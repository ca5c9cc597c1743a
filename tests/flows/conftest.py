"""Fixtures for the flow tests: a private copy of the example catalog and the masking key."""

from __future__ import annotations

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
