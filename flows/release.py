"""Release parts of a run's publish: which code, contract, inputs, keys and configuration made a version.

The id itself is computed in :mod:`storage.release`; this module gathers the parts that only the flow
knows: the code version (the installed package plus, in a git checkout, the commit) and the contract as
loaded from the catalog.
"""

from __future__ import annotations

import functools
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.release import ReleaseParts, content_sha256

if TYPE_CHECKING:
    from contracts.model import Contract

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def code_version() -> str:
    """``<package version>`` plus ``+g<commit>`` when Lockgate runs from a git checkout.

    Uncommitted changes are not in it: a release id names committed code, and a developer's dirty tree
    would otherwise give every run a new id.
    """
    try:
        package = version("lockgate")
    except PackageNotFoundError:
        package = "0+unknown"
    if not (PROJECT_ROOT / ".git").exists():
        return package
    try:
        commit = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return package
    return f"{package}+g{commit}" if commit else package


def contract_sha256(contract: Contract) -> str:
    """The contract's content hash, from the model as loaded (comments and key order do not count)."""
    return content_sha256(contract.model_dump(mode="json", by_alias=True, exclude_none=True))


def release_parts(
    contract: Contract,
    inputs: list[str],
    masked_columns: dict[str, str],
    *,
    erasures: list[str] | None = None,
    config: dict[str, Any] | None = None,
) -> ReleaseParts:
    """The parts of a version built from `inputs` (raw sha256s) under `contract` by this code."""
    return ReleaseParts(
        inputs=inputs,
        contract_id=contract.id,
        contract_version=contract.version,
        contract_sha256=contract_sha256(contract),
        code_version=code_version(),
        key_ids=dict(masked_columns),
        erasures=list(erasures or []),
        config=dict(config or {}),
    )


__all__ = ["code_version", "contract_sha256", "release_parts"]
