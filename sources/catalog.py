"""Loading a catalog folder: every passport, the contract each one names, and all their mistakes.

A catalog is a folder with ``sources/*.yaml`` (one passport per source); each passport names its
contract and its data by paths relative to the catalog folder. Loading never stops at the first
mistake: data owners fix a catalog in one pass, so every problem in every file is collected and
reported together.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ValidationError

from contracts.diagnostics import Problem
from contracts.errors import CatalogError, UnknownNameError
from contracts.model import Contract
from contracts.yamlio import YamlDocument, read_yaml
from sources.passport import Passport, relative_path

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

PASSPORT_DIR = "sources"
M = TypeVar("M", bound=BaseModel)
ContractCheck = Callable[[Contract, YamlDocument], Iterable[Problem]]


@dataclass(frozen=True)
class Source:
    """One registered source: its passport, its contract and where both were read from."""

    passport: Passport
    contract: Contract
    passport_path: Path
    contract_path: Path
    catalog_root: Path

    @property
    def name(self) -> str:
        return self.passport.name


@dataclass(frozen=True)
class Catalog:
    root: Path
    sources: list[Source]

    def select(self, names: Iterable[str]) -> list[Source]:
        """The named sources, in catalog order; an unknown name is an error listing the known ones."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return list(self.sources)
        known = {s.name: s for s in self.sources}
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise UnknownNameError(
                f"unknown source(s): {', '.join(unknown)}; the catalog has: {', '.join(known)}"
            )
        return [known[n] for n in wanted]


def _message(error: ErrorDetails) -> str:
    """pydantic's message in catalog words, without the value that was refused (see `_without_input`)."""
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return f"required field '{error['loc'][-1]}' is missing"
    if error["type"] == "union_tag_invalid":
        ctx = error["ctx"]
        expected = str(ctx["expected_tags"]).replace("'", "")
        return f"unknown {ctx['discriminator'].strip(chr(39))}: use one of {expected}"
    if message.startswith("value is not a valid email address") and ("'" in message or '"' in message):
        return "value is not a valid email address"  # the reason quotes the characters it refused
    return _without_input(message, error.get("input"))


def _without_input(message: str, value: object) -> str:
    """The message with the refused value taken out, should a validator have quoted it.

    Catalog files may hold pasted secrets, and messages go to logs and CI output: they name fields
    and positions only. Model-level errors (whose input is a whole mapping) name fields, not values.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float | date):
        return message
    text = value.isoformat() if isinstance(value, date) else str(value)
    if not text.strip():
        return message
    for quoted in (f"'{text}'", f'"{text}"', repr(text)):
        message = message.replace(f" {quoted}", "").replace(quoted, "")
    return message.strip() or "invalid value"


def parse_model(model: type[M], document: YamlDocument) -> tuple[M | None, list[Problem]]:
    """Validate a YAML document against a model; errors come back pinned to their positions."""
    if not isinstance(document.data, dict):
        return None, [Problem(document.path, 1, 1, "", "expected a mapping of fields at the top level")]
    try:
        return model.model_validate(document.data), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            if error["type"] == "missing":
                loc = loc[:-1]
            elif error["type"] == "union_tag_invalid":
                loc = (*loc, str(error["ctx"]["discriminator"]).strip("'"))
            problems.append(document.problem(loc, _message(error)))
        return None, problems


def _read(path: Path, root: Path | None) -> tuple[YamlDocument | None, list[Problem]]:
    try:
        return read_yaml(path, root=root), []
    except CatalogError as exc:
        return None, exc.problems


def load_contract(
    path: Path, check: ContractCheck | None = None, *, root: Path | None = None
) -> tuple[Contract | None, list[Problem]]:
    """Read and validate one contract file; `check` adds engine-level checks (e.g. GX arguments).

    With `root`, the file must resolve inside that catalog folder.
    """
    document, problems = _read(path, root)
    if document is None:
        return None, problems
    contract, problems = parse_model(Contract, document)
    if contract is not None and check is not None:
        problems.extend(check(contract, document))
    return (contract if not problems else None), problems


def _contract_ref(document: YamlDocument) -> str | None:
    """The contract path of a passport that failed validation, when that field itself is sound."""
    value = document.data.get("contract") if isinstance(document.data, dict) else None
    if not isinstance(value, str):
        return None
    try:
        relative_path(value)
    except ValueError:
        return None
    return value


def load_catalog(root: Path, check: ContractCheck | None = None) -> Catalog:
    """Load every passport under ``root/sources`` with its contract, or raise with all problems."""
    passport_dir = root / PASSPORT_DIR
    if not passport_dir.is_dir():
        raise CatalogError([Problem(root, 0, 0, "", f"no '{PASSPORT_DIR}/' folder with passports here")])
    paths = sorted([*passport_dir.glob("*.yaml"), *passport_dir.glob("*.yml")])
    if not paths:
        raise CatalogError([Problem(passport_dir, 0, 0, "", "no passport files (*.yaml)")])

    problems: list[Problem] = []
    sources: list[Source] = []
    contracts: dict[Path, tuple[Contract | None, list[Problem]]] = {}
    first_seen: dict[str, Path] = {}
    for path in paths:
        document, found = _read(path, root)
        problems.extend(found)
        if document is None:
            continue
        passport, found = parse_model(Passport, document)
        problems.extend(found)
        if passport is not None and passport.name in first_seen:
            problems.append(
                document.problem(
                    ("name",), f"source '{passport.name}' is also registered in {first_seen[passport.name]}"
                )
            )
            continue
        # The contract is checked even when the passport has mistakes: owners fix everything in one pass.
        contract_ref = passport.contract if passport is not None else _contract_ref(document)
        if contract_ref is None:
            continue
        contract_file = root / contract_ref
        if not os.path.lexists(contract_file):
            problems.append(document.problem(("contract",), f"contract file not found: {contract_ref}"))
            continue
        # Named as written (a symlink's target may lie outside the catalog); shared by resolved path.
        contract_path = Path(os.path.realpath(contract_file))
        if contract_path not in contracts:
            contracts[contract_path] = load_contract(contract_file, check, root=root)
            problems.extend(contracts[contract_path][1])
        contract = contracts[contract_path][0]
        if passport is not None:
            first_seen[passport.name] = path
            if contract is not None:
                sources.append(Source(passport, contract, path, contract_path, root))
    if problems:
        raise CatalogError(problems)
    return Catalog(root=root, sources=sources)
