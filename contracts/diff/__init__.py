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

from typing import TYPE_CHECKING

from contracts.diff.changes import Change, ContractDiff, Direction
from contracts.diff.columns import column_changes
from contracts.diff.fields import text_change
from contracts.diff.fields import unclassified as _unclassified  # under this name tests reach it too
from contracts.diff.rules import rule_changes
from contracts.diff.semver import Bump, SemVer, allows_breaking, bumped

if TYPE_CHECKING:
    from contracts.model import Contract

__all__ = [
    "Bump",
    "Change",
    "ContractDiff",
    "Direction",
    "SemVer",
    "allows_breaking",
    "bumped",
    "diff_contracts",
]

# Statuses under which consumers may rely on the contract.
_IN_FORCE = frozenset({"active", "deprecated"})
# Model fields this package classifies; any other field is reported by `_unclassified`.
_CONTRACT_FIELDS = frozenset(
    {"schema_", "api_version", "kind", "id", "name", "version", "status", "description", "schema_objects"}
)
_TABLE_FIELDS = frozenset({"name", "physical_name", "description", "properties", "quality"})


def diff_contracts(old: Contract, new: Contract) -> ContractDiff:
    """All changes from `old` to `new`: contract fields, then columns, then quality rules."""
    base = f"schema.{new.table.name}"
    changes = [*_contract_changes(old, new), *column_changes(old, new, base), *rule_changes(old, new, base)]
    return ContractDiff(old.version, new.version, changes)


def _contract_changes(old: Contract, new: Contract) -> list[Change]:
    """The contract's own fields and its table's; columns and rules are judged in their modules."""
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
    out += text_change("metadata_changed", "name", old.name, new.name)
    for part in ("purpose", "usage", "limitations"):
        was = getattr(old.description, part) if old.description else None
        now = getattr(new.description, part) if new.description else None
        out += text_change("description_changed", f"description.{part}", was, now)
    before, after = old.table, new.table
    base = f"schema.{after.name}"
    if before.name != after.name:
        msg = (
            f"schema object '{before.name}' → '{after.name}'; curated datasets and warehouse views are "
            "named after the source, so consumers see no difference"
        )
        out.append(Change("table_renamed", f"{base}.name", False, msg, before.name, after.name))
    out += text_change("metadata_changed", f"{base}.physicalName", before.physical_name, after.physical_name)
    out += text_change("description_changed", f"{base}.description", before.description, after.description)
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
