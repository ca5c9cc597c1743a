"""Compare two versions of a data contract and say which changes break its consumers.

A contract is a promise to the people who read the curated data, so every change is judged from the
**consumer's** side: a change is *breaking* when a consumer that relied on the old contract may now
get data the old contract ruled out (nulls, repeats, values outside a rule), may no longer find data
it was promised, or gets different published values for the same input. One question decides each
case below:

- a removed column is breaking; an added column is not, even a required one: consumers gain data.
  For producers a new required column *is* breaking (loads without it stop the line); this command
  answers for consumers, so the data owner must tell producers separately.
- ``required`` true → false, ``unique`` true → false and a removed ``primaryKey`` are breaking
  (nulls, repeats and a lost join key reach consumers); adding them is not. A flag removed while the
  same guarantee stays (``primaryKey`` still implies it, or an explicit rule now checks it) is not.
- a type change is not breaking only when it *promotes* (integer → number, date → timestamp): every
  old value converts exactly and automatically, so old and new curated versions still read as one
  column (the schema-evolution rule of Iceberg and BigQuery). Everything else — narrowing, unrelated
  types, and anything → string (arithmetic and date ranges stop working) — is breaking. A promotion
  still breaks when the published value is computed from the raw one (hash, partial, encrypt,
  generalize, redact_pii: ``5`` and ``5.0`` hash differently) and, for integer → number, on unique or
  key columns (a 64-bit float is exact only up to 2**53).
- a masking change alters the published values (pseudonyms consumers join on, kept characters,
  periods), so adding, removing or changing masking, and changing a hash or encryption key, is
  breaking. A column masked with ``drop`` is not published: changes to it break no one, and dropping
  a published column is as breaking as removing it. Declaring ``pii`` breaks only when the masking it
  requires is new (the values change); the PII kind itself is a label. A raised ``classification``
  is breaking: consumers cleared for the old level may lose access.
- quality rules are guarantees: a new or tightened rule (narrower range, higher ``mostly``, fewer
  allowed values, ``warn`` → ``error``) is not breaking; a removed, loosened or ``error`` → ``warn``
  rule is. A change whose direction cannot be told (a new regex, an unknown argument, another
  expectation) is treated as breaking. Rules are matched across versions by ``rule_id``; a rule that
  disappears while another rule (or a column flag) still gives the same or a stronger guarantee does
  not break anything.

datacontract-cli's ``breaking`` judges rules and ``required`` from the producer's side (a new rule is
an error there, a removed one is not); the per-field kinds (``column_removed`` ~ ``field-removed``,
``type_changed`` ~ ``type-changed``) and the dotted paths follow its vocabulary.

Versions follow semver: a breaking change needs a major bump. Under 0.x the minor number plays the
major's part, as in Cargo and npm (semver itself lets 0.x change anything; a CI gate that allowed
that would gate nothing), and a prerelease (2.0.0-rc.1) may still break until its release (2.0.0).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from contracts.expectations import all_rules
from contracts.model import (
    SEMVER_PATTERN,
    Classification,
    DropRule,
    LogicalType,
    QualityRule,
    RedactRule,
    Severity,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from contracts.model import Contract, MaskingRule, Property

Bump = Literal["major", "minor", "patch", "none"]
Direction = Literal["tightened", "loosened", "changed"]

_BUMP_ORDER: tuple[Bump, ...] = ("none", "patch", "minor", "major")
# Changes that alter nothing a consumer reads or relies on: documentation, labels, layout.
_PATCH_KINDS = frozenset(
    {"description_changed", "metadata_changed", "api_version_changed", "table_renamed", "columns_reordered"}
)
# The version line itself is the bump, not a reason for one.
_NO_BUMP_KINDS = frozenset({"version_changed"})
# Kinds that describe how a column's published values are computed (see `_column_changes`).
_MASKING_KINDS = frozenset(
    {"masking_added", "masking_removed", "masking_changed", "masking_key_changed", "pii_added", "pii_removed"}
)

# Promotions: every value of the old type converts exactly and automatically to the new one.
_PROMOTIONS = frozenset(
    {(LogicalType.INTEGER, LogicalType.NUMBER), (LogicalType.DATE, LogicalType.TIMESTAMP)}
)
# Masking whose published value does not depend on the raw value's type (or that publishes nothing).
_TYPE_BLIND_MASKING = (RedactRule, DropRule)
_CLASSIFICATION_LEVEL = {
    None: 0,
    Classification.PUBLIC: 0,
    Classification.INTERNAL: 1,
    Classification.CONFIDENTIAL: 2,
    Classification.RESTRICTED: 3,
}
_SEVERITY_LEVEL = {Severity.WARN: 0, Severity.ERROR: 1}
# Statuses under which consumers may rely on the contract.
_IN_FORCE = frozenset({"active", "deprecated"})

# value_set semantics: for "allowed" sets fewer values is stricter; for "required" or "forbidden" sets
# more values is stricter. Other expectations with a value_set (equal_set, ...) change either way.
_ALLOWED_SET = frozenset(
    {
        "expect_column_values_to_be_in_set",
        "expect_column_distinct_values_to_be_in_set",
        "expect_column_most_common_value_to_be_in_set",
    }
)
_REQUIRED_SET = frozenset(
    {"expect_column_values_to_not_be_in_set", "expect_column_distinct_values_to_contain_set"}
)
_BOUND_KEYS = ("min_value", "strict_min", "max_value", "strict_max")
_MAX_SHOWN = 60
_MISSING = object()


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
        if self.kind in _NO_BUMP_KINDS:
            return "none"
        return "patch" if self.kind in _PATCH_KINDS else "minor"

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "breaking": self.breaking,
            "message": self.message,
            "old": _jsonable(self.old),
            "new": _jsonable(self.new),
        }


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

    def precedence(self) -> tuple[Any, ...]:
        if self.prerelease is None:
            return (self.core, 1, ())
        parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease.split("."))
        return (self.core, 0, parts)

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{self.prerelease}" if self.prerelease else core


def allows_breaking(old: SemVer, new: SemVer) -> bool:
    """Whether going from `old` to `new` announces a breaking change (see the module docstring)."""
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
        return max((c.bump for c in self.changes), key=_BUMP_ORDER.index, default="none")

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
        old, new = SemVer.parse(self.old_version), SemVer.parse(self.new_version)
        arrow = f"version {old} → {new}"
        if self.breaking:
            count = _plural(len(self.breaking_changes), "breaking change")
            if not self.version_bump_ok:
                need = "at least a minor bump under 0.x" if old.major == 0 else "a major bump"
                return f"{count}; {arrow} needs {need} ({self.suggested_version})"
            if new.major > old.major:
                return f"{count}; {arrow} is a major bump: ok"
            if new.major == 0 and new.minor > old.minor:
                return f"{count}; {arrow} is a minor bump under 0.x: ok"
            return f"{count}; {arrow} releases a prerelease, which may still break: ok"
        real = [c for c in self.changes if c.kind not in _NO_BUMP_KINDS]
        if not real:
            return f"no changes; {arrow}"
        line = f"{_plural(len(real), 'change')}, none breaking; {arrow}: ok"
        if new.precedence() < old.precedence():
            return f"{line} (the new version is lower than the old one: are the files swapped?)"
        if new.precedence() == old.precedence():
            return (
                f"{line} (unchanged; {self.suggested_version} would announce a {self.required_bump} change)"
            )
        return line

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


def diff_contracts(old: Contract, new: Contract) -> ContractDiff:
    """All changes from `old` to `new`: contract fields, then columns, then quality rules."""
    base = f"schema.{new.table.name}"
    changes = [*_contract_changes(old, new), *_column_changes(old, new, base), *_rule_changes(old, new, base)]
    return ContractDiff(old.version, new.version, changes)


# --- contract and table ----------------------------------------------------------------------------


def _contract_changes(old: Contract, new: Contract) -> list[Change]:
    out: list[Change] = []
    if old.id != new.id:
        msg = f"contract id '{old.id}' → '{new.id}': a different dataset to consumers and stored versions"
        out.append(Change("id_changed", "id", True, msg, old.id, new.id))
    if old.version != new.version:
        msg = f"{old.version} → {new.version}"
        out.append(Change("version_changed", "version", False, msg, old.version, new.version))
    if old.status != new.status:
        out.append(_status_change(old.status, new.status))
    if old.api_version != new.api_version:
        msg = f"ODCS {old.api_version} → {new.api_version}"
        out.append(Change("api_version_changed", "apiVersion", False, msg, old.api_version, new.api_version))
    out += _text_change("metadata_changed", "name", old.name, new.name)
    for part in ("purpose", "usage", "limitations"):
        was = getattr(old.description, part) if old.description else None
        now = getattr(new.description, part) if new.description else None
        out += _text_change("description_changed", f"description.{part}", was, now)
    before, after = old.table, new.table
    base = f"schema.{after.name}"
    if before.name != after.name:
        msg = (
            f"schema object '{before.name}' → '{after.name}'; curated datasets and warehouse views are "
            "named after the source, so consumers see no difference"
        )
        out.append(Change("table_renamed", f"{base}.name", False, msg, before.name, after.name))
    out += _text_change("metadata_changed", f"{base}.physicalName", before.physical_name, after.physical_name)
    out += _text_change("description_changed", f"{base}.description", before.description, after.description)
    out += _unclassified(old, new, _CONTRACT_FIELDS, "")
    out += _unclassified(before, after, _TABLE_FIELDS, base)
    return out


def _status_change(old: str, new: str) -> Change:
    """Retiring a contract, or taking one in force back to draft, withdraws its guarantees."""
    if new == "retired":
        breaking, why = True, "the dataset is withdrawn"
    elif old in _IN_FORCE and new not in _IN_FORCE:
        breaking, why = True, "its guarantees are no longer in force"
    elif new == "deprecated":
        breaking, why = False, "consumers should plan to move off it"
    else:
        breaking, why = False, "the contract comes into force" if new in _IN_FORCE else "not yet in force"
    return Change("status_changed", "status", breaking, f"status {old} → {new}: {why}", old, new)


# Model fields this module classifies; any other field is reported by `_unclassified`.
_CONTRACT_FIELDS = frozenset(
    {"schema_", "api_version", "kind", "id", "name", "version", "status", "description", "schema_objects"}
)
_TABLE_FIELDS = frozenset({"name", "physical_name", "description", "properties", "quality"})
_PROPERTY_FIELDS = frozenset(
    {
        "name",
        "logical_type",
        "physical_type",
        "description",
        "required",
        "unique",
        "primary_key",
        "classification",
        "pii",
        "masking",
    }
)
_RULE_FIELDS = frozenset({"id", "expectation", "kwargs", "severity", "description"})


def _unclassified(old: BaseModel, new: BaseModel, known: frozenset[str], path: str) -> list[Change]:
    """Fields added to the model after this module was written (e.g. ingestion settings such as a
    drift policy) are still reported, as ``field_changed``, so a reviewer sees them. They are not
    counted as breaking: like datacontract-cli's fallback rule, an unknown field is taken to be
    metadata, and the message asks for a human look."""
    out: list[Change] = []
    for name in type(new).model_fields:
        if name in known:
            continue
        was = old.model_dump(mode="json", by_alias=True, include={name})
        now = new.model_dump(mode="json", by_alias=True, include={name})
        for leaf, before, after in _leaf_changes(was, now, path):
            msg = f"{_show(before)} → {_show(after)}: not classified by lockgate; review by hand"
            out.append(Change("field_changed", leaf, False, msg, before, after))
    return out


def _leaf_changes(old: Any, new: Any, path: str) -> list[tuple[str, Any, Any]]:
    """(dotted path, old, new) of every differing value, descending through mappings."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in [*old, *(k for k in new if k not in old)]:
            sub = f"{path}.{key}" if path else str(key)
            out += _leaf_changes(old.get(key), new.get(key), sub)
        return out
    return [] if _same(old, new) else [(path, old, new)]


