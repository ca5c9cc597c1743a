"""`lockgate validate` stays fast: with GX's verdicts on the catalog's rules remembered, it imports
neither Great Expectations nor Prefect (nor polars), whose imports alone took ~10 s of it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from contracts import quarantine
from contracts.row_level import NULL_RULE, ROW_LEVEL_EXPECTATIONS

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "catalog"
HEAVY = ("great_expectations", "prefect", "polars", "pandas", "deltalake", "duckdb", "natasha", "sklearn")

# Runs the command as `lockgate` does, then reports the exit code and which heavy packages it loaded.
_PROBE = """
import json, os, sys
from cli.app import app
code = 0
try:
    app(args=sys.argv[1:], prog_name="lockgate")
except SystemExit as exit:
    code = exit.code or 0
heavy = os.environ["PROBE_HEAVY"].split(",")
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def _validate(catalog: Path, cache: Path, *args: str) -> tuple[int, list[str], str]:
    """Exit code, heavy packages loaded, and the output of `lockgate validate` in a fresh interpreter."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PROBE_HEAVY": ",".join(HEAVY)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "validate", "--catalog", str(catalog), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    *output, last = done.stdout.strip().splitlines()
    probe = json.loads(last)
    return probe["code"], probe["loaded"], "\n".join(output) + done.stderr


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache in which GX has judged the example catalog's rules (the one slow, cold run)."""
    cache = tmp_path_factory.mktemp("cache")
    code, loaded, output = _validate(EXAMPLES, cache)
    assert code == 0, output
    assert "great_expectations" in loaded
    assert (cache / "lockgate" / "rule-verdicts.json").is_file()
    return cache


def test_validate_with_remembered_verdicts_imports_no_heavy_library(judged: Path) -> None:
    code, loaded, output = _validate(EXAMPLES, judged)
    assert code == 0, output
    assert output.startswith("ok: 3 source(s), 3 contract(s), 1 labeling plan(s)")
    assert loaded == []


def test_a_changed_rule_is_judged_by_gx_and_its_mistake_remembered(judged: Path, tmp_path: Path) -> None:
    cache = Path(shutil.copytree(judged, tmp_path / "cache"))
    catalog = Path(shutil.copytree(EXAMPLES, tmp_path / "catalog"))
    contract = catalog / "contracts" / "stores.yaml"
    text = contract.read_text(encoding="utf-8")
    contract.write_text(text.replace("expect_column_values_to_be_between", "expect_column_values_to_be_nice"))
    # GX judges the new rule; then its verdict comes from the cache; --no-cache asks GX again.
    for args, gx_loaded in (((), True), ((), False), (("--no-cache",), True)):
        code, loaded, output = _validate(catalog, cache, *args)
        assert code == 1
        assert f"{contract}:" in output and "unknown expectation 'expect_column_values_to_be_nice'" in output
        assert ("great_expectations" in loaded) is gx_loaded


def test_the_row_level_names_match_the_quarantine_expressions() -> None:
    """The polars-free list `validate` checks `action: quarantine` against is the quarantine's own."""
    assert frozenset({*quarantine._FAILS, NULL_RULE}) == ROW_LEVEL_EXPECTATIONS
