"""`cli.flow_runner.run_flow` with tiny real Prefect flows: a flow's final state becomes a result or an exit.

Each outcome a command meets has its flow here: a value, a `LockgateError`, a catalog mistake, a run
that did not publish every source, and a bug.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from prefect import flow

from cli.errors import EXIT_FAILED, EXIT_INVALID
from cli.flow_runner import run_flow
from contracts.diagnostics import Problem
from contracts.errors import CatalogError
from flows.errors import RunFailed
from flows.results import RunResult, SourceResult, SourceStatus
from storage.errors import StorageError

pytestmark = pytest.mark.usefixtures("prefect_api")

PROBLEM = Problem(Path("catalog/sources/stores.yaml"), 3, 8, "owner", "Field required")
FAILED_RUN = RunResult(
    run_id="run-1",
    lake="lake",
    sources=[SourceResult(source="stores", status=SourceStatus.FAILED, run_id="run-1", error="disk full")],
)


@flow(name="test-doubles")
def doubles(n: int) -> int:
    return n * 2


@flow(name="test-storage-fails")
def storage_fails() -> None:
    raise StorageError("the lake at s3://nope is not reachable")


@flow(name="test-catalog-mistake")
def catalog_mistake() -> None:
    raise CatalogError([PROBLEM])


@flow(name="test-run-failed")
def run_failed() -> None:
    raise RunFailed(FAILED_RUN)


@flow(name="test-bug")
def bug() -> None:
    raise ZeroDivisionError("division by zero")


def test_the_flow_result_is_returned() -> None:
    assert run_flow(doubles, failure="never", n=21) == 42


def test_a_lockgate_error_exits_1_with_the_failure_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exited:
        run_flow(storage_fails, failure="run failed")
    assert exited.value.exit_code == EXIT_FAILED
    assert "run failed: the lake at s3://nope is not reachable\n" in capsys.readouterr().err


def test_a_catalog_error_exits_2_with_every_problem(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exited:
        run_flow(catalog_mistake, failure="run failed")
    assert exited.value.exit_code == EXIT_INVALID
    err = capsys.readouterr().err
    assert "catalog/sources/stores.yaml:3:8: owner: Field required\n1 problem(s) found\n" in err
    assert "run failed" not in err  # problems speak for themselves


def test_a_run_that_did_not_publish_is_raised_with_the_whole_run() -> None:
    """The caller prints what did happen before exiting, so it needs the run, not a message."""
    with pytest.raises(RunFailed) as raised:
        run_flow(run_failed, failure="run failed")
    assert raised.value.run == FAILED_RUN
    assert str(raised.value) == "run run-1 did not publish every source: stores (failed)"


def test_any_other_failure_of_the_flow_exits_1_with_its_message(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect has already logged the traceback with the flow run; the command gives one line."""
    with pytest.raises(typer.Exit) as exited:
        run_flow(bug, failure="labeling failed")
    assert exited.value.exit_code == EXIT_FAILED
    assert "labeling failed: division by zero\n" in capsys.readouterr().err
