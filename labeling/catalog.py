"""The whole catalog: sources with their contracts, and the labeling plans over them.

Kept in the labeling layer, the lowest one that sees both, so that ``sources`` knows nothing of plans.
``lockgate validate`` and a data owner's CI check the catalog with `check_catalog` before any run;
``lockgate schema`` writes the JSON Schemas their editors use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from contracts.errors import CatalogError
from contracts.expectations import check_contract
from contracts.rule_verdicts import remembered_verdicts
from labeling.access import catalog_access
from labeling.plan import LabelingPlan, load_plans
from sources.catalog import load_catalog
from sources.schemas import SCHEMAS as SOURCE_SCHEMAS
from sources.schemas import write_schemas

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import BaseModel

    from contracts.diagnostics import Problem
    from labeling.plan import Plan
    from sources.catalog import Catalog

SCHEMAS: dict[str, type[BaseModel]] = {**SOURCE_SCHEMAS, "labeling-plan.schema.json": LabelingPlan}


@dataclass(frozen=True)
class CatalogCheck:
    """What a valid catalog holds."""

    root: Path
    sources: int
    contracts: int  # distinct contract files (sources may share one)
    plans: int
    roles: int = 0  # roles access.yaml defines


def check_catalog(root: Path, *, verdict_cache: Path | None = None) -> CatalogCheck:
    """Check every file of the catalog at `root`; raises `CatalogError` with every problem found.

    `verdict_cache`: a folder remembering GX's verdict on each rule (`contracts.rule_verdicts`), so a
    catalog whose rules were all judged before is checked without importing Great Expectations.
    """
    with remembered_verdicts(verdict_cache) as verdicts:
        judge = verdicts.check if verdicts is not None else None
        loaded = load_catalog(root, check=functools.partial(check_contract, judge=judge))
    plans, problems = _plans_and_problems(loaded)
    roles = None
    try:  # access.yaml is checked even when a plan has mistakes: owners fix everything in one pass
        roles = catalog_access(loaded, plans)
    except CatalogError as exc:
        problems.extend(exc.problems)
    if problems:
        raise CatalogError(problems)
    return CatalogCheck(
        root=root,
        sources=len(loaded.sources),
        contracts=len({s.contract_path for s in loaded.sources}),
        plans=len(plans),
        roles=len(roles or []),
    )


def _plans_and_problems(loaded: Catalog) -> tuple[list[Plan], list[Problem]]:
    try:
        return load_plans(loaded), []
    except CatalogError as exc:
        return [], list(exc.problems)


def write_catalog_schemas(folder: Path) -> list[Path]:
    """Write the JSON Schema of passports, contracts and labeling plans into `folder`; the files written."""
    return write_schemas(folder, SCHEMAS)
