"""`lockgate bench` at a small size: real data, real paths in real child processes, real figures.

The run is made once per module (it takes a few tens of seconds) and its JSON, cached CSV and kept
work folder are checked from several angles. Checksums are verified with python-stdnum and a SNILS
formula written out here, independently of the vectorised generator.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
from stdnum import luhn
from stdnum.ru import inn as ru_inn
from typer.testing import CliRunner

from cli.bench import DEFAULT_SEED
from contracts.expectations import all_rules, build_suite
from lockgate_bench import data as bench_data
from lockgate_bench import runner
from lockgate_bench.catalog import PII_COLUMNS
from lockgate_bench.naive import naive_expectations
from lockgate_bench.paths import PATHS
from lockgate_bench.runner import reference_csv
from sources.catalog import load_catalog

if TYPE_CHECKING:
    import typer

ROWS = 20_000
SEED = 11
SAMPLE = 2_000
SOURCE_STEPS = ["land-raw", "read", "validate", "mask", "pii-gate", "profile", "publish"]
RUN_STEPS = ["docs-index", "register", "role-outputs"]  # one task run per run
STEPS = SOURCE_STEPS + RUN_STEPS

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, prefect_api: None, bench_app: typer.Typer
) -> tuple[dict[str, Any], Path]:
    root = tmp_path_factory.mktemp("bench")
    args = ["bench", "--rows", str(ROWS), "--seed", str(SEED), "--format", "json"]
    args += ["--workdir", str(root / "work"), "--cache-dir", str(root / "cache")]
    result = CliRunner().invoke(bench_app, args)
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return json.loads(result.stdout), root


def test_json_has_every_figure_measured(run: tuple[dict[str, Any], Path]) -> None:
    figures, _ = run
    for key in ("floor_s", "naive_s", "pipeline_s", "pipeline_vs_floor", "naive_vs_pipeline", "generate_s"):
        assert isinstance(figures[key], float) and figures[key] > 0, key
    assert figures["rows"] == ROWS
    assert set(figures["peak_rss_mb"]) == set(PATHS) == {"floor", "naive", "pipeline", "pii"}
    assert all(mb > 0 for mb in figures["peak_rss_mb"].values())
    assert figures["pii_rows"] == ROWS  # min(rows, 1,000,000)
    assert figures["pii_scan_mask_rows_per_s"] > 0
    assert figures["pii_scan_mask_rows_per_s"] == pytest.approx(
        ROWS / (figures["pii_scan_s"] + figures["pii_mask_s"]), rel=1e-3
    )
    assert re.fullmatch(r"3\.\d+\.\d+", figures["python"])
    assert figures["cpu_count"] >= 1
    assert figures["generate_cached"] is False


def test_json_has_every_step_with_seconds_and_peak_memory(run: tuple[dict[str, Any], Path]) -> None:
    figures, _ = run
    steps = figures["steps"]
    assert [step["name"] for step in steps] == STEPS
    for step in steps:
        assert isinstance(step["seconds"], float) and step["seconds"] >= 0, step
        assert step["peak_rss_mb"] > 0 and step["start_rss_mb"] > 0, step
        assert step["task_runs"] == 1, step
        assert step["peak_rss_mb"] <= 1.1 * figures["peak_rss_mb"]["pipeline"], step  # sampled vs ru_maxrss
    busy = sum(step["seconds"] for step in steps)
    assert busy <= figures["pipeline_s"]  # the steps ran one after another, inside the flow's call
    assert figures["pipeline_orchestration_s"] >= 0
    assert figures["naive"] == {"seconds": figures["naive_s"], "peak_rss_mb": figures["peak_rss_mb"]["naive"]}


def test_text_output_has_the_paths_and_the_steps_tables(
    run: tuple[dict[str, Any], Path], bench_app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The text rendering of this run's figures, through the command (the run itself is not repeated)."""
    figures, _ = run
    monkeypatch.setattr(runner, "run_benchmark", lambda *args, **kwargs: figures)
    result = CliRunner().invoke(bench_app, ["bench", "--rows", str(ROWS)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"lockgate bench: {ROWS:,} rows" in out and "(c) lockgate pipeline" in out
    assert f"pipeline steps at {ROWS:,} rows" in out
    assert "[green]" not in out and "[red]" not in out and "[dim]" not in out  # styles, never markup
    assert " met" in out  # each target is marked
    for step in figures["steps"]:
        line = next(line for line in out.splitlines() if line.startswith(f"│ {step['name']} "))
        assert f"{step['seconds']:.2f}" in line and f"{step['peak_rss_mb']:.0f}" in line
    assert "1-minute load average" in out


def test_ratios_are_the_ratios_of_the_seconds(run: tuple[dict[str, Any], Path]) -> None:
    figures, _ = run
    assert figures["pipeline_vs_floor"] == pytest.approx(figures["pipeline_s"] / figures["floor_s"], rel=1e-3)
    assert figures["naive_vs_pipeline"] == pytest.approx(figures["naive_s"] / figures["pipeline_s"], rel=1e-3)
    targets = figures["targets"]
    assert targets["pipeline_vs_floor"]["met"] is (figures["pipeline_vs_floor"] <= 2.0)
    assert targets["naive_vs_pipeline"]["met"] is (figures["naive_vs_pipeline"] >= 5.0)
    assert targets["pipeline_rss_growth_4x"]["met"] is None  # not asked for (--scaling)


def _snils_ok(value: str) -> bool:
    digits = [int(ch) for ch in re.sub(r"\D", "", value)]
    total = sum(d * (9 - i) for i, d in enumerate(digits[:9]))
    if total > 101:
        total %= 101
    return (0 if total in (100, 101) else total) == digits[9] * 10 + digits[10]


def test_generated_table_has_the_shape_and_valid_identifiers(run: tuple[dict[str, Any], Path]) -> None:
    figures, root = run
    csv = root / "cache" / f"{ROWS}-{SEED}.csv"
    frame = pl.read_csv(csv, infer_schema=False)
    assert frame.shape == (ROWS, 17) == (ROWS, figures["columns"])
    assert tuple(frame.columns) == bench_data.COLUMNS
    assert frame["customer_id"].n_unique() == ROWS
    sample = frame.sample(SAMPLE, seed=0)
    snils = sample["snils"].drop_nulls().to_list()
    inns = sample["inn"].drop_nulls().to_list()
    cards = sample["card_number"].to_list()
    assert len(snils) > SAMPLE // 2 and len(inns) == len(snils)  # Russian customers only
    assert all(re.fullmatch(r"\d{3}-\d{3}-\d{3} \d{2}", s) and _snils_ok(s) for s in snils)
    assert all(ru_inn.is_valid(v) and len(v) == 12 for v in inns)
    assert all(luhn.is_valid(c.replace(" ", "")) and len(c.replace(" ", "")) == 16 for c in cards)
    assert any(" " in c for c in cards) and any(" " not in c for c in cards)
    share_bad_email = sample["email"].str.contains(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$").not_().mean()
    assert 0 < share_bad_email < 0.05  # the warn-level rule has something to report


def test_contract_has_ten_expectations_and_eight_pii_columns(run: tuple[dict[str, Any], Path]) -> None:
    figures, _ = run
    (source,) = load_catalog(Path(figures["workdir"]) / "catalog").sources
    contract = source.contract
    assert len(all_rules(contract)) == 10 == figures["expectations"]
    pii = {p.name: p.masking.rule for p in contract.columns if p.pii is not None and p.masking is not None}
    assert pii == PII_COLUMNS
    assert len(pii) == 8 == figures["pii_columns"]
    assert set(pii.values()) == {"hash", "partial", "redact", "generalize", "redact_pii"}


def test_naive_script_validates_the_same_ten_expectations(run: tuple[dict[str, Any], Path]) -> None:
    figures, _ = run
    (source,) = load_catalog(Path(figures["workdir"]) / "catalog").sources

    def shape(expectations: list[Any]) -> list[tuple[str, str]]:
        return sorted(
            (e.expectation_type, json.dumps(e.configuration.kwargs, sort_keys=True)) for e in expectations
        )

    assert shape(naive_expectations()) == shape(build_suite(source.contract).expectations)


def test_naive_and_pipeline_outputs_agree_where_they_do_the_same_work(
    run: tuple[dict[str, Any], Path],
) -> None:
    """Same key, same HMAC, same partial and redact results: the baseline is not cutting corners."""
    figures, _ = run
    work = Path(figures["workdir"])
    (curated_file,) = (work / "pipeline" / "lake" / "curated").rglob("*.parquet")
    curated = pl.read_parquet(curated_file).sort("customer_id")
    naive = pl.read_parquet(work / "naive" / "naive.parquet").sort("customer_id")
    assert curated.height == naive.height == ROWS
    for column in ("full_name", "email", "phone", "card_number", "snils", "inn"):
        assert curated[column].equals(naive[column].cast(pl.String)), column
    assert curated["email"].str.contains(r"^[0-9a-f]{64}$").all()


def test_cached_csv_is_reused(run: tuple[dict[str, Any], Path]) -> None:
    _, root = run
    csv, meta, cached = reference_csv(root / "cache", ROWS, SEED, {}, lambda _: None)
    assert cached and csv.stat().st_size == meta["bytes"]


def test_generation_is_reproducible(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    bench_data.write_customers_csv(first, 1_500, seed=3)
    bench_data.write_customers_csv(second, 1_500, seed=3)
    assert first.read_bytes() == second.read_bytes()


def test_command_default_seed_is_the_generators() -> None:
    assert DEFAULT_SEED == bench_data.DEFAULT_SEED


def test_unknown_format_is_refused(bench_app: typer.Typer) -> None:
    result = CliRunner().invoke(bench_app, ["bench", "--rows", "1000", "--format", "xml"])
    assert result.exit_code == 2
