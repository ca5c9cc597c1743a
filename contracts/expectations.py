"""Compile a contract's rules into a Great Expectations suite, and check them before any data moves.

Column flags (``required``, ``unique``, ``primaryKey``) become expectations too, so every check a
contract makes is run, reported and counted the same way. GX validates expectation arguments only
when it builds an expectation; ``check_contract`` does exactly that build, so ``lockgate validate``
finds a misspelt expectation or argument at its YAML line instead of in the middle of a run.

Great Expectations is imported lazily: the import alone takes seconds.
"""

from __future__ import annotations

import difflib
import logging
import os
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from contracts.errors import RuleError
from contracts.model import Action, QualityRule, Severity
from contracts.row_level import ROW_LEVEL_EXPECTATIONS

if TYPE_CHECKING:
    from collections.abc import Callable

    import great_expectations as gx
    from great_expectations.expectations.expectation import Expectation

    from contracts.diagnostics import Problem
    from contracts.model import Contract
    from contracts.yamlio import YamlDocument

# Expectation fields that are not arguments of the check: allowing them in ``kwargs`` would let a
# contract override our metadata or ask GX for a result format that lists data values.
RESERVED_KWARGS = frozenset(
    {
        "id",
        "meta",
        "notes",
        "severity",
        "description",
        "rendered_content",
        "result_format",
        "catch_exceptions",
    }
)
# Keyword arguments that name further columns; the model checks only ``column``.
_COLUMN_LIST_KWARGS = ("column_list", "column_set")
_COLUMN_KWARGS = ("column_A", "column_B")
_GX_SEVERITY: dict[Severity, Literal["critical", "warning"]] = {
    Severity.ERROR: "critical",
    Severity.WARN: "warning",
}


def implicit_rules(contract: Contract) -> list[QualityRule]:
    """Rules the column flags imply; a primary key is both required and unique."""
    rules: list[QualityRule] = []
    for prop in contract.columns:
        if prop.required or prop.primary_key:
            rules.append(
                QualityRule(
                    id=f"required:{prop.name}",
                    expectation="expect_column_values_to_not_be_null",
                    kwargs={"column": prop.name},
                    severity=Severity.ERROR,
                )
            )
        if prop.unique or prop.primary_key:
            rules.append(
                QualityRule(
                    id=f"unique:{prop.name}",
                    expectation="expect_column_values_to_be_unique",
                    kwargs={"column": prop.name},
                    severity=Severity.ERROR,
                )
            )
    return rules


# The arguments an explicit rule may have and still be the very check a column flag implies.
_FLAG_CHECK_KWARGS = frozenset({"column", "mostly"})


def _restates(rule: QualityRule, implied: QualityRule) -> bool:
    """Whether an explicit rule asks for the check a flag implies: the same expectation on the same
    column, with no argument but ``mostly``."""
    return (
        rule.expectation == implied.expectation
        and rule.column == implied.column
        and set(rule.kwargs) <= _FLAG_CHECK_KWARGS
    )


def _as_strict_as_the_flag(rule: QualityRule) -> QualityRule:
    """The rule under its own id and description, but blocking on every row, as the flag's check does."""
    update: dict[str, Any] = {}
    if rule.severity is not Severity.ERROR:
        update["severity"] = Severity.ERROR
    if rule.on_failure is not Action.BLOCK:
        update["action"] = Action.BLOCK
    if "mostly" in rule.kwargs:
        update["kwargs"] = {"column": rule.column}
    return rule.model_copy(update=update) if update else rule


def all_rules(contract: Contract) -> list[QualityRule]:
    """Implicit rules first, then the contract's own, in file order; a check written both ways runs once.

    A column flag and an explicit rule can ask for the same check: ``required`` (or ``primaryKey``) and
    an ``expect_column_values_to_not_be_null`` rule on that column, ``unique`` (or ``primaryKey``) and
    an ``expect_column_values_to_be_unique`` one. Then only the explicit rule stays, in its place and
    under its own id and description (the names its author chose, which reports and diffs show), but as
    strict as the flag: severity error, action block, every row (a ``mostly`` is dropped). The flag is
    the contract's promise about the column, which a rule cannot loosen; and the verdict is the one the
    two gave when both ran (the flag's check blocked on the very rows the rule judged), while the suite,
    the Data Docs, the reports and their counts now list the check once. To quarantine or only warn about
    nulls or duplicates, drop the flag and keep the rule.
    """
    explicit = list(contract.quality)
    kept: list[QualityRule] = []
    for implied in implicit_rules(contract):
        same = next((i for i, rule in enumerate(explicit) if _restates(rule, implied)), None)
        if same is None:
            kept.append(implied)
        else:
            explicit[same] = _as_strict_as_the_flag(explicit[same])
    return [*kept, *explicit]


