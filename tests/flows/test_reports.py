"""Run results and their Markdown reports: counts and names in, values never."""

from __future__ import annotations

import pickle

from contracts.diagnostics import Problem
from contracts.errors import CatalogError
from flows.reports import source_markdown
from flows.results import ExpectationLine, RunResult, SourceResult, SourceStatus


def _result(status: SourceStatus) -> SourceResult:
    return SourceResult(
        source="customers",
        status=status,
        run_id="20261125T100000Z-abcd1234",
        rows_in=10,
        rows_out=10 if status is SourceStatus.PUBLISHED else None,
        raw_keys=["raw/customers/2026-11-25/r/customers.csv"],
        schema_issues=["column 'age': 1 value(s) are not valid integer (rows 3)"],
        expectations=[
            ExpectationLine(
                rule_id="ltv", expectation="expect_x", column="ltv", severity="error", success=True
            ),
            ExpectationLine(
                rule_id="seg",
                expectation="expect_z",
                column="seg",
                severity="error",
                action="quarantine",
                success=False,
                unexpected_count=1,
                element_count=10,
            ),
            ExpectationLine(
                rule_id="email|re",
                expectation="expect_y",
                column="email",
                severity="warn",
                action="warn",
                success=False,
                unexpected_count=2,
                element_count=10,
            ),
        ],
        masked_columns={"email": "hash", "card": "partial"},
        curated_version=1 if status is SourceStatus.PUBLISHED else None,
    )


def test_markdown_lists_status_counts_rules_and_masking() -> None:
    markdown = source_markdown(_result(SourceStatus.PUBLISHED))
    assert markdown.startswith("# customers\n")
    assert "published curated version 1" in markdown
    assert "rows in: 10; rows out: 10" in markdown
    assert "## Expectations: 1/3 passed" in markdown
    assert "| `email\\|re` | warn | warn | 2 | 10 |" in markdown  # pipes in ids cannot break the table
    assert "| `card` | partial |" in markdown
    assert "| `seg` | error | quarantine | 1 | 10 |" in markdown


def test_stopped_result_shows_the_stop_line() -> None:
    result = _result(SourceStatus.STOPPED)
    assert "stop-line" in source_markdown(result)
    assert not result.ok
    run = RunResult(run_id="r", lake="lake", sources=[result, _result(SourceStatus.PUBLISHED)])
    assert not run.ok
    assert [e.rule_id for e in result.warnings] == ["email|re"]
    assert result.failed_blocking == []


def test_errors_survive_pickling_for_prefect_results() -> None:
    error = CatalogError([Problem(__file__, 1, 2, "name", "bad")])
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