def _text_change(kind: str, path: str, old: str | None, new: str | None) -> list[Change]:
    """Documentation and labels: reported, never breaking."""
    if old == new:
        return []
    msg = "added" if old is None else "removed" if new is None else f"{_show(old)} → {_show(new)}"
    return [Change(kind, path, False, msg, old, new)]


# --- columns ---------------------------------------------------------------------------------------


def _published(prop: Property) -> bool:
    return not isinstance(prop.masking, DropRule)


def _column_changes(old: Contract, new: Contract, base: str) -> list[Change]:
    out: list[Change] = []
    old_cols = {p.name: p for p in old.columns}
    new_cols = {p.name: p for p in new.columns}
    for name, prop in old_cols.items():
        path = f"{base}.properties.{name}"
        if name in new_cols:
            out += _property_changes(prop, new_cols[name], path, new)
        elif _published(prop):
            out.append(
                Change("column_removed", path, True, f"column '{name}' removed", prop.logical_type.value)
            )
        else:
            msg = f"column '{name}' removed; it was not published (masking: drop)"
            out.append(Change("column_removed", path, False, msg, prop.logical_type.value))
    for name, prop in new_cols.items():
        if name in old_cols:
            continue
        notes = [f"column '{name}' ({prop.logical_type.value}) added"]
        if prop.required or prop.primary_key:
            notes.append("required: consumers gain data, producers must now supply it")
        if not _published(prop):
            notes.append("not published (masking: drop)")
        path = f"{base}.properties.{name}"
        out.append(Change("column_added", path, False, "; ".join(notes), None, prop.logical_type.value))
    shared = [n for n in old_cols if n in new_cols and _published(old_cols[n]) and _published(new_cols[n])]
    reordered = [n for n in new_cols if n in shared]
    if shared != reordered:
        msg = "column order changed; curated Parquet and warehouse views are read by column name"
        out.append(Change("columns_reordered", f"{base}.properties", False, msg, shared, reordered))
    return out


