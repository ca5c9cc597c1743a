"""How the benchmark attributes memory to steps, and how it reports a path it skipped, without a run."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import pytest
from rich.console import Console

from lockgate_bench import catalog, report, runner
from lockgate_bench.memory import RssSampler, current_rss_mb, peak_rss_mb
from lockgate_bench.paths import NAIVE_MAX_ROWS
from lockgate_bench.steps import Window, busy_seconds, step_table
from sources.catalog import load_catalog

if TYPE_CHECKING:
    from pathlib import Path

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")


def test_readings_go_to_the_step_running_when_they_were_taken() -> None:
    windows = [
        Window("read", start=10.0, end=11.0, seconds=1.0),
        Window("mask", start=11.0, end=13.0, seconds=2.0),
        Window("mask", start=12.0, end=12.5, seconds=0.5),  # a second source, overlapping
        Window("publish", start=13.10, end=13.11, seconds=0.01),  # shorter than the interval
    ]
    samples = [(9.9, 100.0), (10.5, 300.0), (11.5, 250.0), (12.2, 900.0), (13.05, 400.0), (13.2, 120.0)]
    rows = {row["name"]: row for row in step_table(windows, samples)}
    assert list(rows) == ["read", "mask", "publish"]
    assert (rows["read"]["peak_rss_mb"], rows["read"]["start_rss_mb"], rows["read"]["samples"]) == (
        300,
        300,
        1,
    )
    assert rows["mask"]["peak_rss_mb"] == 900 and rows["mask"]["seconds"] == 2.5
    assert (rows["mask"]["task_runs"], rows["mask"]["span_s"]) == (2, 2.0)
    # No reading inside: the one just before and the one just after bound it.
    assert rows["publish"]["peak_rss_mb"] == 400 and rows["publish"]["samples"] == 0


def test_without_readings_the_memory_is_unknown() -> None:
    (row,) = step_table([Window("read", 1.0, 2.0, 1.0)], [])
    assert row["peak_rss_mb"] is None and row["start_rss_mb"] is None and row["seconds"] == 1.0


def test_busy_time_is_the_union_of_the_task_runs() -> None:
    windows = [Window("a", 0.0, 2.0, 2.0), Window("b", 1.0, 3.0, 2.0), Window("c", 5.0, 6.0, 1.0)]
    assert busy_seconds(windows) == pytest.approx(4.0)
    assert busy_seconds([]) == 0


@linux_only
def test_sampler_reads_this_processs_resident_set() -> None:
    with RssSampler(interval_s=0.005) as sampler:
        block = bytearray(64 * 1024 * 1024)  # touched, so resident
        block[::4096] = b"x" * len(block[::4096])
        deadline = sampler.samples[-1][0] + 0.05
        while sampler.samples[-1][0] < deadline:
            pass
    assert len(sampler.samples) >= 3
    times = [t for t, _ in sampler.samples]
    assert times == sorted(times)
    now = current_rss_mb()
    assert now is not None and 0 < now <= peak_rss_mb() + 1
    assert sampler.peak_mb() is not None and sampler.peak_mb() >= sampler.samples[0][1] + 50  # type: ignore[operator]
    del block


def _figures(rows: int) -> dict[str, dict[str, Any]]:
    steps = [{"name": "read", "seconds": 1.0, "peak_rss_mb": 700.0, "start_rss_mb": 600.0, "task_runs": 1}]
    pipeline = {"seconds": 4.0, "peak_rss_mb": 800.0, "before_work_rss_mb": 600.0, "warmup_s": 9.0}
    pipeline |= {"steps": steps, "tasks_busy_s": 3.5}
    pii = {"rows": min(rows, 1_000_000), "scan_s": 1.0, "mask_s": 1.0, "seconds": 2.0}
    return {
        "floor": {"seconds": 2.0, "peak_rss_mb": 500.0, "before_work_rss_mb": 100.0},
        "pipeline": pipeline,
        "pii": pii | {"peak_rss_mb": 400.0, "before_work_rss_mb": 300.0},
    }


def test_a_skipped_naive_path_is_said_in_json_and_text(tmp_path: Path) -> None:
    rows = 20_000_000
    csv = tmp_path / "customers.csv"
    csv.write_text("customer_id\n1\n", encoding="utf-8")
    (source,) = load_catalog(catalog.write_catalog(tmp_path / "catalog", csv, 7)).sources
    measured = report.Measured(
        rows=rows,
        seed=7,
        contract=source.contract,
        csv_meta={"bytes": 5_000_000_000, "generate_s": 60.0},
        csv_cached=True,
        paths=_figures(rows),
        quarter={"rows": rows // 4, "seconds": 1.0, "peak_rss_mb": 400.0, "steps": []},
        load_average_1m=(1.0, 2.0),
        skipped={"naive": runner.NAIVE_SKIPPED},
    )
    result = report.summarise(measured)
    assert result["naive"] == {"skipped": "above 5,000,000 rows"}
    assert result["naive_s"] is None and result["naive_vs_pipeline"] is None
    assert "naive" not in result["peak_rss_mb"]
    assert result["targets"]["naive_vs_pipeline"]["met"] is None
    assert (
        result["pipeline_rss_growth_4x"] == 2.0
        and result["targets"]["pipeline_rss_growth_4x"]["met"] is False
    )
    console = Console(width=200, record=True)
    for part in report.tables(result):
        console.print(part)
    text = console.export_text()
    assert "skipped (above 5,000,000 rows)" in text
    assert "5,000,000 → 20,000,000 rows" in text and "400 → 800" in text
    assert "pipeline steps at 20,000,000 rows" in text


def test_the_naive_path_is_not_run_above_five_million_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def child(path: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
        calls.append(path)
        return {"seconds": 1.0, "peak_rss_mb": 1.0}

    monkeypatch.setattr(runner, "run_child", child)
    csv = tmp_path / "rows.csv"
    csv.write_text("a\n1\n", encoding="utf-8")
    for rows, expected in (
        (NAIVE_MAX_ROWS, ["floor", "naive", "pipeline", "pii"]),
        (NAIVE_MAX_ROWS + 1, ["floor", "pipeline", "pii"]),
    ):
        calls.clear()
        root = tmp_path / str(rows)
        root.mkdir()
        _, skipped = runner._run_paths(csv, tmp_path, root, rows, 7, {}, lambda _: None)
        assert calls == expected
        assert skipped == ({} if "naive" in expected else {"naive": "above 5,000,000 rows"})
