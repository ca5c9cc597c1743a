"""A check asked for both by a column flag and by an explicit rule runs once, in GX and in the reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from contracts.expectations import all_rules, build_suite
from contracts.model import Action, Severity
from contracts.validation import validate

if TYPE_CHECKING:
    from collections.abc import Callable

    from contracts.model import Contract

    MakeContract = Callable[..., Contract]

NOT_NULL = "expect_column_values_to_not_be_null"
UNIQUE = "expect_column_values_to_be_unique"


def _shape(contract: Contract) -> list[tuple[str, str, str, Action]]:
    return [(r.rule_id, r.expectation, r.severity.value, r.on_failure) for r in all_rules(contract)]


def test_an_explicit_rule_that_restates_a_flag_replaces_the_implied_one(make_contract: MakeContract) -> None:
    contract = make_contract(
        [
            {"name": "id", "logicalType": "integer", "primaryKey": True},
            {"name": "email", "logicalType": "string", "required": True},
        ],
        quality=[
            {"expectation": NOT_NULL, "kwargs": {"column": "id"}},
            {
                "id": "email-present",
                "expectation": NOT_NULL,
                "kwargs": {"column": "email"},
                "description": "d",
            },
        ],
    )
    assert _shape(contract) == [
        ("unique:id", UNIQUE, "error", Action.BLOCK),  # implied, nothing restates it
        (f"{NOT_NULL}:id", NOT_NULL, "error", Action.BLOCK),  # the explicit rules, in file order
        ("email-present", NOT_NULL, "error", Action.BLOCK),
    ]
    assert all_rules(contract)[-1].description == "d"
    suite = build_suite(contract)
    assert [(e.meta or {}).get("rule_id") for e in suite.expectations] == [
        "unique:id",
        f"{NOT_NULL}:id",
        "email-present",
    ]


def test_a_looser_restatement_runs_as_strict_as_the_flag(make_contract: MakeContract) -> None:
    contract = make_contract(
        [{"name": "email", "logicalType": "string", "required": True, "unique": True}],
        quality=[
            {"id": "mostly-present", "expectation": NOT_NULL, "kwargs": {"column": "email", "mostly": 0.5}},
            {"id": "dupes", "expectation": UNIQUE, "kwargs": {"column": "email"}, "severity": "warn"},
        ],
    )
    rules = all_rules(contract)
    assert [(r.rule_id, r.severity, r.on_failure, r.kwargs) for r in rules] == [
        ("mostly-present", Severity.ERROR, Action.BLOCK, {"column": "email"}),
        ("dupes", Severity.ERROR, Action.BLOCK, {"column": "email"}),
    ]
    assert contract.quality[0].kwargs == {"column": "email", "mostly": 0.5}  # the contract itself is kept

    # One expectation per check in GX; a null blocks under the explicit rule's id, counted once.
    report = validate(pl.DataFrame({"email": ["a@x.ru", None, "b@x.ru", "c@x.ru"]}), contract)
    assert [o.rule_id for o in report.outcomes] == ["mostly-present", "dupes"]
    assert [o.rule_id for o in report.blocking_failures] == ["mostly-present"]
    assert report.outcomes[0].unexpected_count == 1


def test_a_rule_that_checks_more_than_the_flag_keeps_both(make_contract: MakeContract) -> None:
    contract = make_contract(
        [
            {"name": "email", "logicalType": "string", "required": True},
            {"name": "kind", "logicalType": "string"},
        ],
        quality=[
            {
                "id": "email-for-people",
                "expectation": NOT_NULL,
                "kwargs": {
                    "column": "email",
                    "row_condition": 'kind=="person"',
                    "condition_parser": "pandas",
                },
            },
            {"id": "kind-present", "expectation": NOT_NULL, "kwargs": {"column": "kind"}, "severity": "warn"},
        ],
    )
    assert [r.rule_id for r in all_rules(contract)] == ["required:email", "email-for-people", "kind-present"]
    assert all_rules(contract)[-1].severity is Severity.WARN  # no flag on kind: the rule stays as written
