"""Problems found in catalog files, each pinned to a file, line and column.

Every interface that reads user-written YAML reports through `Problem`, so the command line, the flow
and the tests all print mistakes the same way: ``file:line:column: field.path: message``. It lives in
the contracts layer, the lowest one that reads catalog files, so contracts and sources share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake in one file. Lines and columns are 1-based, 0 when unknown."""

    file: Path
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
