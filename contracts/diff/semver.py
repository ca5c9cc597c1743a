"""Semantic versions of a contract, and which bump announces which level of change.

A breaking change needs a major bump; under 0.x the minor number plays the major's part (as in Cargo
and npm), and a prerelease may still break until its release (see `contracts.diff`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from contracts.model import SEMVER_PATTERN

Bump = Literal["major", "minor", "patch", "none"]

# From the smallest bump to the largest: `BUMP_ORDER.index` ranks bumps.
BUMP_ORDER: tuple[Bump, ...] = ("none", "patch", "minor", "major")

# What `SemVer.precedence` returns: the core, 0 for a prerelease (1 for a release), prerelease parts.
Precedence = tuple[tuple[int, int, int], int, tuple[tuple[int, int, str], ...]]


@dataclass(frozen=True)
class SemVer:
    """A parsed semantic version; `precedence` orders versions as semver does (a prerelease first)."""

    major: int
    minor: int
    patch: int
    prerelease: str | None = None

    @classmethod
    def parse(cls, text: str) -> SemVer:
        match = re.match(SEMVER_PATTERN, text)
        if match is None:
            raise ValueError(f"not a semantic version: {text!r}")
        return cls(int(match[1]), int(match[2]), int(match[3]), text.partition("-")[2] or None)

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def precedence(self) -> Precedence:
        if self.prerelease is None:
            return (self.core, 1, ())
        parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease.split("."))
        return (self.core, 0, parts)

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{self.prerelease}" if self.prerelease else core


def allows_breaking(old: SemVer, new: SemVer) -> bool:
    """Whether going from `old` to `new` announces a breaking change (see `contracts.diff`)."""
    if new.major > old.major:
        return True
    if old.major == 0 and new.major == 0 and new.minor > old.minor:
        return True
    return old.prerelease is not None and new.core == old.core


def bumped(old: SemVer, bump: Bump) -> SemVer:
    """The smallest version after `old` that announces a change of level `bump`."""
    if bump == "none":
        return old
    if old.prerelease is not None:
        return SemVer(*old.core)  # releasing the prerelease announces whatever it contains
    if bump == "major":
        return SemVer(0, old.minor + 1, 0) if old.major == 0 else SemVer(old.major + 1, 0, 0)
    if bump == "minor":
        return SemVer(old.major, old.minor + 1, 0)
    return SemVer(old.major, old.minor, old.patch + 1)
