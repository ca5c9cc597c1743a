"""Release ids: one short name for everything that decides what a curated version holds.

A release id is the hash of its parts (:class:`ReleaseParts`): the checksums of the raw input, the
contract (its content hash and version), the code (package version and git commit), the masking key ids,
the erasures in force and the run configuration that shapes the output. Nothing else goes in (no time,
no run id, no lake location), so the same inputs give the same id in any lake, and any change to any
part gives a new one. The parts travel with the version (in its Delta commit), so the lake itself can
show and re-check every part of an id (:func:`storage.curated.find_release`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

ID_PREFIX = "rel-"
_ID_HEX = 24  # 96 bits: collisions are out of reach for any number of versions a lake will hold


class ReleaseParts(BaseModel):
    """What a release id is computed from; lists are kept sorted so their order never changes the id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    inputs: list[str] = Field(description="SHA-256 of every raw object the version was built from.")
    contract_id: str
    contract_version: str
    contract_sha256: str = Field(description="Hash of the contract's content, as loaded.")
    code_version: str = Field(description="Lockgate's package version, plus +g<commit> in a git checkout.")
    key_ids: dict[str, str] = Field(
        default_factory=dict, description="Masking rule and key id per column, e.g. email: hash:3fa1c2d4e5f6."
    )
    erasures: list[str] = Field(
        default_factory=list, description="Keyed hashes of the erased subjects whose rows were left out."
    )
    config: dict[str, Any] = Field(
        default_factory=dict, description="Run configuration that shapes the output (publish mode, keys)."
    )

    @field_validator("inputs", "erasures")
    @classmethod
    def _sorted(cls, values: list[str]) -> list[str]:
        return sorted(set(values))

    @property
    def release_id(self) -> str:
        return release_id(self)


def release_id(parts: ReleaseParts) -> str:
    """``rel-`` and the first 24 hex digits of SHA-256 over the parts' canonical JSON."""
    canonical = json.dumps(parts.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return ID_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()[:_ID_HEX]


def content_sha256(document: Any) -> str:
    """SHA-256 of a JSON-able document in canonical form (key order and spacing never matter)."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


__all__ = ["ID_PREFIX", "ReleaseParts", "content_sha256", "release_id"]
