"""`lockgate validate` and `lockgate schema` as a data owner runs them."""

from __future__ import annotations

import shutil
from pathlib import Path

from testkit.catalog_files import CONTRACT, PASSPORT, write_catalog
from typer.testing import CliRunner

from cli.app import app

REPO = Path(__file__).resolve().parents[2]


def test_clean_catalog_exits_zero_with_a_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", "--catalog", str(write_catalog(tmp_path))])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"ok: 1 source(s), 1 contract(s), 0 labeling plan(s) in {tmp_path}"


def test_example_catalog_is_valid() -> None:
    result = CliRunner().invoke(app, ["validate", "--catalog", str(REPO / "examples" / "catalog")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: 3 source(s), 3 contract(s), 1 labeling plan(s)")


def test_mistakes_exit_one_and_name_file_line_and_field(tmp_path: Path) -> None:
    contract = CONTRACT.replace("expect_column_values_to_be_between", "expect_column_values_to_be_nice")
    write_catalog(tmp_path, PASSPORT.replace("steward@example.com", "steward-at-example"), contract)
    result = CliRunner().invoke(app, ["validate", "--catalog", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1] == "2 problem(s) found"
    contract_line, passport_line = lines[:2]
    assert contract_line.startswith(f"{tmp_path / 'contracts' / 'people.yaml'}:17:")
    assert "schema.0.quality.0.expectation" in contract_line
    assert "expect_column_values_to_be_nice" in contract_line
    assert passport_line.startswith(f"{tmp_path / 'sources' / 'people.yaml'}:4:1: steward: ")


def test_bad_expectation_arguments_are_reported(tmp_path: Path) -> None:
    contract = CONTRACT.replace(
        "kwargs: {column: person_id, min_value: 1}", "kwargs: {column: person_id, colour: 1}"
    )
    write_catalog(tmp_path, contract=contract)
    result = CliRunner().invoke(app, ["validate", "--catalog", str(tmp_path)])
    assert result.exit_code == 1
    assert "schema.0.quality.0.kwargs" in result.output


def test_labeling_plan_mistakes_are_reported_with_the_rest(tmp_path: Path) -> None:
    catalog = Path(shutil.copytree(REPO / "examples" / "catalog", tmp_path / "catalog"))
    plan = catalog / "labeling" / "support_topics.yaml"
    plan.write_text(plan.read_text().replace("overlap: 3", "overlap: lots"))
    result = CliRunner().invoke(app, ["validate", "--catalog", str(catalog)])
    assert result.exit_code == 1
    assert f"{plan}:21:1: overlap: Input should be a valid integer" in result.output
    assert result.output.strip().endswith("1 problem(s) found")


def test_schema_command_writes_every_schema(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["schema", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in ("passport.schema.json", "contract.schema.json", "labeling-plan.schema.json"):
        assert (tmp_path / name).read_text() == (REPO / "schemas" / name).read_text()
