"""Row quarantine on a table with known bad rows: the rows polars sets aside are the rows GX counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pytest

from contracts.model import Action, Contract
from contracts.quarantine import FAILED_RULES, ROW_NUMBER, failing_rows, split
from contracts.validation import validate

if TYPE_CHECKING:
    from pathlib import Path


def _contract(rules: list[dict]) -> Contract:
    return Contract.model_validate(
        {
            "id": "orders",
            "version": "1.0.0",
            "schema": [
                {
                    "name": "orders",
                    "properties": [
                        {"name": "order_id", "logicalType": "integer"},
                        {"name": "amount", "logicalType": "number"},
                        {"name": "status", "logicalType": "string"},
                        {"name": "code", "logicalType": "string"},
                    ],
                    "quality": rules,
                }
            ],
        }
    )


FRAME = pl.DataFrame(
    {
        "order_id": [1, 2, 3, 4, 5, 6, 7, 8, 8, 10],
        "amount": [10.0, -1.0, 5.0, None, 1e9, 3.0, 0.0, 7.0, 8.0, -0.5],
        "status": ["new", "paid", "lost", "new", None, "paid", "weird", "new", "new", "paid"],
        "code": ["AB-1", "AB-2", "xx", "AB-3", "AB-44", None, "AB-5", "AB-6", "AB-7", "AB-8"],
    }
)

RULES = [
    {"id": "amount", "expectation": "expect_column_values_to_be_between",
     "kwargs": {"column": "amount", "min_value": 0, "max_value": 1000}},
    {"id": "amount_strict", "expectation": "expect_column_values_to_be_between",
     "kwargs": {"column": "amount", "min_value": 0, "strict_min": True}},
    {"id": "status", "expectation": "expect_column_values_to_be_in_set",
     "kwargs": {"column": "status", "value_set": ["new", "paid"]}},
    {"id": "status_not", "expectation": "expect_column_values_to_not_be_in_set",
     "kwargs": {"column": "status", "value_set": ["lost"]}},
    {"id": "code_re", "expectation": "expect_column_values_to_match_regex",
     "kwargs": {"column": "code", "regex": "^AB-[0-9]$"}},
    {"id": "code_not_re", "expectation": "expect_column_values_to_not_match_regex",
     "kwargs": {"column": "code", "regex": "x"}},
    {"id": "code_len", "expectation": "expect_column_value_lengths_to_equal",
     "kwargs": {"column": "code", "value": 4}},
    {"id": "code_len_between", "expectation": "expect_column_value_lengths_to_be_between",
     "kwargs": {"column": "code", "min_value": 3, "max_value": 4}},
    {"id": "amount_nn", "expectation": "expect_column_values_to_not_be_null", "kwargs": {"column": "amount"}},
    {"id": "order_unique", "expectation": "expect_column_values_to_be_unique",
     "kwargs": {"column": "order_id"}},
]  # fmt: skip


@pytest.mark.parametrize("rule", RULES, ids=[r["id"] for r in RULES])
def test_polars_finds_exactly_the_rows_gx_counts(rule: dict) -> None:
    contract = _contract([{**rule, "action": "quarantine"}])
    report = validate(FRAME, contract)
    [outcome] = report.outcomes
    assert outcome.unexpected_count, "each rule has known bad rows in FRAME"
    assert FRAME.select(failing_rows(contract.quality[0]).sum()).item() == outcome.unexpected_count
    assert outcome.action is Action.QUARANTINE
    assert not outcome.blocking
    assert report.passed


def test_split_sets_rows_aside_with_the_rules_they_broke() -> None:
    contract = _contract([{**r, "action": "quarantine"} for r in RULES[:3]])
    report = validate(FRAME, contract)
    held = split(FRAME, contract.quality, report.unexpected_counts)
    # amount < 0 or > 1000: rows 2, 5, 10; amount <= 0: also 7; status outside the set: rows 3, 7.
    assert held.quarantined.get_column(ROW_NUMBER).to_list() == [2, 3, 5, 7, 10]
    assert held.quarantined.get_column(FAILED_RULES).to_list() == [
        ["amount", "amount_strict"],
        ["status"],
        ["amount"],
        ["amount_strict", "status"],
        ["amount", "amount_strict"],
    ]
    assert held.counts == {"amount": 3, "amount_strict": 3, "status": 2}
    assert held.kept.columns == FRAME.columns
    assert held.kept.height == FRAME.height - 5


def test_quarantine_beyond_mostly_blocks() -> None:
    rule = {**RULES[2], "action": "quarantine", "kwargs": {**RULES[2]["kwargs"], "mostly": 0.9}}
    report = validate(FRAME, _contract([rule]))
    [outcome] = report.outcomes
    assert not outcome.success  # 2 of 9 non-null values fail: more than the 10% allowed
    assert outcome.blocking
    assert not report.passed


def test_quarantine_within_mostly_still_sets_rows_aside() -> None:
    rule = {**RULES[2], "action": "quarantine", "kwargs": {**RULES[2]["kwargs"], "mostly": 0.7}}
    contract = _contract([rule])
    report = validate(FRAME, contract)
    assert report.passed
    assert [o.rule_id for o in report.quarantining] == ["status"]
    assert split(FRAME, contract.quality, report.unexpected_counts).quarantined.height == 2


def test_actions_default_from_severity() -> None:
    contract = _contract([{**RULES[0], "severity": "warn"}, {**RULES[2], "id": "s2"}])
    assert [r.on_failure for r in contract.quality] == [Action.WARN, Action.BLOCK]
    report = validate(FRAME, contract)
    assert [o.rule_id for o in report.warnings] == ["amount"]
    assert [o.rule_id for o in report.blocking_failures] == ["s2"]


def test_table_level_rules_cannot_quarantine(tmp_path: Path) -> None:
    from contracts.expectations import check_contract
    from sources.catalog import load_contract

    path = tmp_path / "c.yaml"
    path.write_text(
        "id: orders\nversion: 1.0.0\nschema:\n  - name: orders\n    properties:\n"
        "      - {name: order_id, logicalType: integer}\n    quality:\n"
        "      - expectation: expect_table_row_count_to_be_between\n"
        "        kwargs: {min_value: 1}\n        action: quarantine\n",
        encoding="utf-8",
    )
    contract, problems = load_contract(path, check_contract)
    assert contract is None
    [problem] = problems
    assert str(problem).startswith(
        f"{path}:10:9: schema.0.quality.0.action: expect_table_row_count_to_be_between"
    )
