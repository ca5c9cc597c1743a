"""`lockgate label` failing the way an operator meets it: a mistyped plan, a server that is not there.

The labeling flows against a real Label Studio are tested in tests/flows/test_label.py.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from cli.app import app

if TYPE_CHECKING:
    from pathlib import Path

    from typer.testing import Result

TOKEN = "0" * 40
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture(autouse=True)
def _no_lockgate_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LOCKGATE_* variable from the caller's shell decides which server or token is used."""
    for name in [n for n in os.environ if n.upper().startswith("LOCKGATE_")]:
        monkeypatch.delenv(name)


def label(*args: str, token: str | None = TOKEN) -> Result:
    env = {"COLUMNS": "200"} | ({"LOCKGATE_LABEL_STUDIO_TOKEN": token} if token else {})
    return CliRunner().invoke(app, ["label", *args], env=env)


def test_unknown_plan_is_named_before_label_studio_is_contacted(catalog: Path, tmp_path: Path) -> None:
    """The server given is unreachable: the plan error proves nothing was asked of it first.

    Exits 1, as `label collect` and `run --source` do for an unknown name.
    """
    lake = tmp_path / "lake"
    args = ["--catalog", str(catalog), "--lake", str(lake), "--studio-url", NOWHERE]
    result = label("status", *args, "--plan", "nope")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    assert result.stderr.strip() == (
        "status failed: unknown labeling plan(s): nope; the catalog has: support_topics"
    )
    assert result.stdout == ""
    assert not lake.exists()


def test_invite_to_an_unreachable_server_exits_1_without_the_token() -> None:
    result = label("invite", "--studio-url", NOWHERE)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    assert result.stderr.startswith(
        f"Label Studio at {NOWHERE}: reading the organisation's invite link failed: server unreachable"
    )
    assert result.stdout == ""
    assert TOKEN not in result.output


def test_invite_without_a_server_says_which_variable_to_set() -> None:
    result = label("invite")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    assert "set LOCKGATE_LABEL_STUDIO_URL to the Label Studio server's address" in result.stderr
    assert TOKEN not in result.output