def _property_changes(old: Property, new: Property, path: str, new_contract: Contract) -> list[Change]:
    """Changes to one column that exists on both sides, judged by what its consumers could see."""
    out: list[Change] = []
    if old.logical_type != new.logical_type:
        out.append(_type_change(old, new, path))
    out += _flag_changes(old, new, path, new_contract)
    out += _pii_and_masking_changes(old, new, path)
    if old.classification != new.classification:
        was, now = _show_enum(old.classification), _show_enum(new.classification)
        raised = _CLASSIFICATION_LEVEL[new.classification] > _CLASSIFICATION_LEVEL[old.classification]
        why = "consumers cleared for the old level may lose access" if raised else "no access is taken away"
        msg = f"classification {was} → {now}: {why}"
        out.append(Change("classification_changed", f"{path}.classification", raised, msg, was, now))
    out += _text_change("description_changed", f"{path}.description", old.description, new.description)
    out += _text_change("metadata_changed", f"{path}.physicalType", old.physical_type, new.physical_type)
    out += _unclassified(old, new, _PROPERTY_FIELDS, path)

    if not _published(old):
        # Consumers never saw this column: nothing about it can break them.
        note = " (the column was not published: masking drop)"
        return [replace(c, breaking=False, message=c.message + note) if c.breaking else c for c in out]
    if not _published(new):
        # The column leaves the curated output; that masking change alone carries the break.
        note = " (the column is no longer published)"
        return [
            replace(c, breaking=False, message=c.message + note)
            if c.breaking and c.kind not in _MASKING_KINDS
            else c
            for c in out
        ]
    return out


