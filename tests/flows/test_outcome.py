"""How a run's results become its final Prefect state, its table artifact and each stopped source's
headline: every cause named, the sources counted."""

from __future__ import annotations

import signal

import pytest

from flows.errors import Interrupted, RunFailed
from flows.outcome import INTERRUPTED, PARTIAL, final_state, run_summary
from flows.reports import RUN_TABLE_COLUMNS, run_table, source_markdown, stop_causes
from flows.results import DriftLine, ExpectationLine, RunResult, SourceResult, SourceStatus

RUN = "20261203T100000Z-abcd1234"
BLOCKING = ExpectationLine(
    rule_id="ltv", expectation="expect_x", column="ltv", severity="error", blocking=True, success=False
)


def _source(name: str, status: SourceStatus, **fields: object) -> SourceResult:
    return SourceResult.model_validate({"source": name, "status": status, "run_id": RUN, **fields})


def _run(*sources: SourceResult) -> RunResult:
    return RunResult(run_id=RUN, lake="lake", sources=list(sources))


PUBLISHED = _source("stores", SourceStatus.PUBLISHED, curated_version=3, rows_in=5, rows_out=5)
UNCHANGED = _source("tickets", SourceStatus.UNCHANGED, curated_version=1)
BY_RULES = _source("orders", SourceStatus.STOPPED, expectations=[BLOCKING])
BY_SCHEMA = _source("customers", SourceStatus.STOPPED, schema_issues=["column age: 1 value(s) are not valid"])
BY_PII = _source("people", SourceStatus.STOPPED, pii_findings=["column note holds personal data (email)"])
BY_DRIFT = _source(
    "events",
    SourceStatus.STOPPED,
    drift=[
        DriftLine(kind="volume", detail="rows 10 vs median 1000", action="block"),
        DriftLine(kind="null_rate", column="city", detail="+20 points", action="warn"),
    ],
)


@pytest.mark.parametrize(
    ("result", "causes", "headline"),
    [
        (BY_RULES, ["rules"], "blocking rules failed"),
        (BY_SCHEMA, ["schema"], "blocking schema issues"),
        (BY_PII, ["PII"], "personal data in clear"),
        (BY_DRIFT, ["drift"], "blocking drift"),
    ],
    ids=["rules", "schema", "pii", "drift"],
)
def test_each_stop_cause_has_its_own_headline(result: SourceResult, causes: list[str], headline: str) -> None:
    assert stop_causes(result) == causes
    first = source_markdown(result).splitlines()[2]
    assert first.startswith(f"**⛔ stop-line: {headline}") and first.endswith(", curated layer untouched**")
    for other in ("blocking rules failed", "blocking schema issues", "personal data in clear", "drift"):
        if other not in headline:
            assert other not in first


def test_a_warning_drift_is_no_stop_cause() -> None:
    warned = _source("events", SourceStatus.PUBLISHED, drift=[BY_DRIFT.drift[1]])
    assert stop_causes(warned) == []


def test_every_source_published_completes() -> None:
    state = final_state(_run(PUBLISHED, UNCHANGED))
    assert state.is_completed()
    assert state.message == "2 of 2 sources published or unchanged"
    assert state.result() == _run(PUBLISHED, UNCHANGED)


def test_some_published_is_a_partial_failure_naming_each_other_source() -> None:
    failed = _source("billing", SourceStatus.FAILED, error="read: disk gone")
    run = _run(PUBLISHED, BY_RULES, BY_PII, failed)
    state = final_state(run)
    assert (state.is_failed(), state.name) == (True, PARTIAL)
    assert state.message == "1 of 4 sources published; stopped: orders (rules), people (PII); failed: billing"
    error = state.result(raise_on_failure=False)
    assert isinstance(error, RunFailed) and error.run == run
    with pytest.raises(RunFailed):
        state.result()


def test_none_published_is_failed() -> None:
    state = final_state(_run(BY_SCHEMA))
    assert (state.is_failed(), state.name) == (True, "Failed")
    assert state.message == "0 of 1 source published; stopped: customers (schema)"


def test_an_interrupted_run_names_its_signal() -> None:
    interrupted = _source("orders", SourceStatus.INTERRUPTED, error="interrupted before publish")
    state = final_state(_run(PUBLISHED, interrupted), signal.SIGTERM)
    assert (state.is_failed(), state.name) == (True, INTERRUPTED)
    assert state.message == "stopped by SIGTERM: 1 of 2 sources published; interrupted: orders"
    error = state.result(raise_on_failure=False)
    assert isinstance(error, Interrupted) and error.signum == signal.SIGTERM


def test_the_run_table_has_a_row_per_source_with_counts_and_causes() -> None:
    quarantined = _source(
        "shops", SourceStatus.PUBLISHED, rows_in=10, rows_out=8, rows_quarantined=2, release_id="rel-1"
    )
    rows = run_table(_run(quarantined, BY_RULES, BY_SCHEMA))
    assert [list(row) for row in rows] == [list(RUN_TABLE_COLUMNS)] * 3
    assert rows[0] == {
        "source": "shops",
        "status": "published",
        "rows in": 10,
        "rows out": 8,
        "quarantined": 2,
        "rules": None,
        "version": None,
        "release": "rel-1",
        "stop cause": None,
    }
    assert (rows[1]["rules"], rows[1]["stop cause"]) == ("0/1", "rules")
    assert rows[2]["stop cause"] == "schema"
    assert run_summary(_run()) == "0 of 0 sources published"
