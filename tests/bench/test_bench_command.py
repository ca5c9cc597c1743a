"""How `lockgate bench` finds the benchmark package, and what it does when the package is absent.

The benchmark lives in tools/bench as a workspace package installed with the dev group, outside the
runtime wheel; the command imports it only when it runs.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

import cli.bench
from lockgate_bench import runner
from lockgate_bench.errors import BenchDataError, BenchError
from storage.errors import LockgateError

if TYPE_CHECKING:
    import typer

REPO = Path(__file__).resolve().parents[2]


def test_command_defaults_are_the_benchmarks() -> None:
    assert cli.bench.DEFAULT_ROWS == runner.DEFAULT_ROWS
    assert cli.bench.DEFAULT_SEED == runner.DEFAULT_SEED
    assert cli.bench.DEFAULT_CACHE == runner.DEFAULT_CACHE
    assert cli.bench.DEFAULT_SOURCE_ROWS == runner.DEFAULT_SOURCE_ROWS


def test_missing_package_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, bench_app: typer.Typer
) -> None:
    for name in [m for m in sys.modules if m.startswith("lockgate_bench.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "lockgate_bench", None)  # import fails as if not installed
    result = CliRunner().invoke(bench_app, ["bench", "--rows", "1000"])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "source checkout" in result.stderr and "dev dependency group" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_seed_numpy_refuses_fails_before_any_process(tmp_path: Path, bench_app: typer.Typer) -> None:
    args = ["bench", "--rows", "1000", "--seed", "-1", "--cache-dir", str(tmp_path / "cache")]
    result = CliRunner().invoke(bench_app, args)
    assert result.exit_code == 1
    assert "bench failed: the seed must be 0 or more" in result.stderr
    assert not (tmp_path / "cache").exists()


def test_children_start_as_the_package_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lockgate_bench", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "--path" in done.stdout
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "lockgate_bench",
            "--path",
            "floor",
            "--csv",
            "x.csv",
            "--rows",
            "1",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2 and "--workdir" in missing.stderr


def test_benchmark_is_a_workspace_package_outside_the_wheel() -> None:
    root = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert root["tool"]["uv"]["workspace"]["members"] == ["tools/bench"]  # not tools/label-studio
    assert "lockgate-bench" in root["dependency-groups"]["dev"]
    assert not {"lockgate_bench", "tools"} & set(
        root["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    )
    bench_project = tomllib.loads((REPO / "tools" / "bench" / "pyproject.toml").read_text(encoding="utf-8"))
    assert bench_project["project"]["name"] == "lockgate-bench"
    assert "lockgate" in bench_project["project"]["dependencies"]


@pytest.mark.parametrize("error", [BenchError("path 'naive' failed"), BenchDataError("no rows")])
def test_errors_share_the_root_and_pickle(error: LockgateError) -> None:
    assert isinstance(error, LockgateError)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error)
