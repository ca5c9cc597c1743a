"""The contract diff engine: every change classified from the consumer's side, and semver.

The command (`lockgate contract diff`, its output and exit codes) is tested in tests/cli/test_contract.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from testkit.contract_documents import PROPERTIES, QUALITY, document, with_column, with_rule

from contracts.diff import SemVer, allows_breaking, bumped, diff_contracts
from contracts.model import Contract

EXAMPLES = Path(__file__).parents[2] / "examples" / "catalog" / "contracts"


def contract(
    properties: list[dict[str, Any]] | None = None, quality: list[dict[str, Any]] | None = None, **top: Any
) -> Contract:
    return Contract.model_validate(document(properties, quality, **top))


def changes(old: Contract, new: Contract) -> list[tuple[str, bool]]:
    """(kind, breaking) of every change but the version line."""
    return [(c.kind, c.breaking) for c in diff_contracts(old, new).changes if c.kind != "version_changed"]


BASE = contract()


# --- no changes ------------------------------------------------------------------------------------


def test_identical_contracts_have_no_changes() -> None:
    result = diff_contracts(BASE, contract())
    assert result.changes == []
    assert (result.breaking, result.required_bump, result.version_bump_ok) == (False, "none", True)
    assert result.verdict() == "no changes; version 1.0.0 → 1.0.0"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_example_contracts_against_themselves(path: Path) -> None:
    from sources.catalog import load_contract

    loaded, problems = load_contract(path)
    assert loaded is not None, problems
    assert diff_contracts(loaded, loaded).changes == []


def test_masking_shorthand_equals_its_long_form() -> None:
    new = contract(with_column("email", masking={"rule": "hash", "key": "default"}))
    assert changes(BASE, new) == []


# --- columns ---------------------------------------------------------------------------------------


def test_removed_column_is_breaking() -> None:
    new = contract([p for p in PROPERTIES if p["name"] != "signup"])
    [change] = diff_contracts(BASE, new).changes
    assert (change.kind, change.breaking, change.path) == (
        "column_removed",
        True,
        "schema.customers.properties.signup",
    )


def test_added_columns_are_not_breaking_even_required() -> None:
    new = contract(
        [
            *PROPERTIES,
            {"name": "note", "logicalType": "string"},
            {"name": "country", "logicalType": "string", "required": True},
        ]
    )
    result = diff_contracts(BASE, new)
    assert [(c.kind, c.breaking) for c in result.changes] == [
        ("column_added", False),
        ("column_added", False),
    ]
    assert "producers must now supply it" in result.changes[1].message
    assert result.required_bump == "minor"


def test_reordered_columns_are_a_patch() -> None:
    new = contract([PROPERTIES[1], PROPERTIES[0], *PROPERTIES[2:]])
    assert changes(BASE, new) == [("columns_reordered", False)]
    assert diff_contracts(BASE, new).required_bump == "patch"


@pytest.mark.parametrize(
    ("old_type", "new_type", "breaking"),
    [
        ("integer", "number", False),  # promotions: every old value converts exactly
        ("date", "timestamp", False),
        ("number", "integer", True),  # narrowing
        ("timestamp", "date", True),
        ("integer", "string", True),  # text: arithmetic and ranges stop working
        ("string", "integer", True),
        ("boolean", "integer", True),  # unrelated
    ],
)
def test_type_changes_break_unless_they_promote(old_type: str, new_type: str, breaking: bool) -> None:
    old = contract(with_column("amount", logicalType=old_type), quality=[])
    new = contract(with_column("amount", logicalType=new_type), quality=[])
    [change] = diff_contracts(old, new).changes
    assert (change.kind, change.breaking) == ("type_changed", breaking)
    assert change.path == "schema.customers.properties.amount.logicalType"
    assert (change.old, change.new) == (old_type, new_type)


def test_promotion_still_breaks_keys_and_values_computed_from_the_raw_value() -> None:
    key = contract(with_column("customer_id", logicalType="number"))
    assert changes(BASE, key) == [("type_changed", True)]  # float64 is exact only up to 2**53

    hashed = [{"name": "customer_id", "logicalType": "integer", "masking": "hash"}]
    promoted = [{"name": "customer_id", "logicalType": "number", "masking": "hash"}]
    assert changes(contract(hashed, []), contract(promoted, [])) == [("type_changed", True)]

    redacted = [{"name": "customer_id", "logicalType": "integer", "masking": "redact"}]
    promoted = [{"name": "customer_id", "logicalType": "number", "masking": "redact"}]
    assert changes(contract(redacted, []), contract(promoted, [])) == [("type_changed", False)]


# --- required, unique, primaryKey ------------------------------------------------------------------


def test_required_removed_is_breaking_and_added_is_not() -> None:
    loose = contract(with_column("email", required=None))
    [change] = diff_contracts(BASE, loose).changes
    assert (change.kind, change.breaking, change.path) == (
        "required_removed",
        True,
        "schema.customers.properties.email.required",
    )
    assert "nulls" in change.message
    assert changes(loose, BASE) == [("required_added", False)]


def test_required_removed_is_not_breaking_while_the_guarantee_stays() -> None:
    still_key = contract(with_column("customer_id", required=True))
    assert changes(still_key, BASE) == [("required_removed", False)]  # primaryKey still implies it

    not_null = {"expectation": "expect_column_values_to_not_be_null", "kwargs": {"column": "email"}}
    by_rule = contract(with_column("email", required=None), [*QUALITY, not_null])
    assert changes(BASE, by_rule) == [("required_removed", False), ("rule_added", False)]

    mostly = {**not_null, "kwargs": {"column": "email", "mostly": 0.99}}
    weaker = contract(with_column("email", required=None), [*QUALITY, mostly])
    assert ("required_removed", True) in changes(BASE, weaker)


def test_unique_removed_is_breaking_and_added_is_not() -> None:
    unique = contract(with_column("segment", unique=True))
    assert changes(unique, BASE) == [("unique_removed", True)]
    assert changes(BASE, unique) == [("unique_added", False)]


def test_primary_key_removed_is_breaking_when_its_guarantees_go() -> None:
    new = contract(with_column("customer_id", primaryKey=None))
    [change] = diff_contracts(BASE, new).changes
    assert (change.kind, change.breaking) == ("primary_key_removed", True)
    assert "nulls and repeated values" in change.message
    assert changes(new, BASE) == [("primary_key_added", False)]
    still_a_key = contract(with_column("customer_id", primaryKey=None, required=True, unique=True))
    assert changes(BASE, still_a_key) == [
        ("required_added", False),
        ("unique_added", False),
        ("primary_key_removed", False),
    ]


# --- masking and PII -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old_masking", "new_masking", "kind", "breaking"),
    [
        ("hash", "redact", "masking_changed", True),  # values consumers join on change
        ({"rule": "hash", "key": "default"}, {"rule": "hash", "key": "crm"}, "masking_key_changed", True),
        ({"rule": "encrypt", "key": "a"}, {"rule": "encrypt", "key": "b"}, "masking_key_changed", True),
        ({"rule": "partial", "keep_last": 4}, {"rule": "partial", "keep_last": 2}, "masking_changed", True),
        ("redact", {"rule": "redact", "replacement": "***"}, "masking_changed", True),
        ("hash", "drop", "masking_changed", True),  # no longer published
        ("drop", "hash", "masking_changed", False),  # consumers never saw it
    ],
)
def test_masking_changes(old_masking: Any, new_masking: Any, kind: str, breaking: bool) -> None:
    old = contract(with_column("email", masking=old_masking))
    new = contract(with_column("email", masking=new_masking))
    [change] = diff_contracts(old, new).changes
    assert (change.kind, change.breaking) == (kind, breaking)
    assert change.path.startswith("schema.customers.properties.email.masking")


def test_masking_added_or_removed_on_a_column_without_pii() -> None:
    masked = contract(with_column("segment", masking="hash"))
    assert changes(BASE, masked) == [("masking_added", True)]
    assert changes(masked, BASE) == [("masking_removed", True)]
    dropped = contract(with_column("segment", masking="drop"))
    assert changes(dropped, BASE) == [("masking_removed", False)]  # the column appears


def test_pii_declared_on_a_clear_column_is_one_breaking_change() -> None:
    new = contract(with_column("segment", pii="other", masking="redact"))
    [change] = diff_contracts(BASE, new).changes
    assert (change.kind, change.breaking, change.path) == (
        "pii_added",
        True,
        "schema.customers.properties.segment.pii",
    )
    assert "redact" in change.message
    assert changes(new, BASE) == [("pii_removed", True)]  # masked values become clear ones


def test_pii_label_alone_does_not_break() -> None:
    masked = contract(with_column("segment", masking="hash"))
    labelled = contract(with_column("segment", masking="hash", pii="other"))
    assert changes(masked, labelled) == [("pii_added", False)]
    assert changes(labelled, masked) == [("pii_removed", False)]
    phone = contract(with_column("email", pii="phone"))
    assert changes(BASE, phone) == [("pii_changed", False)]


def test_columns_that_are_not_published_break_no_one() -> None:
    dropped = with_column("amount", masking="drop")
    retyped = with_column("amount", masking="drop", logicalType="string")
    assert changes(contract(dropped, []), contract(retyped, [])) == [("type_changed", False)]
    removed = [p for p in dropped if p["name"] != "amount"]
    assert changes(contract(dropped, []), contract(removed, [])) == [("column_removed", False)]
    # Dropping a published column breaks once, at its masking; its other changes ride along.
    result = diff_contracts(contract(quality=[]), contract(retyped, []))
    assert [(c.kind, c.breaking) for c in result.changes] == [
        ("type_changed", False),
        ("masking_added", True),
    ]
    assert "no longer published" in result.changes[1].message


@pytest.mark.parametrize(
    ("old", "new", "breaking"),
    [("internal", "restricted", True), ("restricted", "internal", False), (None, "confidential", True)],
)
def test_classification_raised_is_breaking(old: str | None, new: str | None, breaking: bool) -> None:
    before = contract(with_column("segment", classification=old))
    after = contract(with_column("segment", classification=new))
    assert changes(before, after) == [("classification_changed", breaking)]


# --- quality rules ---------------------------------------------------------------------------------


def test_rule_added_is_not_breaking_and_removed_is() -> None:
    fewer = contract(quality=QUALITY[:1])
    [removed] = diff_contracts(BASE, fewer).changes
    assert (removed.kind, removed.breaking) == ("rule_removed", True)
    assert removed.path == "schema.customers.quality.expect_column_values_to_be_in_set:segment"
    assert changes(fewer, BASE) == [("rule_added", False)]


def test_rule_renamed_keeps_its_guarantee() -> None:
    renamed = contract(quality=[with_rule(0, id="amount_bounds")[0], QUALITY[1]])
    assert changes(BASE, renamed) == [("rule_removed", False), ("rule_added", False)]
    weaker = copy.deepcopy(QUALITY[0]) | {"id": "amount_bounds", "severity": "warn"}
    assert changes(BASE, contract(quality=[weaker, QUALITY[1]]))[0] == ("rule_removed", True)


def test_rules_of_a_removed_column_go_with_it() -> None:
    new = contract([p for p in PROPERTIES if p["name"] != "segment"], QUALITY[:1])
    assert changes(BASE, new) == [("column_removed", True), ("rule_removed", False)]


BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
NOT_IN_SET = "expect_column_values_to_not_be_in_set"


@pytest.mark.parametrize(
    ("expectation", "old", "new", "expected"),
    [
        (BETWEEN, {"min_value": 0}, {"min_value": 5}, [("min_value", "rule_tightened", False)]),
        (BETWEEN, {"min_value": 5}, {"min_value": 0}, [("min_value", "rule_loosened", True)]),
        (BETWEEN, {"max_value": 100}, {"max_value": 50}, [("max_value", "rule_tightened", False)]),
        (BETWEEN, {"max_value": 100}, {}, [("max_value", "rule_loosened", True)]),
        (BETWEEN, {}, {"min_value": 0}, [("min_value", "rule_tightened", False)]),
        (
            BETWEEN,
            {"min_value": 0},
            {"min_value": 0, "strict_min": True},
            [("strict_min", "rule_tightened", False)],
        ),
        (
            BETWEEN,
            {"max_value": 9, "strict_max": True},
            {"max_value": 9},
            [("strict_max", "rule_loosened", True)],
        ),
        (
            BETWEEN,
            {"min_value": 0, "strict_min": True},
            {"min_value": 1},
            [("min_value", "rule_tightened", False)],
        ),
        (
            BETWEEN,
            {"min_value": 1},
            {"min_value": 0, "strict_min": True},
            [("min_value", "rule_loosened", True)],
        ),
        (BETWEEN, {"min_value": 0}, {"min_value": 0.0}, []),
        (
            BETWEEN,
            {"min_value": 0, "max_value": 10},
            {"min_value": 1, "max_value": 20},
            [("min_value", "rule_tightened", False), ("max_value", "rule_loosened", True)],
        ),
        (
            BETWEEN,
            {"min_value": "2020-01-01"},
            {"min_value": "2021-06-30"},
            [("min_value", "rule_tightened", False)],
        ),
        (BETWEEN, {"min_value": "2020-01-01"}, {"min_value": 5}, [("min_value", "rule_changed", True)]),
        (BETWEEN, {"mostly": 0.9}, {"mostly": 0.99}, [("mostly", "rule_tightened", False)]),
        (BETWEEN, {"mostly": 0.99}, {"mostly": 0.9}, [("mostly", "rule_loosened", True)]),
        (BETWEEN, {}, {"mostly": 0.95}, [("mostly", "rule_loosened", True)]),  # the default is 1
        (IN_SET, {"value_set": ["a", "b"]}, {"value_set": ["a"]}, [("value_set", "rule_tightened", False)]),
        (IN_SET, {"value_set": ["a"]}, {"value_set": ["a", "b"]}, [("value_set", "rule_loosened", True)]),
        (IN_SET, {"value_set": ["a", "b"]}, {"value_set": ["a", "c"]}, [("value_set", "rule_changed", True)]),
        (IN_SET, {"value_set": ["a", "b"]}, {"value_set": ["b", "a"]}, []),
        (
            NOT_IN_SET,
            {"value_set": ["x"]},
            {"value_set": ["x", "y"]},
            [("value_set", "rule_tightened", False)],
        ),
        (NOT_IN_SET, {"value_set": ["x", "y"]}, {"value_set": ["x"]}, [("value_set", "rule_loosened", True)]),
        (
            "expect_column_values_to_match_regex",
            {"regex": "^a"},
            {"regex": "^ab"},
            [("regex", "rule_changed", True)],  # cannot be ordered: conservatively breaking
        ),
        (
            "expect_column_value_lengths_to_equal",
            {"value": 12},
            {"value": 10},
            [("value", "rule_changed", True)],
        ),
        (
            "expect_column_values_to_not_be_null",
            {"min_value": 1},
            {"min_value": 2},
            [("min_value", "rule_changed", True)],
        ),
    ],
)
def test_rule_arguments(
    expectation: str, old: dict[str, Any], new: dict[str, Any], expected: list[tuple[str, str, bool]]
) -> None:
    def rules(kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"id": "r", "expectation": expectation, "kwargs": {"column": "segment", **kwargs}}]

    result = diff_contracts(contract(quality=rules(old)), contract(quality=rules(new)))
    prefix = "schema.customers.quality.r.kwargs."
    assert [(c.path.removeprefix(prefix), c.kind, c.breaking) for c in result.changes] == expected


def test_rule_pointed_at_another_column_or_expectation_is_changed() -> None:
    other_column = with_rule(0, kwargs={"column": "customer_id", "min_value": 0, "max_value": 100})
    assert changes(BASE, contract(quality=other_column)) == [("rule_changed", True)]
    other_check = with_rule(0, expectation="expect_column_values_to_not_be_null", kwargs={"column": "amount"})
    [change] = diff_contracts(BASE, contract(quality=other_check)).changes
    assert (change.kind, change.breaking, change.path) == (
        "rule_changed",
        True,
        "schema.customers.quality.amount_range.expectation",
    )


def test_severity_lowered_is_breaking_and_raised_is_not() -> None:
    assert changes(BASE, contract(quality=with_rule(0, severity="warn"))) == [("severity_lowered", True)]
    assert changes(BASE, contract(quality=with_rule(1, severity="error"))) == [("severity_raised", False)]


# --- contract fields -------------------------------------------------------------------------------


def test_contract_level_changes() -> None:
    assert changes(BASE, contract(id="clients")) == [("id_changed", True)]
    described = contract(description={"purpose": "Customers of the shop."})
    assert changes(BASE, described) == [("description_changed", False)]
    assert diff_contracts(BASE, described).required_bump == "patch"
    renamed = document()
    renamed["schema"][0]["name"] = "clients"
    assert changes(BASE, Contract.model_validate(renamed)) == [("table_renamed", False)]


@pytest.mark.parametrize(
    ("old", "new", "breaking"),
    [
        ("active", "deprecated", False),
        ("active", "retired", True),
        ("active", "draft", True),
        ("draft", "active", False),
        ("deprecated", "active", False),
    ],
)
def test_status_changes(old: str, new: str, breaking: bool) -> None:
    assert changes(contract(status=old), contract(status=new)) == [("status_changed", breaking)]


def test_fields_added_to_the_model_later_are_reported_for_review() -> None:
    """A field this module does not classify (a drift policy, say) is listed, not silently skipped."""
    from pydantic import BaseModel

    from contracts.diff import _unclassified

    class Table(BaseModel):
        name: str
        policy: dict[str, Any] = {}

    old = Table(name="t", policy={"newColumns": "block", "missingColumns": "block"})
    new = Table(name="t", policy={"newColumns": "drop", "missingColumns": "block"})
    [change] = _unclassified(old, new, frozenset({"name"}), "schema.t")
    assert (change.kind, change.path, change.breaking) == (
        "field_changed",
        "schema.t.policy.newColumns",
        False,
    )
    assert (change.old, change.new) == ("block", "drop")
    assert "review by hand" in change.message
    assert _unclassified(old, old, frozenset({"name"}), "schema.t") == []


# --- semver ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        ("1.2.0", "2.0.0", True),
        ("1.2.0", "1.3.0", False),
        ("1.2.0", "1.2.0", False),
        ("2.0.0", "1.0.0", False),
        ("0.2.0", "0.3.0", True),  # under 0.x the minor number plays the major's part
        ("0.2.0", "0.2.1", False),
        ("0.9.0", "1.0.0", True),
        ("1.0.0", "2.0.0-rc.1", True),
        ("2.0.0-rc.1", "2.0.0", True),  # a prerelease may still break until its release
        ("2.0.0-rc.1", "2.0.0-rc.2", True),
        ("2.0.0", "2.1.0-rc.1", False),
    ],
)
def test_allows_breaking(old: str, new: str, allowed: bool) -> None:
    assert allows_breaking(SemVer.parse(old), SemVer.parse(new)) is allowed


@pytest.mark.parametrize(
    ("old", "bump", "expected"),
    [
        ("1.2.3", "major", "2.0.0"),
        ("0.2.3", "major", "0.3.0"),
        ("1.2.3", "minor", "1.3.0"),
        ("1.2.3", "patch", "1.2.4"),
        ("1.2.3", "none", "1.2.3"),
        ("2.0.0-rc.1", "major", "2.0.0"),
    ],
)
def test_bumped(old: str, bump: Any, expected: str) -> None:
    assert str(bumped(SemVer.parse(old), bump)) == expected


def test_semver_precedence() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-rc.2", "1.0.0-rc.10", "1.0.0", "1.0.1", "1.10.0"]
    assert sorted(ordered, key=lambda v: SemVer.parse(v).precedence()) == ordered


def test_version_gate_and_verdicts() -> None:
    removed = [p for p in PROPERTIES if p["name"] != "signup"]
    minor = diff_contracts(contract(version="1.2.0"), contract(removed, version="1.3.0"))
    assert (minor.breaking, minor.required_bump, minor.version_bump_ok) == (True, "major", False)
    assert minor.verdict() == "1 breaking change; version 1.2.0 → 1.3.0 needs a major bump (2.0.0)"

    major = diff_contracts(contract(version="1.2.0"), contract(removed, version="2.0.0"))
    assert major.version_bump_ok
    assert major.verdict() == "1 breaking change; version 1.2.0 → 2.0.0 is a major bump: ok"

    zero = diff_contracts(contract(version="0.2.0"), contract(removed, version="0.2.1"))
    assert not zero.version_bump_ok
    assert zero.verdict().endswith("needs at least a minor bump under 0.x (0.3.0)")
    assert diff_contracts(contract(version="0.2.0"), contract(removed, version="0.3.0")).version_bump_ok

    added = [*PROPERTIES, {"name": "note", "logicalType": "string"}]
    unbumped = diff_contracts(BASE, contract(added))
    assert unbumped.version_bump_ok  # only breaking changes fail the gate
    assert unbumped.verdict() == (
        "1 change, none breaking; version 1.0.0 → 1.0.0: ok (unchanged; 1.1.0 would announce a minor change)"
    )


def test_json_dict_is_serialisable() -> None:
    dated = with_rule(0, kwargs={"column": "signup", "min_value": "2020-01-01"})
    result = diff_contracts(BASE, contract(quality=dated, version="2.0.0"))
    data = json.loads(json.dumps(result.to_json_dict()))
    assert set(data) >= {"old_version", "new_version", "breaking", "required_bump", "version_ok", "changes"}
    assert data["changes"][0] == {
        "kind": "version_changed",
        "path": "version",
        "breaking": False,
        "message": "1.0.0 → 2.0.0",
        "old": "1.0.0",
        "new": "2.0.0",
    }
