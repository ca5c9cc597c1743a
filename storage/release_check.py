"""``lockgate release show|verify``: find a release in a lake, show its parts, and re-check its id.

Verifying recomputes the id from the parts stored in the version's commit, and re-hashes every raw input
the lake still holds. An input the lake no longer holds (erased on request, or past its retention) is
reported as gone, not as a mismatch: both removals are deliberate and audited. Bytes that hash to
something else are a mismatch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from storage.curated import CuratedVersion, find_release
from storage.errors import ObjectNotFound, UnknownRelease
from storage.integrity import hash_object, open_existing
from storage.raw import indexed
from storage.release import ReleaseParts, release_id

InputState = Literal["verified", "gone", "mismatch", "not raw"]


class ReleaseFound(BaseModel):
    """A release and the versions (of one or more datasets) that carry it."""

    release_id: str
    parts: ReleaseParts
    versions: list[CuratedVersion]


class InputCheck(BaseModel):
    sha256: str
    state: InputState
    key: str | None = None


class ReleaseVerification(BaseModel):
    """Whether the stored parts still hash to the id, and what became of each raw input."""

    release_id: str
    recomputed: str
    inputs: list[InputCheck]

    @property
    def ok(self) -> bool:
        return self.recomputed == self.release_id and all(i.state != "mismatch" for i in self.inputs)


def _sources(lake_keys: list[str]) -> list[str]:
    return sorted({key.split("/")[1] for key in lake_keys if key.count("/") >= 2})


def show_release(lake: str, wanted: str) -> ReleaseFound:
    """Every version in the lake carrying `wanted`, and its parts; `UnknownRelease` when none does."""
    store = open_existing(lake)
    versions = find_release(store, wanted, _sources(store.list("curated/")))
    carrying = [v for v in versions if v.release is not None]
    if not carrying:
        raise UnknownRelease(f"no curated version in {lake} carries release {wanted!r}")
    parts = carrying[0].release
    assert parts is not None
    return ReleaseFound(release_id=wanted, parts=parts, versions=versions)


def verify_release(lake: str, wanted: str) -> ReleaseVerification:
    """Recompute `wanted` from what the lake stores and re-hash the raw inputs it still holds."""
    found = show_release(lake, wanted)
    store = open_existing(lake)
    dataset = found.versions[0].source
    checks = []
    for sha256 in found.parts.inputs:
        entry = indexed(store, dataset, sha256) if len(sha256) == 64 else None
        if entry is None:
            state: InputState = "gone" if _is_raw_source(found) else "not raw"
            checks.append(InputCheck(sha256=sha256, state=state))
            continue
        try:
            actual, _size = hash_object(store, entry.key)
        except ObjectNotFound:
            checks.append(InputCheck(sha256=sha256, state="gone", key=entry.key))
            continue
        checks.append(
            InputCheck(sha256=sha256, state="verified" if actual == sha256 else "mismatch", key=entry.key)
        )
    return ReleaseVerification(release_id=wanted, recomputed=release_id(found.parts), inputs=checks)


def _is_raw_source(found: ReleaseFound) -> bool:
    """A labels dataset's inputs are annotation fingerprints, not raw objects."""
    return not found.parts.contract_id.startswith("labeling.")


__all__ = ["InputCheck", "ReleaseFound", "ReleaseVerification", "show_release", "verify_release"]
