"""`lockgate` itself: every command group is mounted, and starting it stays cheap.

`lockgate --help` (and shell completion, which imports the app on every Tab) must not pay for Prefect,
Great Expectations, polars or DuckDB; command modules import those only when a command runs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from cli.app import app

REPO = Path(__file__).resolve().parents[2]
COMMANDS = [
    "validate",
    "schema",
    "run",
    "serve",
    "deploy",
    "sql",
    "query",  # lockgate query --as ROLE
    "versions",
    "rollback",
    "erase",
    "agreement",
    "status",
    "pii",
    "contract",
    "label",
    "lake",
    "release",
    "retention",
    "config",
    "audit",
    "docs",
    "access",
    "bench",  # a developer's tool: last on purpose
]
HEAVY = ("prefect", "great_expectations", "polars", "duckdb")


def test_help_lists_every_command_in_order() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    panel = result.stdout.split("─ Commands ─", 1)[1]
    assert re.findall(r"^│ (\S+) ", panel, flags=re.MULTILINE) == COMMANDS


def test_no_arguments_shows_the_help() -> None:
    result = CliRunner().invoke(app, [], env={"COLUMNS": "200"})
    assert result.exit_code == 2  # Click's usage error, with the help to read
    assert "Usage: lockgate [OPTIONS] COMMAND [ARGS]..." in result.output
    assert "─ Commands ─" in result.output


def test_importing_the_app_loads_no_heavy_library() -> None:
    """In a fresh interpreter: this test process has imported them all already."""
    probe = (
        "import json, sys\n"
        "import cli.app\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout) == []


def test_version_prints_the_code_version_release_ids_record() -> None:
    from flows.release import code_version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"lockgate {code_version()}\n"
    assert result.output.startswith("lockgate 0.1.0")