def _type_change(old: Property, new: Property, path: str) -> Change:
    was, now = old.logical_type, new.logical_type
    reasons: list[str] = []
    if (was, now) not in _PROMOTIONS:
        if now is LogicalType.STRING:
            reasons.append("values become text: comparisons, arithmetic and ranges on them stop working")
        else:
            reasons.append("not a promotion: values consumers read may not convert")
    else:
        derived = [m.rule for m in (old.masking, new.masking) if m and not isinstance(m, _TYPE_BLIND_MASKING)]
        if derived:
            reasons.append(f"published values are computed from the raw value ({derived[0]}) and change")
        if was is LogicalType.INTEGER and (old.unique or old.primary_key):
            reasons.append("a key column: number is a 64-bit float, exact for integers only up to 2**53")
    why = "; ".join(reasons) or "a promotion, every old value converts exactly"
    msg = f"type {was.value} → {now.value}: {why}"
    return Change("type_changed", f"{path}.logicalType", bool(reasons), msg, was.value, now.value)


_FLAG_GUARANTEES = (
    ("required", "expect_column_values_to_not_be_null", "nulls"),
    ("unique", "expect_column_values_to_be_unique", "repeated values"),
)


def _flag_changes(old: Property, new: Property, path: str, new_contract: Contract) -> list[Change]:
    """required, unique and primaryKey, each at its own field; breaking only when a guarantee goes."""
    out: list[Change] = []
    new_rules = all_rules(new_contract)
    keepers: dict[str, str | None] = {}  # flag → what still gives its guarantee (None: nothing does)
    for flag, expectation, _ in _FLAG_GUARANTEES:
        if getattr(new, flag) or new.primary_key:
            keepers[flag] = "primaryKey" if new.primary_key else flag
        else:
            rule = _kept_by(_flag_rule(expectation, new.name), new_rules)
            keepers[flag] = f"rule '{rule}'" if rule else None
    for flag, _, seen in _FLAG_GUARANTEES:
        was, now = getattr(old, flag), getattr(new, flag)
        if was == now:
            continue
        fpath = f"{path}.{flag}"
        if now:
            extra = "; producers must now meet it" if flag == "required" else ""
            msg = f"{flag}: a new guarantee for consumers{extra}"
            out.append(Change(f"{flag}_added", fpath, False, msg, was, now))
        elif keepers[flag] is None:
            msg = f"no longer {flag}: consumers may now see {seen}"
            out.append(Change(f"{flag}_removed", fpath, True, msg, was, now))
        else:
            msg = f"no longer {flag}, but {keepers[flag]} still guarantees it"
            out.append(Change(f"{flag}_removed", fpath, False, msg, was, now))
    if old.primary_key != new.primary_key:
        fpath = f"{path}.primaryKey"
        if new.primary_key:
            msg = "now the primary key: required and unique"
            out.append(Change("primary_key_added", fpath, False, msg, False, True))
        else:
            # A flag set explicitly on the old side was reported above; name what only the key gave.
            lost = [s for f, _, s in _FLAG_GUARANTEES if keepers[f] is None]
            only_key = [s for f, _, s in _FLAG_GUARANTEES if keepers[f] is None and not getattr(old, f)]
            if lost:
                tail = f"; consumers may now see {' and '.join(only_key)}" if only_key else ""
                msg = f"no longer the primary key: consumers that merge or deduplicate on it lose it{tail}"
            else:
                msg = "no longer the primary key, but still required and unique: merges on it still work"
            out.append(Change("primary_key_removed", fpath, bool(lost), msg, True, False))
    return out


