"""Columns across two versions, judged by what their consumers could see.

Columns are matched by name. A column masked with ``drop`` is not published, so nothing about it can
break a consumer, and dropping a published column breaks as much as removing it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from contracts.diff.changes import Change
from contracts.diff.fields import text_change, unclassified
from contracts.diff.render import show, show_enum
from contracts.diff.rules import kept_by
from contracts.expectations import all_rules
from contracts.model import Classification, DropRule, LogicalType, QualityRule, RedactRule, Severity

if TYPE_CHECKING:
    from contracts.model import Contract, MaskingRule, Property

# Kinds that describe how a column's published values are computed (see `_pii_and_masking_changes`).
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
# Model fields of a column judged here; any other field is reported by `unclassified`.
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
# Each column flag, the rule that gives the same guarantee, and what consumers may see without it.
_FLAG_GUARANTEES = (
    ("required", "expect_column_values_to_not_be_null", "nulls"),
    ("unique", "expect_column_values_to_be_unique", "repeated values"),
)


def _published(prop: Property) -> bool:
    return not isinstance(prop.masking, DropRule)


def column_changes(old: Contract, new: Contract, base: str) -> list[Change]:
    """Columns removed, added, changed or reordered."""
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
        was, now = show_enum(old.classification), show_enum(new.classification)
        raised = _CLASSIFICATION_LEVEL[new.classification] > _CLASSIFICATION_LEVEL[old.classification]
        why = "consumers cleared for the old level may lose access" if raised else "no access is taken away"
        msg = f"classification {was} → {now}: {why}"
        out.append(Change("classification_changed", f"{path}.classification", raised, msg, was, now))
    out += text_change("description_changed", f"{path}.description", old.description, new.description)
    out += text_change("metadata_changed", f"{path}.physicalType", old.physical_type, new.physical_type)
    out += unclassified(old, new, _PROPERTY_FIELDS, path)

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


def _flag_changes(old: Property, new: Property, path: str, new_contract: Contract) -> list[Change]:
    """required, unique and primaryKey, each at its own field; breaking only when a guarantee goes."""
    out: list[Change] = []
    new_rules = all_rules(new_contract)
    keepers: dict[str, str | None] = {}  # flag → what still gives its guarantee (None: nothing does)
    for flag, expectation, _ in _FLAG_GUARANTEES:
        if getattr(new, flag) or new.primary_key:
            keepers[flag] = "primaryKey" if new.primary_key else flag
        else:
            rule = kept_by(_flag_rule(expectation, new.name), new_rules)
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
        was, now = show_enum(old.pii), show_enum(new.pii)
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
        f"{k} {show(was.get(k))} → {show(now.get(k))}"
        for k in sorted(set(was) | set(now))
        if was.get(k) != now.get(k)
    )
    return Change("masking_changed", path, True, f"{om.rule} {params}: published values change", was, now)
