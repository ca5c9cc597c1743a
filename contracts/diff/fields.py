"""Changes every level of a contract shares: text fields, and fields lockgate does not classify.

The contract, its table, each column and each rule all carry documentation (never breaking), and any
of them may gain model fields after the rules in this package were written; both are handled here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.diff.changes import Change
from contracts.diff.render import show
from contracts.diff.values import same

if TYPE_CHECKING:
    from pydantic import BaseModel


def text_change(kind: str, path: str, old: str | None, new: str | None) -> list[Change]:
    """Documentation and labels: reported, never breaking."""
    if old == new:
        return []
    msg = "added" if old is None else "removed" if new is None else f"{show(old)} → {show(new)}"
    return [Change(kind, path, False, msg, old, new)]


def unclassified(old: BaseModel, new: BaseModel, known: frozenset[str], path: str) -> list[Change]:
    """Fields added to the model after this package was written (e.g. ingestion settings such as a
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
            msg = f"{show(before)} → {show(after)}: not classified by lockgate; review by hand"
            out.append(Change("field_changed", leaf, False, msg, before, after))
    return out


def _leaf_changes(old: object, new: object, path: str) -> list[tuple[str, object, object]]:
    """(dotted path, old, new) of every differing value, descending through mappings."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[tuple[str, object, object]] = []
        for key in [*old, *(k for k in new if k not in old)]:
            sub = f"{path}.{key}" if path else str(key)
            out += _leaf_changes(old.get(key), new.get(key), sub)
        return out
    return [] if same(old, new) else [(path, old, new)]
