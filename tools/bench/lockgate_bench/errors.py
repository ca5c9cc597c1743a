"""The benchmark's errors, under Lockgate's single root so the command line treats them as expected.

Pickling across processes is the root's job (`LockgateError.__reduce__`), so neither class adds one.
"""

from __future__ import annotations

from storage.errors import LockgateError


class BenchError(LockgateError):
    """A benchmark path failed; the message says which and why (the child's last stderr lines)."""


class BenchDataError(LockgateError):
    """The reference data cannot be made as asked (for example a seed numpy does not accept)."""
