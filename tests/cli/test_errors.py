"""`cli.errors`: how every command turns an expected failure into a message on stderr and an exit code.

Expected failures are `LockgateError`s; anything else is a bug and must keep its traceback, so it is
let through untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from cli.errors import EXIT_FAILED, EXIT_INVALID, exit_on_failure, exit_with_error
from contracts.diagnostics import Problem
from contracts.errors import CatalogError
from storage.errors import ObjectNotFound, StorageError

PROBLEMS = [
    Problem(Path("catalog/sources/b.yaml"), 4, 1, "steward", "not an e-mail address"),
    Problem(Path("catalog/contracts/a.yaml"), 17, 9, "schema.0.quality.0.expectation", "unknown [rule]"),
]


def test_exit_with_error_prints_the_message_literally_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    """A message may quote a value like [REDACTED] or [bold]: Rich must print it, not read it as style."""
    with pytest.raises(typer.Exit) as exited:
        exit_with_error("column [bold]email[/bold] holds [REDACTED]")
    assert exited.value.exit_code == EXIT_FAILED == 1
    captured = capsys.readouterr()
    assert captured.err == "column [bold]email[/bold] holds [REDACTED]\n"
    assert captured.out == ""


def test_exit_with_error_takes_an_exception_and_a_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exited:
        exit_with_error(ObjectNotFound("raw/stores/2026-03-07/r1/stores.csv"), EXIT_INVALID)
    assert exited.value.exit_code == EXIT_INVALID == 2
    assert capsys.readouterr().err == "no object at key 'raw/stores/2026-03-07/r1/stores.csv'\n"


def test_lockgate_error_becomes_prefix_message_and_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exited, exit_on_failure(3, prefix="status failed: "):
        raise StorageError("the lake is read-only")
    assert exited.value.exit_code == 3
    assert capsys.readouterr().err == "status failed: the lake is read-only\n"


def test_catalog_error_prints_every_problem_then_the_count(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exited, exit_on_failure(problems_code=EXIT_INVALID):
        raise CatalogError(PROBLEMS)
    assert exited.value.exit_code == EXIT_INVALID
    assert capsys.readouterr().err.splitlines() == [
        "catalog/contracts/a.yaml:17:9: schema.0.quality.0.expectation: unknown [rule]",
        "catalog/sources/b.yaml:4:1: steward: not an e-mail address",
        "2 problem(s) found",
    ]


def test_catalog_error_exits_with_the_block_code_when_no_problems_code_is_given(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(typer.Exit) as exited, exit_on_failure(EXIT_INVALID, prefix="ignored: "):
        raise CatalogError(PROBLEMS[:1])
    assert exited.value.exit_code == EXIT_INVALID
    assert capsys.readouterr().err.splitlines()[-1] == "1 problem(s) found"  # problems, never the prefix


def test_expected_types_are_treated_as_lockgate_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """For a library's own errors a command expects, e.g. a file it was told to read is not there."""
    with pytest.raises(typer.Exit) as exited, exit_on_failure(expected=(FileNotFoundError,)):
        raise FileNotFoundError("no file annotations.csv")
    assert exited.value.exit_code == EXIT_FAILED
    assert capsys.readouterr().err == "no file annotations.csv\n"


def test_other_exceptions_propagate_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    """A bug keeps its traceback: the same exception object leaves the block, and nothing is printed."""
    bug = KeyError("rows_in")
    with pytest.raises(KeyError) as raised, exit_on_failure(expected=(FileNotFoundError,)):
        raise bug
    assert raised.value is bug
    assert capsys.readouterr().err == ""


def test_a_block_that_succeeds_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with exit_on_failure():
        done = True
    assert done
    assert capsys.readouterr() == ("", "")
