"""Every JSON Schema a data owner's editor uses: sources' passports and contracts, and labeling plans.

Kept here, where the layers meet, so that ``sources`` does not depend on ``labeling``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labeling.plan import LabelingPlan
from sources.schemas import SCHEMAS as SOURCE_SCHEMAS

if TYPE_CHECKING:
    from pydantic import BaseModel

SCHEMAS: dict[str, type[BaseModel]] = {**SOURCE_SCHEMAS, "labeling-plan.schema.json": LabelingPlan}
