"""The pii path measures the pipeline's own mask and PII-gate steps, not a re-wiring of their parts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl
import pytest

import flows.pipeline
from lockgate_bench import catalog, data, paths

if TYPE_CHECKING:
    from pathlib import Path

    from flows.pipeline import Batch, RunContext

ROWS = 3_000
SEED = 5
KEY = "11" * 32


class _Spy:
    """Stands in for a pipeline task: records each call of `.fn`, then runs the real step."""

    def __init__(self, task: Any, calls: list[tuple[str, int]]) -> None:
        self.task, self.calls = task, calls

    def fn(self, batch: Batch, run: RunContext) -> Batch:
        assert batch.frame is not None
        self.calls.append((self.task.name, batch.frame.height))
        result: Batch = self.task.fn(batch, run)
        return result


def test_pii_path_runs_the_pipelines_mask_then_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    csv = tmp_path / "customers.csv"
    data.write_customers_csv(csv, ROWS, SEED)
    root = catalog.write_catalog(tmp_path / "catalog", csv, SEED)
    monkeypatch.setenv(paths.KEY_ENV, KEY)
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(flows.pipeline, "mask_task", _Spy(flows.pipeline.mask_task, calls))
    monkeypatch.setattr(flows.pipeline, "pii_gate_task", _Spy(flows.pipeline.pii_gate_task, calls))

    figures = paths.path_pii(root, csv, ROWS, tmp_path / "work")

    warm = paths.WARMUP_ROWS
    assert calls == [("mask", warm), ("pii-gate", warm), ("mask", ROWS), ("pii-gate", ROWS)]
    assert figures["rows"] == ROWS
    assert figures["columns_masked"] == len(catalog.PII_COLUMNS)
    assert figures["seconds"] == pytest.approx(figures["mask_s"] + figures["scan_s"])
    assert pl.read_csv(csv, infer_schema=False).height == ROWS
