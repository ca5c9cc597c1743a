"""The whole catalog checked at once, as `lockgate validate` and a data owner's CI check it."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.errors import CatalogError
from labeling.catalog import CatalogCheck, check_catalog

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "catalog"


def test_example_catalog_counts() -> None:
    assert check_catalog(EXAMPLES) == CatalogCheck(root=EXAMPLES, sources=3, contracts=3, plans=1, roles=3)


def test_plan_mistakes_are_problems(catalog: Path) -> None:
    plan = catalog / "labeling" / "support_topics.yaml"
    plan.write_text(plan.read_text(encoding="utf-8") + "unknown_field: 1\n", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        check_catalog(catalog)
    assert [p.file.name for p in info.value.problems] == ["support_topics.yaml"]


def test_a_folder_without_passports_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no 'sources/' folder"):
        check_catalog(tmp_path)