def _flag_rule(expectation: str, column: str) -> QualityRule:
    """The rule a column flag implies, to ask whether another rule still gives its guarantee."""
    return QualityRule(expectation=expectation, kwargs={"column": column}, severity=Severity.ERROR)


def _rule_name(rule: MaskingRule | None) -> str:
    return "none" if rule is None else rule.rule


def _masking_json(rule: MaskingRule | None) -> dict[str, Any] | None:
    return None if rule is None else rule.model_dump(mode="json")


def _pii_and_masking_changes(old: Property, new: Property, path: str) -> list[Change]:
    """PII labels and masking. Declaring PII on a clear column brings its masking along: that is one
    change, ``pii_added`` (likewise ``pii_removed`` when the masking leaves with the label)."""
    out: list[Change] = []
    om, nm = old.masking, new.masking
    folded = False
    ppath = f"{path}.pii"
    if old.pii != new.pii:
        was, now = _show_enum(old.pii), _show_enum(new.pii)
        if old.pii is None and om is None:
            msg = f"declared PII ({now}) and now masked with {_rule_name(nm)}: {_masking_effect(nm)}"
            out.append(
                Change("pii_added", ppath, True, msg, None, {"pii": now, "masking": _masking_json(nm)})
            )
            folded = True
        elif old.pii is None:
            msg = f"declared PII ({now}); already masked with {_rule_name(om)}, values unchanged"
            out.append(Change("pii_added", ppath, False, msg, None, now))
        elif new.pii is None and nm is None:
            if _published(old):
                msg = f"no longer PII nor masked: published values change from {_rule_name(om)} to clear"
            else:
                msg = "no longer PII nor dropped: the column is now published in clear"
            before = {"pii": was, "masking": _masking_json(om)}
            out.append(Change("pii_removed", ppath, _published(old), msg, before, None))
            folded = True
        elif new.pii is None:
            msg = f"no longer declared PII; still masked with {_rule_name(nm)}, values unchanged"
            out.append(Change("pii_removed", ppath, False, msg, was, None))
        else:
            out.append(Change("pii_changed", ppath, False, f"PII kind {was} → {now}: a label only", was, now))
    if not folded and om != nm:
        out.append(_masking_change(om, nm, f"{path}.masking"))
    return out


