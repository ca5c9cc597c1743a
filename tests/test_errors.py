"""Every error Lockgate raises on purpose shares one root and survives pickling with its attributes.

Errors cross process boundaries (Prefect task runners, Dask workers); an error that does not pickle
turns a clear message into an opaque crash there.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import signal
from pathlib import Path

import pytest

from contracts.diagnostics import Problem
from contracts.errors import CatalogError, MissingKeyError, RuleError, SecretUnavailable
from flows.errors import Interrupted, StopLine
from flows.results import RunResult
from labeling.errors import AnnotationsError
from sources.errors import SourceReadError
from storage.errors import DiskFull, LockgateError, ObjectNotFound, RawChecksumMismatch

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("storage", "contracts", "sources", "labeling", "flows")


def _error_classes() -> list[type[BaseException]]:
    found = []
    for layer in LAYERS:
        module = importlib.import_module(f"{layer}.errors")
        found += [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, BaseException) and cls.__module__ == module.__name__
        ]
    return found


def test_each_layer_has_errors_and_all_share_the_root() -> None:
    classes = _error_classes()
    assert len(classes) >= 20
    assert all(issubclass(cls, LockgateError) for cls in classes)


def test_no_error_class_outside_the_errors_modules() -> None:
    """One home per layer: an exception class defined elsewhere would escape the tree."""
    import ast

    stray = []
    for layer in (*LAYERS, "cli"):
        for path in (ROOT / layer).rglob("*.py"):
            if path.name == "errors.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and (b.id.endswith("Error") or b.id == "Exception")
                    for b in node.bases
                ):
                    stray.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert stray == []


def test_no_hand_written_reduce_is_left() -> None:
    hits = [
        str(path.relative_to(ROOT))
        for layer in (*LAYERS, "cli")
        for path in (ROOT / layer).rglob("*.py")
        if "def __reduce__" in path.read_text(encoding="utf-8") and path != ROOT / "storage" / "errors.py"
    ]
    assert hits == []


@pytest.mark.parametrize(
    "error",
    [
        ObjectNotFound("raw/a.csv"),
        RawChecksumMismatch("raw/a.csv", "ab" * 32, "cd" * 32),
        CatalogError([Problem(Path("sources/a.yaml"), 3, 5, "owner", "field required")]),
        RuleError("quality[0]", "unknown expectation"),
        MissingKeyError("default", "masking key 'default' is not set"),
        SecretUnavailable("lockgate-key-x", "it must hold text", unreachable=False),
        SourceReadError("data/a.csv", 7, "could not parse"),
        AnnotationsError(["a.json: row 1: no label"] * 30, hidden=2),
        StopLine("customers", ["column email: missing"], None, ["email: e-mail in clear"]),
        Interrupted(RunResult(run_id="r1", lake="lake", sources=[]), signal.SIGTERM),
        DiskFull("no space left on device while landing a.csv of a"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_pickle_with_message_and_attributes(error: LockgateError) -> None:
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert vars(again) == vars(error)
