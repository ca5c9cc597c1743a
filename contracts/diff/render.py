"""Text for humans: values quoted in change messages, and the one-line verdict on a diff.

Messages quote contract values so a reviewer recognises them in the YAML; long values are cut so one
huge value set cannot flood the report.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from enum import Enum

    from contracts.diff.semver import Bump, SemVer

_MAX_SHOWN = 60
_MAX_LISTED = 5


def show(value: object) -> str:
    """A value as a message quotes it: strings in quotes, anything else as JSON, cut when long."""
    if value is None:
        return "none"
    text = f"'{value}'" if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def show_list(canonical: list[str]) -> str:
    """The first few of some canonical values, and how many there are when that is not all."""
    shown = ", ".join(canonical[:_MAX_LISTED])
    return f"{shown}, … ({len(canonical)} in all)" if len(canonical) > _MAX_LISTED else shown


def show_bound(value: object, strict: bool, lower: bool) -> str:
    """A range bound with its comparison: ``> 0``, ``<= 100``."""
    if value is None:
        return "none"
    op = (">" if strict else ">=") if lower else ("<" if strict else "<=")
    return f"{op} {show(value)}"


def show_enum(value: Enum | None) -> str:
    return "none" if value is None else str(value.value)


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def verdict_line(
    old: SemVer, new: SemVer, *, breaking: int, changed: int, version_ok: bool, suggested: str, bump: Bump
) -> str:
    """One line for humans: how many breaking changes, and whether the version says so.

    `breaking` counts the breaking changes and `changed` every change but the version line itself;
    `version_ok`, `suggested` and `bump` are the diff's own verdict (see `ContractDiff`).
    """
    arrow = f"version {old} → {new}"
    if breaking:
        count = plural(breaking, "breaking change")
        if not version_ok:
            need = "at least a minor bump under 0.x" if old.major == 0 else "a major bump"
            return f"{count}; {arrow} needs {need} ({suggested})"
        if new.major > old.major:
            return f"{count}; {arrow} is a major bump: ok"
        if new.major == 0 and new.minor > old.minor:
            return f"{count}; {arrow} is a minor bump under 0.x: ok"
        return f"{count}; {arrow} releases a prerelease, which may still break: ok"
    if not changed:
        return f"no changes; {arrow}"
    line = f"{plural(changed, 'change')}, none breaking; {arrow}: ok"
    if new.precedence() < old.precedence():
        return f"{line} (the new version is lower than the old one: are the files swapped?)"
    if new.precedence() == old.precedence():
        return f"{line} (unchanged; {suggested} would announce a {bump} change)"
    return line
