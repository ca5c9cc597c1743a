"""The whole catalog: sources with their contracts, and the labeling plans over them.

Kept in the labeling layer, the lowest one that sees both, so that ``sources`` knows nothing of plans.
``lockgate validate`` and a data owner's CI check the catalog with `check_catalog` before any run;
``lockgate schema`` writes the JSON Schemas their editors use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from contracts.expectations import check_contract
from labeling.plan import LabelingPlan, load_plans
from sources.catalog import load_catalog
from sources.schemas import SCHEMAS as SOURCE_SCHEMAS
from sources.schemas import write_schemas

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import BaseModel

SCHEMAS: dict[str, type[BaseModel]] = {**SOURCE_SCHEMAS, "labeling-plan.schema.json": LabelingPlan}


@dataclass(frozen=True)
class CatalogCheck:
    """What a valid catalog holds."""

    root: Path
    sources: int
    contracts: int  # distinct contract files (sources may share one)
    plans: int


def check_catalog(root: Path) -> CatalogCheck:
    """Check every file of the catalog at `root`; raises `CatalogError` with every problem found."""
    loaded = load_catalog(root, check=check_contract)
    plans = load_plans(loaded)
    return CatalogCheck(
        root=root,
        sources=len(loaded.sources),
        contracts=len({s.contract_path for s in loaded.sources}),
        plans=len(plans),
    )


def write_catalog_schemas(folder: Path) -> list[Path]:
    """Write the JSON Schema of passports, contracts and labeling plans into `folder`; the files written."""
    return write_schemas(folder, SCHEMAS)
