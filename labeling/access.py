"""The catalog's access policy resolved against everything it refers to, labeling plans included.

Kept in the labeling layer because a grant may say "only what the labeling plans send": the datasets the
plans sample and the columns (fields and row key) they show annotators; and because the plans publish
labels datasets (``labels_<dataset>``), which roles read through the dataset they label.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labeling.plan import load_plans
from sources.access import LabelsDataset, load_access, resolve_access

if TYPE_CHECKING:
    from labeling.plan import Plan
    from sources.access import RoleAccess
    from sources.catalog import Catalog


LABELS_COLUMNS = ("label", "votes", "annotations", "share", "curated_version", "plan", "plan_version")
"""What a labels dataset holds beside the row key (`flows.label` publishes exactly these)."""


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
    plans = load_plans(catalog) if plans is None else plans
    return resolve_access(catalog, policy, labeling_columns(plans), labels_datasets(plans))


def labels_datasets(plans: list[Plan]) -> list[LabelsDataset]:
    """The labels datasets the plans publish, once each (plans of one dataset share it; first by name)."""
    found: dict[str, LabelsDataset] = {}
    for plan in sorted(plans, key=lambda p: p.name):
        name = plan.plan.labels_dataset
        found.setdefault(name, LabelsDataset(name, plan.source.name, plan.key, LABELS_COLUMNS))
    return list(found.values())
