"""Errors of the contracts layer: catalog files, rules, masking keys, secrets, encryption, GX.

All derive from `storage.errors.LockgateError`; messages name files, fields, keys and rows, never the
values or secrets involved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage.errors import LockgateError

if TYPE_CHECKING:
    from contracts.diagnostics import Problem


class CatalogError(LockgateError):
    """Catalog files are not valid; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UnknownNameError(LockgateError, KeyError):
    """A source or labeling plan the catalog does not have; the message lists the ones it does."""

    def __str__(self) -> str:
        # KeyError would quote the message as if it were a key.
        return str(self.args[0]) if self.args else ""


class RuleError(LockgateError, ValueError):
    """A rule GX cannot build; ``field`` is the rule's YAML key to point at."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class MaskingKeyError(LockgateError, RuntimeError):
    """A masking key cannot be used; the message says what to set, never the key itself."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(message)


class MissingKeyError(MaskingKeyError):
    """No key of that name is set anywhere Lockgate looks."""


class WeakKeyError(MaskingKeyError):
    """The key is set but too short (or not decodable) to mask with."""


class SecretUnavailable(LockgateError):  # noqa: N818 - reads as what happened
    """The Prefect API could not be asked (`unreachable`), or the block holds no text; `reason` says which."""

    def __init__(self, block: str, reason: str, *, unreachable: bool) -> None:
        self.block = block
        self.reason = reason
        self.unreachable = unreachable
        super().__init__(f"Prefect Secret block '{block}': {reason}")


class DecryptionError(LockgateError, ValueError):
    """A value could not be decrypted; names the row, never the value."""


class GxDuckdbUnsupportedError(LockgateError, RuntimeError):
    """The installed GX no longer has a hook Lockgate patches: fail loudly, never validate wrongly."""


class SuppressionError(LockgateError):
    """Erased subjects cannot be kept out of a run: the key that hashed them is not configured, or the
    column they were erased by is gone. Names the source, column and key, never a value."""
