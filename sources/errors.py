"""Errors of the sources layer: a source that cannot be read.

Catalog mistakes are `contracts.errors.CatalogError`, shared with contracts; everything here derives
from `storage.errors.LockgateError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage.errors import LockgateError

if TYPE_CHECKING:
    from pathlib import Path


class SourceReadError(LockgateError):
    """A source file could not be found or parsed; says where, never what the data was."""

    def __init__(self, file: Path | str, line: int | None, message: str) -> None:
        self.file = str(file)
        self.line = line
        self.message = message
        where = f"{self.file}:{line}" if line is not None else self.file
        super().__init__(f"{where}: {message}")


class ContractHistoryError(LockgateError, LookupError):
    """A contract's earlier version cannot be read from git (not a repository, unknown revision); the
    message names the file and the revision."""
