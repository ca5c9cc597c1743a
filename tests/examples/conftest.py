"""Shared access to the example catalog and its generator script (a script, not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
GENERATOR = REPO / "examples" / "generate_catalog.py"


@pytest.fixture(scope="session")
def generator() -> ModuleType:
    """The generator loaded from its file, as `python examples/generate_catalog.py` would run it."""
    spec = importlib.util.spec_from_file_location("lockgate_example_generator", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module
