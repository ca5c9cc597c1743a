"""`lockgate contract diff OLD NEW` as a data owner's CI runs it: the table, JSON and exit codes.

How each change is classified is tested on the diff engine in tests/contracts/test_diff.py.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from testkit.contract_documents import PROPERTIES, document, with_column, with_rule, write_document
from typer.testing import CliRunner

from cli.app import app

if TYPE_CHECKING:
    from pathlib import Path

    from typer.testing import Result


def _diff(*args: str) -> Result:
    return CliRunner().invoke(app, ["contract", "diff", *args], env={"COLUMNS": "200"})


def test_cli_identical_contracts_exit_0(tmp_path: Path) -> None:
    old = write_document(tmp_path, "old.yaml", document())
    result = _diff(str(old), str(old))
    assert result.exit_code == 0, result.output
    assert "no changes; version 1.0.0 → 1.0.0" in result.stdout


def test_cli_breaking_change_without_major_bump_exits_1(tmp_path: Path) -> None:
    old = write_document(tmp_path, "old.yaml", document(version="1.2.0"))
    new = write_document(
        tmp_path, "new.yaml", document(with_column("email", masking="redact"), version="1.3.0")
    )
    result = _diff(str(old), str(new))
    assert result.exit_code == 1, result.output
    assert "masking_changed" in result.stdout
    assert "schema.customers.properties.email.masking" in result.stdout
    assert "1 breaking change; version 1.2.0 → 1.3.0 needs a major bump (2.0.0)" in result.stdout

    bumped_new = write_document(
        tmp_path, "major.yaml", document(with_column("email", masking="redact"), version="2.0.0")
    )
    ok = _diff(str(old), str(bumped_new))
    assert ok.exit_code == 0, ok.output
    assert "is a major bump: ok" in ok.stdout


def test_cli_json_output(tmp_path: Path) -> None:
    old = write_document(tmp_path, "old.yaml", document(version="0.4.0"))
    new = write_document(
        tmp_path, "new.yaml", document([p for p in PROPERTIES if p["name"] != "signup"], version="0.5.0")
    )
    result = _diff(str(old), str(new), "--format", "json")
    assert result.exit_code == 0, result.output  # 0.x: a minor bump may break
    data = json.loads(result.stdout)
    assert data["old_version"] == "0.4.0"
    assert data["new_version"] == "0.5.0"
    assert (data["breaking"], data["required_bump"], data["version_ok"]) == (True, "major", True)
    removed = data["changes"][1]
    assert (removed["kind"], removed["breaking"], removed["old"]) == ("column_removed", True, "date")


def test_cli_invalid_contract_exits_2_with_positions(tmp_path: Path) -> None:
    good = write_document(tmp_path, "old.yaml", document())
    bad = tmp_path / "new.yaml"
    bad.write_text(
        "apiVersion: v3.1.0\nkind: DataContract\nid: customers\nversion: 1.0.0\nschema:\n"
        "  - name: customers\n    properties:\n      - name: amount\n        logicalType: decimal\n",
        encoding="utf-8",
    )
    result = _diff(str(good), str(bad))
    assert result.exit_code == 2
    assert f"{bad}:9:9: schema.0.properties.0.logicalType:" in result.stderr
    assert "1 problem(s) found" in result.stderr
    assert result.stdout == ""

    missing = _diff(str(good), str(tmp_path / "absent.yaml"))
    assert missing.exit_code == 2
    assert "absent.yaml:0:0: cannot read file" in missing.stderr


def test_cli_check_builds_rules_with_great_expectations(tmp_path: Path) -> None:
    old = write_document(tmp_path, "old.yaml", document())
    typo = write_document(
        tmp_path, "new.yaml", document(quality=with_rule(0, expectation="expect_column_values_to_be_betwen"))
    )
    assert _diff(str(old), str(typo)).exit_code == 1  # without --check: a changed expectation, breaking
    result = _diff(str(old), str(typo), "--check")
    assert result.exit_code == 2
    assert "unknown expectation 'expect_column_values_to_be_betwen'" in result.stderr
