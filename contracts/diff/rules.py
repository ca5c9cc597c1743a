"""Quality rules across two versions: a rule is a guarantee, so only a weaker one breaks consumers.

Rules are matched by ``rule_id``. A kept rule is judged argument by argument (bounds, ``mostly``,
value sets, anything else as unordered), then by severity; a removed rule breaks nothing while another
rule still gives the same guarantee or a stronger one (`kept_by`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from contracts.diff.changes import Change
from contracts.diff.fields import text_change, unclassified
from contracts.diff.render import show, show_bound, show_list
from contracts.diff.values import MISSING, canonical, compare, is_number, same
from contracts.expectations import all_rules
from contracts.model import QualityRule, Severity

if TYPE_CHECKING:
    from contracts.diff.changes import Direction
    from contracts.model import Contract

_SEVERITY_LEVEL = {Severity.WARN: 0, Severity.ERROR: 1}
# Model fields of a rule judged here; any other field is reported by `unclassified`.
_RULE_FIELDS = frozenset({"id", "expectation", "kwargs", "severity", "description"})

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

_MOVE_KINDS: dict[Direction, tuple[str, bool]] = {
    "tightened": ("rule_tightened", False),
    "loosened": ("rule_loosened", True),
    "changed": ("rule_changed", True),
}


def rule_changes(old: Contract, new: Contract, base: str) -> list[Change]:
    """Rules removed, added or changed; a rule leaving with its column is reported by the column."""
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
        elif keeper := kept_by(rule, new_all):
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


def kept_by(rule: QualityRule, candidates: list[QualityRule]) -> str | None:
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
    out += text_change("description_changed", f"{path}.description", old.description, new.description)
    out += unclassified(old, new, _RULE_FIELDS, path)
    return out


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
        was, now = old.get(key, MISSING), new.get(key, MISSING)
        if same(was, now):
            continue
        was, now = _none(was), _none(now)
        if key == "column":
            msg = f"now checks column {show(now)} instead of {show(was)}"
        elif "regex" in key or "pattern" in key:
            msg = f"{key} {show(was)} → {show(now)}: what matches cannot be compared; treated as breaking"
        else:
            msg = f"{key} {show(was)} → {show(now)}: the effect cannot be ordered; treated as breaking"
        out.append(_Move(key, "changed", msg, was, now))
    return out


def _bound_change(old: dict[str, Any], new: dict[str, Any], *, lower: bool) -> list[_Move]:
    """A bound is its value and its strictness together: ``> 0`` to ``>= 1`` is still narrower."""
    value_key, strict_key = ("min_value", "strict_min") if lower else ("max_value", "strict_max")
    ov, nv = old.get(value_key), new.get(value_key)
    os_, ns = bool(old.get(strict_key, False)), bool(new.get(strict_key, False))
    if (ov is None and nv is None) or (same(ov, nv) and os_ == ns):
        return []  # no bound on either side (strictness alone means nothing), or no change
    key = strict_key if same(ov, nv) else value_key
    side = "lower" if lower else "upper"
    text = f"{side} bound {show_bound(ov, os_, lower)} → {show_bound(nv, ns, lower)}"
    was, now = {value_key: ov, strict_key: os_}, {value_key: nv, strict_key: ns}
    order = None if ov is None or nv is None else compare(ov, nv)
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
    if same(old, new):
        return []
    if not (is_number(old) and is_number(new)):
        return [_Move("mostly", "changed", f"mostly {show(old)} → {show(new)}: cannot be compared", old, new)]
    if new > old:
        return [
            _Move("mostly", "tightened", f"mostly {old} → {new}: fewer rows may fail the check", old, new)
        ]
    msg = f"mostly {old} → {new}: more failing rows may reach consumers"
    return [_Move("mostly", "loosened", msg, old, new)]


def _value_set_change(expectation: str, old: Any, new: Any) -> list[_Move]:
    """Allowed sets tighten by shrinking; required and forbidden sets tighten by growing."""
    if same(old, new):
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
            *([f"added {show_list(added)}"] if added else []),
            *([f"removed {show_list(removed)}"] if removed else []),
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


def _as_set(value: object) -> set[str] | None:
    """A JSON list as a set of canonical values (1 and 1.0 are one); None when it is not a list."""
    if not isinstance(value, list | tuple | set | frozenset):
        return None
    return {canonical(v) for v in value}


def _none(value: object) -> object:
    """An absent argument reads as null in messages and in the report."""
    return None if value is MISSING else value
