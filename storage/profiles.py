"""Dataset profiles: per-run statistics of the batch a run was about to publish, for drift checks.

One object per run and source, ``profiles/<source>/<run_id>.json``: the row count, and per column its
type, nulls, null rate and (approximate) distinct count. Only columns whose values may be shown carry
values (min, max, quantiles of numbers; the category set of columns the contract names); personal,
masked and restricted columns carry counts and rates only (`contracts.profile` decides which). So a
profile holds no personal data, and is tagged like the run's Data Docs: ``layer=meta``, ``pii=false``,
with the passport's sensitivity, so it can be granted to everyone who may see the dataset's quality.

Every profiled run writes its profile, a stopped one too (it shows what the stopped batch looked like);
the *history* the next run compares with is only the profiles of runs that published a curated version
still standing (`published_runs`): a blocked, failed or rolled-back batch never becomes the baseline.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, ValidationError

from storage import layout
from storage.curated import rolled_back_releases
from storage.errors import ObjectNotFound, StorageError
from storage.tags import access_tags

if TYPE_CHECKING:
    from collections.abc import Sequence

    from storage.base import ObjectStore
    from storage.curated import CuratedVersion

PUBLISHING_ACTIONS = frozenset({"publish", "append", "merge"})


class ColumnProfile(BaseModel):
    """One column of a profiled batch. Value fields stay None for columns whose values are withheld."""

    name: str
    dtype: str  # the polars type, e.g. Int64, String, Date
    nulls: int
    null_rate: float  # nulls / rows, 0 for an empty batch
    distinct: int  # approximate (HyperLogLog, a few per cent off above a few thousand values), nulls excluded
    withheld: bool = False  # personal, masked or restricted: counts and rates only, never a value
    min: float | None = None  # numeric columns only
    max: float | None = None
    quantiles: dict[str, float | None] | None = None  # p05, p50, p95 of numeric columns
    categories: list[str] | None = None  # the value set of a column the contract names as categorical
    categories_over: bool = False  # more distinct values than the contract's maxCategories: none kept


class Profile(BaseModel):
    """A run's profile of one source's batch."""

    source: str
    run_id: str
    profiled_at: datetime
    contract_version: str | None = None
    rows: int
    columns: list[ColumnProfile] = Field(default_factory=list)

    def column(self, name: str) -> ColumnProfile | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_types(self) -> dict[str, str]:
        """Column name → type, in the batch's order."""
        return {c.name: c.dtype for c in self.columns}


def write_profile(store: ObjectStore, profile: Profile, *, sensitivity: str | None = None) -> str:
    """Store the profile (a retried step writes the same key again); returns its key."""
    key = layout.profile_key(profile.source, profile.run_id)
    tags = access_tags("meta", profile.source, sensitivity=sensitivity, pii=False)
    store.put_bytes(key, profile.model_dump_json(indent=2).encode(), tags=tags)
    return key


def read_profile(store: ObjectStore, source: str, run_id: str) -> Profile | None:
    """One run's profile of the source, or None when that run wrote none."""
    key = layout.profile_key(source, run_id)
    try:
        data = store.get_bytes(key)
    except ObjectNotFound:
        return None
    return _parse(key, data)


def load_profiles(
    store: ObjectStore, source: str, *, limit: int, runs: Sequence[str] | None = None
) -> list[Profile]:
    """The source's last `limit` profiles, oldest first.

    `runs` (oldest first) restricts them to those runs, e.g. `published_runs`; runs that left no profile
    (they ran before profiling existed) are skipped. Without it, every stored profile counts, in key
    (that is, run id) order. One listing, then one read per profile returned.
    """
    if limit < 1:
        return []
    prefix = layout.profiles_prefix(source)
    stored = [key for key in store.list(prefix) if key.endswith(".json")]
    if runs is not None:
        present = set(stored)
        wanted = [layout.profile_key(source, run) for run in dict.fromkeys(runs)]
        stored = [key for key in wanted if key in present]
    return [_parse(key, store.get_bytes(key)) for key in stored[-limit:]]


def published_runs(versions: Sequence[CuratedVersion]) -> list[str]:
    """The runs whose batch became a curated version that still counts, oldest first: versions made by a
    publish, append or merge, minus releases an operator rolled back from."""
    rolled = rolled_back_releases(list(versions))
    runs = [
        v.run_id
        for v in versions
        if v.action in PUBLISHING_ACTIONS
        and v.run_id
        and (v.release_id is None or v.release_id not in rolled)
    ]
    return list(dict.fromkeys(runs))


def _parse(key: str, data: bytes) -> Profile:
    try:
        return Profile.model_validate_json(data)
    except ValidationError as exc:
        # Not chained: pydantic's message would quote the object's content.
        raise StorageError(
            f"{key!r} is not a valid profile ({exc.error_count()} problem(s)); remove it to go on"
        ) from None


__all__ = [
    "ColumnProfile",
    "Profile",
    "load_profiles",
    "published_runs",
    "read_profile",
    "write_profile",
]
