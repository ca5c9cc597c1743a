"""Two versions of one contract file compared, as a data owner's CI runs ``lockgate contract diff``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.diff import diff_contracts
from contracts.errors import CatalogError
from sources.catalog import load_contract

if TYPE_CHECKING:
    from pathlib import Path

    from contracts.diff import ContractDiff


def diff_contract_files(old: Path, new: Path, *, check: bool = False) -> ContractDiff:
    """Every change from `old` to `new`, each classified as breaking for consumers or not.

    Both files are read the way ``lockgate validate`` reads contracts; with `check` every rule is also
    built with Great Expectations (slower). Raises `CatalogError` with the problems of both files.
    """
    contract_check = None
    if check:
        from contracts.expectations import check_contract  # Great Expectations: only when asked

        contract_check = check_contract
    old_contract, old_problems = load_contract(old, contract_check)
    new_contract, new_problems = load_contract(new, contract_check)
    if old_contract is None or new_contract is None or old_problems or new_problems:
        raise CatalogError([*old_problems, *new_problems])
    return diff_contracts(old_contract, new_contract)
