"""The committed JSON Schemas match the models, and editors checking YAML with them agree with us."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML
from testkit.catalog_files import CONTRACT, PASSPORT

from labeling.catalog import SCHEMAS
from sources.schemas import render_schema

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("filename", sorted(SCHEMAS))
def test_committed_schema_matches_the_model(filename: str) -> None:
    committed = (REPO / "schemas" / filename).read_text(encoding="utf-8")
    assert committed == render_schema(SCHEMAS[filename]), "schemas are stale: run `make schemas` and commit"


def _validator(filename: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((REPO / "schemas" / filename).read_text(encoding="utf-8")))


def test_valid_yaml_passes_the_editor_schema() -> None:
    yaml = YAML(typ="safe")
    assert list(_validator("passport.schema.json").iter_errors(yaml.load(PASSPORT))) == []
    assert list(_validator("contract.schema.json").iter_errors(yaml.load(CONTRACT))) == []


def test_editor_schema_flags_what_the_loader_flags() -> None:
    yaml = YAML(typ="safe")
    bad = yaml.load(PASSPORT.replace("legal_basis: contract", "legal_basis: because") + "colour: red\n")
    messages = [e.message for e in _validator("passport.schema.json").iter_errors(bad)]
    assert any("because" in m for m in messages), messages
    assert any("colour" in m for m in messages), messages


def test_example_catalog_files_name_their_schema() -> None:
    catalog = REPO / "examples" / "catalog"
    for folder, schema in (
        ("sources", "passport.schema.json"),
        ("contracts", "contract.schema.json"),
        ("labeling", "labeling-plan.schema.json"),
    ):
        for path in sorted((catalog / folder).glob("*.yaml")):
            first_line = path.read_text(encoding="utf-8").splitlines()[0]
            assert first_line == f"# yaml-language-server: $schema=../../../schemas/{schema}", path
            data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
            assert list(_validator(schema).iter_errors(data)) == [], path
