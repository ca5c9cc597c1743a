"""Two versions of one contract file compared, as a data owner's CI runs ``lockgate contract diff``."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from contracts.diff import diff_contracts
from contracts.errors import CatalogError
from sources.catalog import load_contract
from sources.errors import ContractHistoryError

if TYPE_CHECKING:
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


def diff_against_revision(path: Path, revision: str, *, check: bool = False) -> ContractDiff | None:
    """The changes from the contract as committed at git `revision` (e.g. ``HEAD``) to `path` now;
    None for a contract that is new since then (nothing to break). A pre-commit hook runs this on
    the staged files (pre-commit sets unstaged changes aside first)."""
    committed = committed_text(path, revision)
    if committed is None:
        return None
    with tempfile.TemporaryDirectory(prefix="lockgate-contract-") as folder:
        # Named after the revision and the file, so a problem in the committed version says which it is.
        old = Path(folder) / revision.replace("/", "_") / path.name
        old.parent.mkdir()
        old.write_bytes(committed)
        return diff_contract_files(old, path, check=check)


def committed_text(path: Path, revision: str) -> bytes | None:
    """`path` as git `revision` has it; None when the file is not in that revision."""
    if not revision or revision.startswith("-"):  # would read as one of git's options
        raise ContractHistoryError(f"'{revision}' is not a git revision (e.g. HEAD, main, a commit)")
    folder = path.resolve().parent
    done = subprocess.run(
        ["git", "-C", str(folder), "show", f"{revision}:./{path.name}"],
        capture_output=True,
        check=False,
    )
    if done.returncode == 0:
        return done.stdout
    error = done.stderr.decode("utf-8", "replace").strip()
    if "does not exist in" in error or "exists on disk, but not in" in error:
        return None
    raise ContractHistoryError(f"{path}: cannot read it as of {revision} from git: {error or 'git failed'}")
