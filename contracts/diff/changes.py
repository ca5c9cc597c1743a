"""The change model: one `Change` per difference, and the `ContractDiff` that judges them together.

Whether one change breaks consumers is decided where it is found (`columns`, `rules`, the package's
contract-level checks); this module turns those decisions into the version bump they call for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from contracts.diff.render import verdict_line
from contracts.diff.semver import BUMP_ORDER, Bump, SemVer, allows_breaking, bumped
from contracts.diff.values import jsonable

# How a quality rule's guarantee moved: stronger, weaker, or in a way that cannot be ordered.
Direction = Literal["tightened", "loosened", "changed"]

# Changes that alter nothing a consumer reads or relies on: documentation, labels, layout.
PATCH_KINDS = frozenset(
    {"description_changed", "metadata_changed", "api_version_changed", "table_renamed", "columns_reordered"}
)
# The version line itself is the bump, not a reason for one.
NO_BUMP_KINDS = frozenset({"version_changed"})


@dataclass(frozen=True)
class Change:
    """One difference between the old and the new contract.

    ``path`` is the dotted field path in the new contract's layout (``schema.<table>.properties.<col>
    .logicalType``, ``schema.<table>.quality.<rule_id>.kwargs.min_value``), so a reviewer finds it in
    the YAML. ``old`` and ``new`` are the JSON values on either side (None when absent).
    """

    kind: str
    path: str
    breaking: bool
    message: str
    old: Any = None
    new: Any = None

    @property
    def bump(self) -> Bump:
        """The smallest version bump this change alone asks for."""
        if self.breaking:
            return "major"
        if self.kind in NO_BUMP_KINDS:
            return "none"
        return "patch" if self.kind in PATCH_KINDS else "minor"

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "breaking": self.breaking,
            "message": self.message,
            "old": jsonable(self.old),
            "new": jsonable(self.new),
        }


@dataclass(frozen=True)
class ContractDiff:
    """Every change from one contract version to the next, and what they mean for its version."""

    old_version: str
    new_version: str
    changes: list[Change] = field(default_factory=list)

    @property
    def breaking_changes(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]

    @property
    def breaking(self) -> bool:
        return any(c.breaking for c in self.changes)

    @property
    def required_bump(self) -> Bump:
        """The semver level the changes call for: major for any breaking change, patch for docs only."""
        return max((c.bump for c in self.changes), key=BUMP_ORDER.index, default="none")

    @property
    def suggested_version(self) -> str:
        """The smallest version after the old one that announces these changes (0.x: minor for breaking)."""
        return str(bumped(SemVer.parse(self.old_version), self.required_bump))

    @property
    def version_bump_ok(self) -> bool:
        """False when a breaking change comes without a major bump (0.x: minor): the CI gate."""
        old, new = SemVer.parse(self.old_version), SemVer.parse(self.new_version)
        return not self.breaking or allows_breaking(old, new)

    def verdict(self) -> str:
        """One line for humans: how many breaking changes, and whether the version says so."""
        return verdict_line(
            SemVer.parse(self.old_version),
            SemVer.parse(self.new_version),
            breaking=len(self.breaking_changes),
            changed=sum(c.kind not in NO_BUMP_KINDS for c in self.changes),
            version_ok=self.version_bump_ok,
            suggested=self.suggested_version,
            bump=self.required_bump,
        )

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "breaking": self.breaking,
            "required_bump": self.required_bump,
            "suggested_version": self.suggested_version,
            "version_ok": self.version_bump_ok,
            "verdict": self.verdict(),
            "changes": [c.to_json_dict() for c in self.changes],
        }