def _masking_effect(rule: MaskingRule | None) -> str:
    return "the column is no longer published" if isinstance(rule, DropRule) else "published values change"


def _masking_change(om: MaskingRule | None, nm: MaskingRule | None, path: str) -> Change:
    """One masking rule against another; only a formerly dropped column can change without a break."""
    was, now = _masking_json(om), _masking_json(nm)
    if om is None:
        return Change(
            "masking_added", path, True, f"now masked with {_rule_name(nm)}: {_masking_effect(nm)}", was, now
        )
    if nm is None:
        if isinstance(om, DropRule):
            return Change(
                "masking_removed", path, False, "no longer dropped: the column is now published", was, now
            )
        msg = f"no longer masked ({om.rule}): published values change to clear values"
        return Change("masking_removed", path, True, msg, was, now)
    if om.rule != nm.rule:
        if isinstance(om, DropRule):
            msg = f"no longer dropped: the column is now published, masked with {nm.rule}"
            return Change("masking_changed", path, False, msg, was, now)
        return Change(
            "masking_changed", path, True, f"masking {om.rule} → {nm.rule}: {_masking_effect(nm)}", was, now
        )
    old_key, new_key = getattr(om, "key", None), getattr(nm, "key", None)
    if old_key != new_key:
        if om.rule == "hash":
            why = "pseudonyms change, so joins with earlier versions and other datasets break"
        else:
            why = f"consumers holding key '{old_key}' cannot decrypt the new values"
        msg = f"{om.rule} key '{old_key}' → '{new_key}': {why}"
        return Change("masking_key_changed", f"{path}.key", True, msg, old_key, new_key)
    assert was is not None and now is not None  # both rules are present here
    params = ", ".join(
        f"{k} {_show(was.get(k))} → {_show(now.get(k))}"
        for k in sorted(set(was) | set(now))
        if was.get(k) != now.get(k)
    )
    return Change("masking_changed", path, True, f"{om.rule} {params}: published values change", was, now)


# --- quality rules ---------------------------------------------------------------------------------


def _rule_changes(old: Contract, new: Contract, base: str) -> list[Change]:
    out: list[Change] = []
    old_rules = {r.rule_id: r for r in old.quality}
    new_rules = {r.rule_id: r for r in new.quality}
    new_all = all_rules(new)
    new_columns = {p.name for p in new.columns}
    for rid, rule in old_rules.items():
        path = f"{base}.quality.{rid}"
        if rid in new_rules:
            out += _compare_rules(rule, new_rules[rid], path)
            continue
        was = rule.model_dump(mode="json", exclude_none=True)
        if rule.column is not None and rule.column not in new_columns:
            msg = f"removed with its column '{rule.column}' (see column_removed)"
            out.append(Change("rule_removed", path, False, msg, was))
        elif keeper := _kept_by(rule, new_all):
            msg = f"removed, but rule '{keeper}' gives the same guarantee or a stronger one"
            out.append(Change("rule_removed", path, False, msg, was))
        else:
            msg = f"removed: consumers lose the guarantee {rule.expectation}"
            out.append(Change("rule_removed", path, True, msg, was))
    for rid, rule in new_rules.items():
        if rid not in old_rules:
            msg = (
                f"new guarantee {rule.expectation} ({rule.severity.value}); data that passed may now fail it"
            )
            now = rule.model_dump(mode="json", exclude_none=True)
            out.append(Change("rule_added", f"{base}.quality.{rid}", False, msg, None, now))
    return out


_MOVE_KINDS: dict[Direction, tuple[str, bool]] = {
    "tightened": ("rule_tightened", False),
    "loosened": ("rule_loosened", True),
    "changed": ("rule_changed", True),
}


