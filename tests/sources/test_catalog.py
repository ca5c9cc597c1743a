"""Loading a catalog: every mistake in every file comes back at once, pinned to its line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from testkit.catalog_files import CONTRACT, PASSPORT, write_catalog

from contracts.errors import CatalogError
from contracts.model import SHORTHAND_RULES
from sources.catalog import load_catalog

if TYPE_CHECKING:
    from pathlib import Path


def _problems(root: Path) -> list[str]:
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    return [str(p) for p in info.value.problems]


def test_valid_catalog_loads(tmp_path: Path) -> None:
    catalog = load_catalog(write_catalog(tmp_path))
    [source] = catalog.sources
    assert source.name == "people"
    assert source.contract.id == "people"
    assert source.contract_path == (tmp_path / "contracts" / "people.yaml").resolve()
    assert source.passport.cron == "0 3 * * *"


def test_every_mistake_in_every_file_is_reported_with_its_position(tmp_path: Path) -> None:
    passport = (
        PASSPORT.replace("name: people", "name: People Data")
        .replace("owner: owner@example.com", "owner: not-an-email")
        .replace("update_frequency: daily", "update_frequency: every day")
        .replace('  delimiter: ","', '  delimiter: ","\n  colour: red')
        + "retention: 3\n"
    )
    contract = CONTRACT.replace("logicalType: integer", "logicalType: int").replace(
        "masking: hash", "masking: scramble"
    )
    write_catalog(tmp_path, passport, contract)
    second = PASSPORT.replace("name: people", "name: second").replace(
        "contracts/people.yaml", "contracts/missing.yaml"
    )
    (tmp_path / "sources" / "second.yaml").write_text(
        second.replace("retention_days: 365", "retention_days: lots")
    )

    people, contract_file, second_file = (
        tmp_path / "sources" / "people.yaml",
        tmp_path / "contracts" / "people.yaml",
        tmp_path / "sources" / "second.yaml",
    )
    assert _problems(tmp_path) == [
        f"{contract_file}:9:9: schema.0.properties.0.logicalType: "
        "Input should be 'string', 'integer', 'number', 'boolean', 'date' or 'timestamp'",
        f"{contract_file}:15:9: schema.0.properties.1.masking: "
        f"unknown masking rule: use one of {', '.join(sorted(SHORTHAND_RULES))}",
        f"{people}:1:1: name: not a slug: use a-z, 0-9 and '_', start with a letter, at most 63 characters",
        f"{people}:3:1: owner: value is not a valid email address: An email address must have an @-sign.",
        f"{people}:7:1: update_frequency: neither one of hourly, daily, weekly, monthly "
        "nor a valid 5-field cron expression",
        f"{people}:15:3: connector.colour: unknown field",
        f"{people}:16:1: retention: unknown field",
        f"{second_file}:9:1: retention_days: "
        "Input should be a valid integer, unable to parse string as an integer",
        f"{second_file}:10:1: contract: contract file not found: contracts/missing.yaml",
    ]


def test_missing_required_field_points_at_the_parent(tmp_path: Path) -> None:
    write_catalog(tmp_path, PASSPORT.replace("steward: steward@example.com\n", ""))
    assert _problems(tmp_path) == [
        f"{tmp_path / 'sources' / 'people.yaml'}:1:1: required field 'steward' is missing"
    ]


def test_pii_without_masking_is_an_error(tmp_path: Path) -> None:
    write_catalog(tmp_path, contract=CONTRACT.replace("        masking: hash\n", ""))
    [problem] = _problems(tmp_path)
    assert "schema.0.properties.1" in problem
    assert "holds PII (email) but declares no masking rule" in problem


def test_rule_on_unknown_column_is_an_error(tmp_path: Path) -> None:
    write_catalog(
        tmp_path, contract=CONTRACT.replace("column: person_id, min_value", "column: age, min_value")
    )
    [problem] = _problems(tmp_path)
    assert "refers to unknown column 'age'" in problem


def test_duplicate_source_names_are_refused(tmp_path: Path) -> None:
    write_catalog(tmp_path)
    (tmp_path / "sources" / "people_copy.yaml").write_text(PASSPORT, encoding="utf-8")
    [problem] = _problems(tmp_path)
    assert problem.startswith(f"{tmp_path / 'sources' / 'people_copy.yaml'}:1:1: name:")
    assert "also registered" in problem


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("contract", "../outside.yaml", "relative to the catalog folder"),
        ("legal_basis", "because", "Input should be 'consent'"),
        ("sensitivity", "secret", "Input should be 'public'"),
        ("retention_days", "0", "greater than 0"),
        ("update_frequency", "'61 * * * *'", "nor a valid 5-field cron"),
    ],
)
def test_field_rules(tmp_path: Path, field: str, value: str, message: str) -> None:
    lines = [f"{field}: {value}" if line.startswith(f"{field}:") else line for line in PASSPORT.splitlines()]
    write_catalog(tmp_path, "\n".join(lines) + "\n")
    problems = _problems(tmp_path)
    assert any(f": {field}: " in p and message in p for p in problems), problems


def test_connector_options_are_checked(tmp_path: Path) -> None:
    write_catalog(tmp_path, PASSPORT.replace('delimiter: ","', "delimiter: ';;'\n  encoding: klingon"))
    problems = _problems(tmp_path)
    assert any("connector.delimiter" in p and "at most 1 character" in p for p in problems), problems
    assert any("connector.encoding" in p and "unknown text encoding: use" in p for p in problems), problems


def test_unknown_connector_kind(tmp_path: Path) -> None:
    write_catalog(tmp_path, PASSPORT.replace("kind: csv", "kind: excel"))
    [problem] = _problems(tmp_path)
    assert (
        problem == f"{tmp_path / 'sources' / 'people.yaml'}:12:3: connector.kind: "
        "unknown kind: use one of csv, parquet, ndjson, postgres, s3"
    )


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    write_catalog(tmp_path, "- just\n- a list\n")
    assert _problems(tmp_path) == [
        f"{tmp_path / 'sources' / 'people.yaml'}:1:1: expected a mapping of fields at the top level"
    ]


def test_empty_or_absent_catalog(tmp_path: Path) -> None:
    assert "no 'sources/' folder" in _problems(tmp_path)[0]
    (tmp_path / "sources").mkdir()
    assert "no passport files" in _problems(tmp_path)[0]


def test_select_names_unknown_sources(tmp_path: Path) -> None:
    catalog = load_catalog(write_catalog(tmp_path))
    assert [s.name for s in catalog.select([])] == ["people"]
    with pytest.raises(KeyError, match="unknown source\\(s\\): nope; the catalog has: people"):
        catalog.select(["nope"])
