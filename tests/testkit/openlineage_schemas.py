"""Validate OpenLineage events against the spec's JSON Schemas, offline.

The schemas are vendored under ``tests/fixtures/openlineage/`` (see its README) and served to
`jsonschema` through a `referencing` registry, so every ``$ref`` between the event schema and the facet
schemas resolves from those files, never over the network. An event is checked against
``OpenLineage.json``; then each facet against the facet schema its ``_schemaURL`` names, which must be
one of the vendored files (so a client that moved to a facet version we do not have fails here).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "openlineage"
EVENT_SCHEMA_ID = "https://openlineage.io/spec/2-0-2/OpenLineage.json"


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    """Every vendored schema by its ``$id``."""
    found = {}
    for path in [SCHEMAS / "OpenLineage.json", *sorted((SCHEMAS / "facets").glob("*.json"))]:
        schema = json.loads(path.read_text(encoding="utf-8"))
        found[schema["$id"]] = schema
    return found


@cache
def _registry() -> Registry:
    return Registry().with_resources(
        (schema_id, Resource.from_contents(schema)) for schema_id, schema in _schemas().items()
    )


def _validator(schema_id: str) -> Draft202012Validator:
    return Draft202012Validator(
        _schemas()[schema_id], registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _facet_groups(event: dict[str, Any]) -> list[dict[str, Any]]:
    groups = [event["run"].get("facets") or {}, event["job"].get("facets") or {}]
    for dataset in [*(event.get("inputs") or []), *(event.get("outputs") or [])]:
        for name in ("facets", "inputFacets", "outputFacets"):
            groups.append(dataset.get(name) or {})
    return groups


def validate_event(event: dict[str, Any]) -> list[str]:
    """Raise `jsonschema.ValidationError` unless the event and each of its facets fit the spec; return
    the facet schema ids used (so a test can say which were checked)."""
    _validator(EVENT_SCHEMA_ID).validate(event)
    used = []
    for group in _facet_groups(event):
        for name, facet in group.items():
            schema_id = facet["_schemaURL"].partition("#")[0]
            assert schema_id in _schemas(), f"facet {name!r} names a schema we have not vendored: {schema_id}"
            schema = _schemas()[schema_id]
            assert name in schema["properties"], f"facet {name!r} is not what {schema_id} defines"
            _validator(schema_id).validate({name: facet})
            used.append(schema_id)
    return used