def _compare_rules(old: QualityRule, new: QualityRule, path: str) -> list[Change]:
    if old.expectation != new.expectation:
        msg = f"now checks {new.expectation} instead of {old.expectation}: a different guarantee"
        return [Change("rule_changed", f"{path}.expectation", True, msg, old.expectation, new.expectation)]
    out: list[Change] = []
    for move in _kwarg_changes(old.expectation, old.kwargs, new.kwargs):
        kind, breaking = _MOVE_KINDS[move.direction]
        out.append(Change(kind, f"{path}.kwargs.{move.key}", breaking, move.message, move.old, move.new))
    if old.severity != new.severity:
        was, now = old.severity.value, new.severity.value
        if _SEVERITY_LEVEL[new.severity] < _SEVERITY_LEVEL[old.severity]:
            msg = f"{was} → {now}: failing rows no longer stop the line and reach consumers"
            out.append(Change("severity_lowered", f"{path}.severity", True, msg, was, now))
        else:
            msg = f"{was} → {now}: failing data now stops the line"
            out.append(Change("severity_raised", f"{path}.severity", False, msg, was, now))
    out += _text_change("description_changed", f"{path}.description", old.description, new.description)
    out += _unclassified(old, new, _RULE_FIELDS, path)
    return out


def _kept_by(rule: QualityRule, candidates: list[QualityRule]) -> str | None:
    """The id of a candidate that guarantees at least what `rule` did, if any."""
    for candidate in candidates:
        if (
            candidate.expectation == rule.expectation
            and _SEVERITY_LEVEL[candidate.severity] >= _SEVERITY_LEVEL[rule.severity]
            and all(
                m.direction == "tightened"
                for m in _kwarg_changes(rule.expectation, rule.kwargs, candidate.kwargs)
            )
        ):
            return candidate.rule_id
    return None


@dataclass(frozen=True)
class _Move:
    """How one argument of a rule moved: tightened (stronger guarantee), loosened, or changed (unknown)."""

    key: str
    direction: Direction
    message: str
    old: Any
    new: Any


def _kwarg_changes(expectation: str, old: dict[str, Any], new: dict[str, Any]) -> list[_Move]:
    out: list[_Move] = []
    handled: set[str] = set()
    if expectation.endswith("_to_be_between"):  # every GX "between" reads min/max as bounds on a value
        handled.update(_BOUND_KEYS)
        out += _bound_change(old, new, lower=True) + _bound_change(old, new, lower=False)
    if "mostly" in old or "mostly" in new:
        handled.add("mostly")
        out += _mostly_change(old.get("mostly", 1.0), new.get("mostly", 1.0))
    if expectation in _ALLOWED_SET | _REQUIRED_SET:
        handled.add("value_set")
        out += _value_set_change(expectation, old.get("value_set"), new.get("value_set"))
    for key in sorted((set(old) | set(new)) - handled):
        was, now = old.get(key, _MISSING), new.get(key, _MISSING)
        if _same(was, now):
            continue
        was, now = _none(was), _none(now)
        if key == "column":
            msg = f"now checks column {_show(now)} instead of {_show(was)}"
        elif "regex" in key or "pattern" in key:
            msg = f"{key} {_show(was)} → {_show(now)}: what matches cannot be compared; treated as breaking"
        else:
            msg = f"{key} {_show(was)} → {_show(now)}: the effect cannot be ordered; treated as breaking"
        out.append(_Move(key, "changed", msg, was, now))
    return out


def _bound_change(old: dict[str, Any], new: dict[str, Any], *, lower: bool) -> list[_Move]:
    """A bound is its value and its strictness together: ``> 0`` to ``>= 1`` is still narrower."""
    value_key, strict_key = ("min_value", "strict_min") if lower else ("max_value", "strict_max")
    ov, nv = old.get(value_key), new.get(value_key)
    os_, ns = bool(old.get(strict_key, False)), bool(new.get(strict_key, False))
    if (ov is None and nv is None) or (_same(ov, nv) and os_ == ns):
        return []  # no bound on either side (strictness alone means nothing), or no change
    key = strict_key if _same(ov, nv) else value_key
    side = "lower" if lower else "upper"
    text = f"{side} bound {_show_bound(ov, os_, lower)} → {_show_bound(nv, ns, lower)}"
    was, now = {value_key: ov, strict_key: os_}, {value_key: nv, strict_key: ns}
    order = None if ov is None or nv is None else _compare(ov, nv)
    if ov is None:
        narrower = True
    elif nv is None:
        narrower = False
    elif order is None:
        return [
            _Move(key, "changed", f"{text}: these values cannot be ordered; treated as breaking", was, now)
        ]
    elif order == 0:
        if os_ == ns:
            return []  # the same bound written another way (1 and 1.0, a date and its midnight)
        narrower = ns
    else:
        narrower = order < 0 if lower else order > 0  # a lower bound rises, or an upper bound falls
    if narrower:
        return [_Move(key, "tightened", f"{text}: a narrower range, a stronger guarantee", was, now)]
    msg = f"{text}: a wider range, consumers may see values the old contract ruled out"
    return [_Move(key, "loosened", msg, was, now)]