def gx_offline() -> None:
    """GX phones home on import unless told not to; a pipeline handling PII must not.

    Its INFO chatter (temporary docs folders per ephemeral context) is noise in run logs.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)


@cache
def known_expectations() -> tuple[str, ...]:
    """Names of the expectations GX has registered (core ones, plus any plug-in imported before)."""
    gx_offline()
    from great_expectations.expectations.registry import list_registered_expectation_implementations

    return tuple(sorted(list_registered_expectation_implementations()))


def _format_gx_errors(expectation: str, exc: Exception) -> str:
    """One readable sentence from GX's pydantic (v1) errors; one line per argument, not per union branch."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return f"{expectation}: {' '.join(str(exc).split())}"
    parts: dict[str, str] = {}
    for error in errors():
        loc = [str(part) for part in error.get("loc", ())]
        name = loc[0] if loc else "__root__"
        kind = str(error.get("type", ""))
        if name == "__root__":
            parts.setdefault(f"__root__{len(parts)}", str(error.get("msg")))
        elif kind == "value_error.extra":
            parts[name] = f"unknown argument '{name}'"
        elif kind == "value_error.missing":
            parts[name] = f"missing argument '{name}'"
        else:
            parts.setdefault(name, f"argument '{name}': {error.get('msg')}")
    return f"{expectation}: {'; '.join(dict.fromkeys(parts.values()))}"


def _check_kwargs(rule: QualityRule) -> None:
    reserved = sorted(RESERVED_KWARGS.intersection(rule.kwargs))
    if reserved:
        raise RuleError(
            "kwargs",
            f"{rule.expectation}: {', '.join(reserved)} cannot be set in kwargs "
            "(severity and description are fields of the rule itself)",
        )


def compile_rule(rule: QualityRule) -> Expectation:
    """Build the GX expectation for one rule; its meta carries our rule id and severity."""
    gx_offline()
    # the defining module: the package re-exports it without marking it public for type checkers
    from great_expectations.exceptions.exceptions import GreatExpectationsError
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    from great_expectations.expectations.metadata_types import FailureSeverity
    from great_expectations.expectations.registry import get_expectation_impl

    _check_kwargs(rule)
    try:
        get_expectation_impl(rule.expectation)
    except Exception as exc:
        close = difflib.get_close_matches(rule.expectation, known_expectations(), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise RuleError("expectation", f"unknown expectation '{rule.expectation}'{hint}") from exc
    try:
        config = ExpectationConfiguration(
            type=rule.expectation,
            kwargs=dict(rule.kwargs),
            meta={"rule_id": rule.rule_id, "severity": rule.severity.value},
            severity=FailureSeverity(_GX_SEVERITY[rule.severity]),
            description=rule.description,
        )
        return config.to_domain_obj()
    except (
        ValueError,
        TypeError,
        GreatExpectationsError,
    ) as exc:  # pydantic's ValidationError is a ValueError
        raise RuleError("kwargs", _format_gx_errors(rule.expectation, exc)) from exc


def build_suite(contract: Contract, name: str | None = None) -> gx.ExpectationSuite:
    """The contract's full suite; raises `RuleError` for a rule that `check_contract` would report.

    Expectations are built one by one (not handed to the suite as configurations) because the suite
    constructor logs and skips an invalid one, and ``add_expectation`` merges two rules that differ only
    in their metadata: here every rule stays, and none is lost silently.
    """
    gx_offline()
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=name or f"lockgate-{contract.id}-{contract.version}")
    suite.expectations.extend(compile_rule(rule) for rule in all_rules(contract))
    return suite


def _unknown_columns(rule: QualityRule, columns: set[str]) -> list[str]:
    """Columns named by pair and multi-column arguments that the contract does not declare."""
    named: list[Any] = [rule.kwargs.get(key) for key in _COLUMN_KWARGS]
    for key in _COLUMN_LIST_KWARGS:
        value = rule.kwargs.get(key)
        if isinstance(value, list):
            named.extend(value)
    return [name for name in named if isinstance(name, str) and name not in columns]


def check_contract(
    contract: Contract, document: YamlDocument, *, judge: Callable[[QualityRule], object] | None = None
) -> list[Problem]:
    """Every rule GX would refuse, pinned to its YAML position (a `ContractCheck` for the catalog).

    `judge` raises the `RuleError` of a rule GX refuses; by default `compile_rule` (which imports GX),
    or e.g. `contracts.rule_verdicts.RuleVerdicts.check`, which remembers GX's verdicts.
    """
    problems: list[Problem] = []
    columns = {prop.name for prop in contract.columns}
    implicit_ids = {rule.rule_id for rule in implicit_rules(contract)}
    for i, rule in enumerate(contract.quality):
        loc: tuple[str | int, ...] = ("schema", 0, "quality", i)
        if rule.rule_id in implicit_ids:
            problems.append(
                document.problem(
                    (*loc, "id"),
                    f"rule id '{rule.rule_id}' is taken by the rule a column flag implies; choose another id",
                )
            )
        unknown = _unknown_columns(rule, columns)
        if unknown:
            names = ", ".join(f"'{name}'" for name in unknown)
            problems.append(
                document.problem((*loc, "kwargs"), f"{rule.expectation}: unknown column(s) {names}")
            )
            continue
        try:
            (judge or compile_rule)(rule)
        except RuleError as exc:
            problems.append(document.problem((*loc, exc.field), str(exc)))
        if rule.on_failure is Action.QUARANTINE and rule.expectation not in ROW_LEVEL_EXPECTATIONS:
            problems.append(
                document.problem(
                    (*loc, "action"),
                    f"{rule.expectation} judges the table, not single rows, so it cannot quarantine rows; "
                    f"use block or warn (rules that can: {', '.join(sorted(ROW_LEVEL_EXPECTATIONS))})",
                )
            )
    return problems
