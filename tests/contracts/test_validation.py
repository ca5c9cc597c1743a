"""validate: real Great Expectations on real polars frames; severity decides, counts only."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import TYPE_CHECKING

import polars as pl
import pytest

from contracts.conform import conform
from contracts.model import Severity
from contracts.validation import ValidationReport, safe_exception, validate

if TYPE_CHECKING:
    from collections.abc import Callable

    from contracts.model import Contract

    MakeContract = Callable[..., Contract]


PEOPLE = [
    {"name": "person_id", "logicalType": "integer", "primaryKey": True},
    {"name": "email", "logicalType": "string", "required": True},
    {"name": "score", "logicalType": "number"},
    {"name": "born", "logicalType": "date"},
]


def _frame(**overrides: list) -> pl.DataFrame:
    data = {
        "person_id": [1, 2, 3, 4],
        "email": ["a@example.com", "b@example.com", "c@example.com", "d@example.com"],
        "score": [0.5, 1.0, 2.5, 3.0],
        "born": [date(1990, 1, 1), date(1985, 5, 5), None, date(2001, 12, 31)],
    }
    data.update(overrides)
    return pl.DataFrame(data)


def _outcome(report: ValidationReport, rule_id: str):
    return next(o for o in report.outcomes if o.rule_id == rule_id)


def test_passing_suite(make_contract: MakeContract) -> None:
    contract = make_contract(
        PEOPLE,
        quality=[
            {
                "expectation": "expect_column_values_to_be_between",
                "kwargs": {"column": "score", "min_value": 0},
            },
            {
                "expectation": "expect_column_values_to_be_between",
                "kwargs": {"column": "born", "min_value": "1900-01-01"},
            },
            {"expectation": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        ],
    )
    report = validate(_frame(), contract)

    assert report.passed
    assert report.blocking_failures == [] and report.warnings == []
    assert [o.rule_id for o in report.outcomes] == [
        "required:person_id",
        "unique:person_id",
        "required:email",
        "expect_column_values_to_be_between:score",
        "expect_column_values_to_be_between:born",
        "expect_table_row_count_to_be_between",
    ]
    first = report.outcomes[0]
    assert (first.success, first.element_count, first.unexpected_count, first.exception) == (True, 4, 0, None)
    assert report.to_dict()["passed"] is True


def test_failed_error_rule_blocks_with_its_count(make_contract: MakeContract) -> None:
    contract = make_contract(
        PEOPLE,
        quality=[
            {
                "expectation": "expect_column_values_to_be_between",
                "kwargs": {"column": "score", "min_value": 0},
            }
        ],
    )
    report = validate(_frame(score=[-5.0, 1.0, -1.5, None], email=["a", None, "c", "d"]), contract)

    assert not report.passed
    assert {o.rule_id for o in report.blocking_failures} == {
        "expect_column_values_to_be_between:score",
        "required:email",
    }
    score = _outcome(report, "expect_column_values_to_be_between:score")
    assert (score.success, score.unexpected_count, score.column, score.severity) == (
        False,
        2,
        "score",
        Severity.ERROR,
    )
    assert _outcome(report, "required:email").unexpected_count == 1
    summary = report.to_dict()
    assert summary["blocking_failures"] == ["required:email", "expect_column_values_to_be_between:score"]
    assert "-5.0" not in str(summary)


def test_failed_warn_rule_is_only_a_warning(make_contract: MakeContract) -> None:
    contract = make_contract(
        PEOPLE,
        quality=[
            {
                "id": "email-shape",
                "expectation": "expect_column_values_to_match_regex",
                "kwargs": {"column": "email", "regex": "@example\\.org$"},
                "severity": "warn",
            }
        ],
    )
    report = validate(_frame(), contract)
    assert report.passed
    assert [o.rule_id for o in report.warnings] == ["email-shape"]
    assert report.warnings[0].unexpected_count == 4
    assert report.to_dict()["warnings"] == ["email-shape"]


def test_mostly_is_honoured(make_contract: MakeContract) -> None:
    def contract(mostly: float):
        return make_contract(
            PEOPLE,
            quality=[
                {
                    "id": "mostly",
                    "expectation": "expect_column_values_to_be_in_set",
                    "kwargs": {"column": "score", "value_set": [0.5, 1.0, 2.5], "mostly": mostly},
                }
            ],
        )

    assert _outcome(validate(_frame(), contract(0.7)), "mostly").success  # 3 of 4 in the set
    strict = _outcome(validate(_frame(), contract(0.8)), "mostly")
    assert not strict.success
    assert strict.unexpected_count == 1
    assert strict.unexpected_percent == pytest.approx(25.0)


def test_expectation_on_a_missing_column_fails_with_exception_text(make_contract: MakeContract) -> None:
    contract = make_contract(
        PEOPLE,
        quality=[
            {
                "expectation": "expect_column_values_to_be_between",
                "kwargs": {"column": "score", "min_value": 0},
            }
        ],
    )
    report = validate(_frame().drop("score"), contract)
    outcome = _outcome(report, "expect_column_values_to_be_between:score")
    assert not outcome.success
    assert outcome.exception == "column 'score' is not in the data"
    assert outcome in report.blocking_failures


def test_exception_texts_carry_no_values(make_contract: MakeContract) -> None:
    secret = "SECRET-Ivanov-4111"
    contract = make_contract(
        [{"name": "code", "logicalType": "string"}],
        quality=[
            {
                "id": "mean",
                "expectation": "expect_column_mean_to_be_between",
                "kwargs": {"column": "code", "min_value": 1},
            },
            {
                "id": "between",
                "expectation": "expect_column_values_to_be_between",
                "kwargs": {"column": "code", "min_value": 1},
            },
        ],
    )
    report = validate(pl.DataFrame({"code": [secret, "other value 17"]}), contract)
    for outcome in report.outcomes:
        assert not outcome.success
        assert outcome.exception
        assert secret not in outcome.exception and "17" not in outcome.exception
    assert secret not in str(report.to_dict())


def test_safe_exception_scrubs_values_it_cannot_recognise() -> None:
    frame = pl.DataFrame({"name": ["Ivan Petrov", "Anna"], "n": [1, 2]})
    names = {"name", "n"}
    text = safe_exception(
        "Unknown string format: Ivan Petrov at position 3, 'x@y.ru' in 'name'", frame, names
    )
    assert "Ivan Petrov" not in text and "x@y.ru" not in text and "3" not in text
    assert "'name'" in text
    assert safe_exception('Error: The column "zz" in BatchData does not exist.', frame, names) == (
        "a column the rule names is not in the data"
    )


def test_conformed_csv_text_validates(make_contract: MakeContract) -> None:
    contract = make_contract(
        PEOPLE,
        quality=[
            {
                "expectation": "expect_column_values_to_be_between",
                "kwargs": {"column": "born", "max_value": "2000-01-01"},
            }
        ],
    )
    text = pl.DataFrame(
        {
            "person_id": ["1", "2"],
            "email": ["a", "b"],
            "score": ["1", ""],
            "born": ["1990-01-01", "2005-06-01"],
        }
    )
    conformed = conform(text, contract)
    assert conformed.issues == []
    report = validate(conformed.frame, contract)
    assert [o.rule_id for o in report.blocking_failures] == ["expect_column_values_to_be_between:born"]
    assert report.blocking_failures[0].unexpected_count == 1


def test_reports_pickle(make_contract: MakeContract) -> None:
    report = validate(_frame(email=["a", None, "c", "d"]), make_contract(PEOPLE))
    again = pickle.loads(pickle.dumps(report))
    assert again == report
    assert [o.rule_id for o in again.blocking_failures] == ["required:email"]


def test_concurrent_validations_do_not_mix(make_contract: MakeContract) -> None:
    """The flow validates sources on a thread pool: each call must see only its own frame."""
    contract = make_contract(
        PEOPLE,
        quality=[
            {
                "expectation": "expect_column_values_to_be_between",
                "kwargs": {"column": "score", "min_value": 0},
            }
        ],
    )

    def run(bad: int) -> int | None:
        scores = [-1.0] * bad + [1.0] * (8 - bad)
        frame = pl.DataFrame(
            {"person_id": range(8), "email": ["e"] * 8, "score": scores, "born": [None] * 8},
            schema_overrides={"born": pl.Date},
        )
        return _outcome(
            validate(frame, contract), "expect_column_values_to_be_between:score"
        ).unexpected_count

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(run, [0, 1, 2, 3, 4, 5, 6, 7])) == [0, 1, 2, 3, 4, 5, 6, 7]


def test_contract_without_rules_passes(make_contract: MakeContract) -> None:
    report = validate(
        pl.DataFrame({"note": ["x"]}), make_contract([{"name": "note", "logicalType": "string"}])
    )
    assert report.passed
    assert report.outcomes == []
    assert report.row_count == 1
