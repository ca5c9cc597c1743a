"""`lockgate bench --sources N`: one real ingest run of N small sources in a child process, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
from typer.testing import CliRunner

from lockgate_bench import paths, runner
from lockgate_bench.catalog import source_names
from sources.catalog import load_catalog

if TYPE_CHECKING:
    import typer

SOURCES = 3
ROWS = 100  # each source's
SEED = 13
SOURCE_STEPS = ["land-raw", "read", "validate", "mask", "pii-gate", "profile", "publish"]
RUN_STEPS = ["docs-index", "register", "role-outputs"]  # one task run per run
STEPS = SOURCE_STEPS + RUN_STEPS

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, prefect_api: None, bench_app: typer.Typer
) -> tuple[dict[str, Any], Path]:
    root = tmp_path_factory.mktemp("bench-sources")
    # The reference CSV made here, in-process, so the run finds it cached and starts no generating child.
    paths.path_generate(root / "cache" / f"{SOURCES * ROWS}-{SEED}.csv", SOURCES * ROWS, SEED)
    args = ["bench", "--sources", str(SOURCES), "--rows", str(ROWS), "--seed", str(SEED), "--format", "json"]
    args += ["--workdir", str(root / "work"), "--cache-dir", str(root / "cache")]
    result = CliRunner().invoke(bench_app, args)
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return json.loads(result.stdout), root


def test_one_run_of_every_source_is_measured(run: tuple[dict[str, Any], Path]) -> None:
    figures, _ = run
    assert figures["mode"] == "sources"
    assert (figures["sources"], figures["rows_per_source"], figures["rows"]) == (
        SOURCES,
        ROWS,
        SOURCES * ROWS,
    )
    assert figures["seconds"] > 0 and figures["peak_rss_mb"] > 0
    assert figures["seconds_per_source"] == pytest.approx(figures["seconds"] / SOURCES, rel=1e-3)
    assert figures["task_runs"] == len(SOURCE_STEPS) * SOURCES + len(RUN_STEPS)
    assert 0 < figures["tasks_busy_s"] <= figures["seconds"]
    assert figures["outside_tasks_s"] == pytest.approx(figures["seconds"] - figures["tasks_busy_s"], abs=1e-3)
    assert figures["noop_flow_s"] > 0 and figures["catalog_load_s"] > 0
    assert figures["targets"]["seconds"]["met"] is None  # the 30 s target is for 100 sources
    assert figures["generate_cached"] is True
    assert set(figures["load_average_1m"]) == {"before", "after"}


def test_every_step_has_seconds_and_peak_memory(run: tuple[dict[str, Any], Path]) -> None:
    figures, _ = run
    steps = figures["steps"]
    assert [step["name"] for step in steps] == STEPS
    for step in steps:
        assert step["seconds"] >= 0 and step["peak_rss_mb"] > 0, step
        assert step["task_runs"] == (1 if step["name"] in RUN_STEPS else SOURCES), step
        assert step["span_s"] >= 0, step


def test_each_source_is_its_own_slice_and_is_published(run: tuple[dict[str, Any], Path]) -> None:
    figures, _ = run
    work = Path(figures["workdir"])
    catalog = load_catalog(work / "catalog")
    assert [s.name for s in catalog.sources] == source_names(SOURCES)
    ids: set[int] = set()
    for name in source_names(SOURCES):
        (curated,) = (work / "sources" / "lake" / "curated" / name).rglob("*.parquet")
        frame = pl.read_parquet(curated)
        assert frame.height == ROWS
        ids |= set(frame["customer_id"].to_list())
    assert len(ids) == SOURCES * ROWS  # no two sources share a customer


def test_text_output_has_the_run_and_the_steps_tables(
    run: tuple[dict[str, Any], Path], bench_app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The text rendering of this run's figures, through the command (the run itself is not repeated)."""
    figures, _ = run
    monkeypatch.setattr(runner, "run_sources", lambda *args, **kwargs: figures)
    args = ["bench", "--sources", str(SOURCES), "--rows", str(ROWS)]
    result = CliRunner().invoke(bench_app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"one ingest run of {SOURCES} sources × {ROWS:,} rows" in out
    assert f"{figures['seconds']:.2f} s" in out
    assert "< 30 s only for 100" in out and "[" not in out.replace("[bench_", "")  # styles, no markup
    assert f"steps over {SOURCES} sources" in out
    for step in figures["steps"]:
        line = next(line for line in out.splitlines() if line.startswith(f"│ {step['name']} "))
        assert f"{step['seconds']:.2f}" in line and f"{step['span_s']:.2f}" in line
