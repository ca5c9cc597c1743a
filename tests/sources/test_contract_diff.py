"""Two contract files compared: read as the catalog reads them, mistakes in either file reported together."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.errors import CatalogError
from sources.contract_diff import diff_contract_files

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "catalog" / "contracts" / "customers.yaml"


def test_a_contract_against_itself_has_no_changes() -> None:
    result = diff_contract_files(EXAMPLE, EXAMPLE)
    assert [c.kind for c in result.changes if c.kind != "version_changed"] == []
    assert result.version_bump_ok


def test_a_bumped_version_is_a_change(tmp_path: Path) -> None:
    new = tmp_path / "customers.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    old_version = next(line for line in text.splitlines() if line.startswith("version: "))
    new.write_text(text.replace(old_version, "version: 99.0.0"), encoding="utf-8")
    result = diff_contract_files(EXAMPLE, new)
    assert [c.kind for c in result.changes] == ["version_changed"]


def test_problems_of_both_files_are_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v3.1.0\nkind: DataContract\n", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        diff_contract_files(tmp_path / "absent.yaml", broken)
    files = {problem.file.name for problem in info.value.problems}
    assert files == {"absent.yaml", "broken.yaml"}
