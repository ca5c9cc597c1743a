"""Compiling contracts into GX suites, and reporting rules GX would refuse at their YAML position."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from contracts.errors import RuleError
from contracts.expectations import all_rules, build_suite, check_contract, implicit_rules
from contracts.model import Contract, Severity
from contracts.yamlio import read_yaml
from sources.catalog import parse_model

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    MakeContract = Callable[..., Contract]


CONTRACT_YAML = """\
apiVersion: v3.1.0
kind: DataContract
id: people
version: 1.0.0
schema:
  - name: people
    properties:
      - name: person_id
        logicalType: integer
        primaryKey: true
      - name: email
        logicalType: string
        required: true
        unique: true
        pii: email
        masking: hash
    quality:
      - expectation: expect_column_values_to_be_between
        kwargs: {column: person_id, min_value: 1}
      - expectation: expect_column_values_to_match_regex
        severity: warn
        kwargs:
          column: email
          regex: "@"
"""


def _check(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "people.yaml"
    path.write_text(text, encoding="utf-8")
    document = read_yaml(path)
    contract, problems = parse_model(Contract, document)
    assert contract is not None, problems
    return [str(p).removeprefix(f"{path}:") for p in check_contract(contract, document)]


def test_column_flags_imply_rules(make_contract: MakeContract) -> None:
    contract = make_contract(
        [
            {"name": "id", "logicalType": "integer", "primaryKey": True},
            {"name": "email", "logicalType": "string", "required": True},
            {"name": "code", "logicalType": "string", "unique": True},
            {"name": "note", "logicalType": "string"},
        ],
        quality=[{"expectation": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}}],
    )
    implicit = implicit_rules(contract)
    assert [(r.rule_id, r.expectation, r.column, r.severity) for r in implicit] == [
        ("required:id", "expect_column_values_to_not_be_null", "id", Severity.ERROR),
        ("unique:id", "expect_column_values_to_be_unique", "id", Severity.ERROR),
        ("required:email", "expect_column_values_to_not_be_null", "email", Severity.ERROR),
        ("unique:code", "expect_column_values_to_be_unique", "code", Severity.ERROR),
    ]
    assert [r.rule_id for r in all_rules(contract)][-1] == "expect_table_row_count_to_be_between"


def test_suite_carries_rule_id_and_severity_in_meta(make_contract: MakeContract) -> None:
    contract = make_contract(
        [{"name": "email", "logicalType": "string", "required": True}],
        quality=[
            # Same check as the implicit one: it runs once, under the explicit rule's id.
            {
                "id": "email-present",
                "expectation": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "email"},
            },
            {
                "expectation": "expect_column_values_to_match_regex",
                "kwargs": {"column": "email", "regex": "@"},
            },
        ],
    )
    suite = build_suite(contract)
    metas = [e.meta for e in suite.expectations]
    assert metas == [
        {"rule_id": "email-present", "severity": "error"},
        {"rule_id": "expect_column_values_to_match_regex:email", "severity": "error"},
    ]
    assert suite.name == "lockgate-people-1.0.0"


def test_a_clean_contract_has_no_problems(tmp_path: Path) -> None:
    assert _check(tmp_path, CONTRACT_YAML) == []


def test_unknown_expectation_is_reported_at_its_line_with_a_suggestion(tmp_path: Path) -> None:
    text = CONTRACT_YAML.replace("expect_column_values_to_match_regex", "expect_column_values_to_match_regx")
    [problem] = _check(tmp_path, text)
    assert problem.startswith("20:9: schema.0.quality.1.expectation: ")
    assert "unknown expectation 'expect_column_values_to_match_regx'" in problem
    assert "did you mean 'expect_column_values_to_match_regex'" in problem


def test_bad_arguments_are_reported_at_the_kwargs_line(tmp_path: Path) -> None:
    text = CONTRACT_YAML.replace("{column: person_id, min_value: 1}", "{column: person_id, colour: 1}")
    [problem] = _check(tmp_path, text)
    assert problem.startswith("19:9: schema.0.quality.0.kwargs: ")
    assert "unknown argument 'colour'" in problem
    assert "min_value and max_value cannot both be None" in problem


def test_wrongly_typed_and_reserved_arguments_are_reported(tmp_path: Path) -> None:
    text = CONTRACT_YAML.replace("min_value: 1}", "min_value: 1, mostly: 5}").replace(
        'regex: "@"', 'regex: "@"\n          result_format: COMPLETE'
    )
    first, second = _check(tmp_path, text)
    assert first.startswith("19:9: schema.0.quality.0.kwargs: ")
    assert "argument 'mostly'" in first
    assert second.startswith("22:9: schema.0.quality.1.kwargs: ")
    assert "result_format" in second


def test_rule_ids_that_clash_with_implicit_rules_are_reported(tmp_path: Path) -> None:
    text = CONTRACT_YAML.replace(
        "      - expectation: expect_column_values_to_be_between",
        "      - id: required:email\n        expectation: expect_column_values_to_be_between",
    )
    [problem] = _check(tmp_path, text)
    assert problem.startswith("18:9: schema.0.quality.0.id: ")


def test_build_suite_refuses_what_check_contract_reports(make_contract: MakeContract) -> None:
    contract = make_contract(
        [{"name": "id", "logicalType": "integer"}],
        quality=[{"expectation": "expect_column_values_to_be_nice", "kwargs": {"column": "id"}}],
    )
    with pytest.raises(RuleError) as info:
        build_suite(contract)
    assert info.value.field == "expectation"


def test_unknown_columns_in_pair_arguments_are_reported(tmp_path: Path) -> None:
    text = CONTRACT_YAML.replace(
        "expect_column_values_to_be_between\n        kwargs: {column: person_id, min_value: 1}",
        "expect_column_pair_values_to_be_equal\n        kwargs: {column_A: person_id, column_B: mail}",
    )
    [problem] = _check(tmp_path, text)
    assert problem.startswith("19:9: schema.0.quality.0.kwargs: ")
    assert "unknown column(s) 'mail'" in problem
