"""The catalog's access policy resolved against everything it refers to, labeling plans included.

Kept in the labeling layer because a grant may say "only what the labeling plans send": the datasets the
plans sample and the columns (fields and row key) they show annotators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labeling.plan import load_plans
from sources.access import load_access, resolve_access

if TYPE_CHECKING:
    from labeling.plan import Plan
    from sources.access import RoleAccess
    from sources.catalog import Catalog


def labeling_columns(plans: list[Plan]) -> dict[str, set[str]]:
    """Dataset → the curated columns its labeling plans send to annotators (fields and row key)."""
    sent: dict[str, set[str]] = {}
    for plan in plans:
        sent.setdefault(plan.plan.dataset, set()).update([*plan.plan.fields, plan.key])
    return sent


def catalog_access(catalog: Catalog, plans: list[Plan] | None = None) -> list[RoleAccess] | None:
    """Each role's datasets and columns, or None for a catalog without ``access.yaml``.

    Raises `CatalogError` with every problem of ``access.yaml`` (or of the plans, when not given).
    """
    policy = load_access(catalog)
    if policy is None:
        return None
    return resolve_access(catalog, policy, labeling_columns(load_plans(catalog) if plans is None else plans))