def _mostly_change(old: Any, new: Any) -> list[_Move]:
    if _same(old, new):
        return []
    if not (_is_number(old) and _is_number(new)):
        return [
            _Move("mostly", "changed", f"mostly {_show(old)} → {_show(new)}: cannot be compared", old, new)
        ]
    if new > old:
        return [
            _Move("mostly", "tightened", f"mostly {old} → {new}: fewer rows may fail the check", old, new)
        ]
    msg = f"mostly {old} → {new}: more failing rows may reach consumers"
    return [_Move("mostly", "loosened", msg, old, new)]


def _value_set_change(expectation: str, old: Any, new: Any) -> list[_Move]:
    """Allowed sets tighten by shrinking; required and forbidden sets tighten by growing."""
    if _same(old, new):
        return []
    old_set, new_set = _as_set(old), _as_set(new)
    if old_set is None or new_set is None:
        msg = "value_set changed in a way that cannot be compared; treated as breaking"
        return [_Move("value_set", "changed", msg, old, new)]
    added, removed = sorted(new_set - old_set), sorted(old_set - new_set)
    if not added and not removed:
        return []  # the same values in another order
    listed = "; ".join(
        [
            *([f"added {_show_list(added)}"] if added else []),
            *([f"removed {_show_list(removed)}"] if removed else []),
        ]
    )
    if added and removed:
        msg = f"value_set {listed}: stricter and looser at once; treated as breaking"
        return [_Move("value_set", "changed", msg, old, new)]
    allowed = expectation in _ALLOWED_SET
    if bool(removed) == allowed:
        return [_Move("value_set", "tightened", f"value_set {listed}: a stronger guarantee", old, new)]
    if allowed:
        what = "values the old contract did not allow may appear"
    elif expectation == "expect_column_distinct_values_to_contain_set":
        what = "values the old contract promised may be missing"
    else:
        what = "values the old contract excluded may appear"
    return [_Move("value_set", "loosened", f"value_set {listed}: {what}", old, new)]


# --- small helpers ---------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time())
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _compare(a: Any, b: Any) -> int | None:
    """-1, 0 or 1 for two bounds of one kind (numbers, or ISO dates and times); None otherwise."""
    if _is_number(a) and _is_number(b):
        return (a > b) - (a < b)
    da, db = _as_datetime(a), _as_datetime(b)
    if da is None or db is None or (da.tzinfo is None) != (db.tzinfo is None):
        return None
    return (da > db) - (da < db)


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values: 1 and 1.0 are the same, true and 1 are not."""
    return _canonical(a) == _canonical(b)


def _canonical(value: Any) -> str:
    if value is _MISSING:
        return "<missing>"
    if _is_number(value):
        value = float(value)
    return json.dumps(value, sort_keys=True, default=str)


def _as_set(value: Any) -> set[str] | None:
    if not isinstance(value, list | tuple | set | frozenset):
        return None
    return {_canonical(v) for v in value}


def _none(value: Any) -> Any:
    return None if value is _MISSING else value


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _show(value: Any) -> str:
    if value is None:
        return "none"
    text = f"'{value}'" if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def _show_list(canonical: list[str]) -> str:
    shown = ", ".join(canonical[:5])
    return f"{shown}, … ({len(canonical)} in all)" if len(canonical) > 5 else shown


def _show_bound(value: Any, strict: bool, lower: bool) -> str:
    if value is None:
        return "none"
    op = (">" if strict else ">=") if lower else ("<" if strict else "<=")
    return f"{op} {_show(value)}"


def _show_enum(value: Any) -> str:
    return "none" if value is None else str(value.value)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
