"""JSON Schemas for the YAML a data owner writes, so editors can complete and check it.

The schemas are generated from the pydantic models (the single source of truth) and committed
under ``schemas/``; a test keeps the committed files equal to what the models produce.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from contracts.model import Contract
from sources.access import AccessPolicy
from sources.passport import Passport

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from pydantic import BaseModel

SCHEMAS: dict[str, type[BaseModel]] = {
    "passport.schema.json": Passport,
    "contract.schema.json": Contract,
    "access.schema.json": AccessPolicy,
}


def render_schema(model: type[BaseModel]) -> str:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_schemas(out_dir: Path, schemas: Mapping[str, type[BaseModel]] = SCHEMAS) -> list[Path]:
    """Write every schema into `out_dir`; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, model in schemas.items():
        path = out_dir / filename
        path.write_text(render_schema(model), encoding="utf-8")
        written.append(path)
    return written
