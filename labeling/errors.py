"""Errors of the labeling layer: annotations, the Label Studio server and its API.

All derive from `storage.errors.LockgateError`; messages name the server, the step or the row, never a
token, a password or an annotator's e-mail.
"""

from __future__ import annotations

from storage.errors import LockgateError

MAX_SHOWN = 20  # problems listed in one error message; the rest are counted


class AnnotationsError(LockgateError, ValueError):
    """Annotations that cannot be used; each problem reads ``source: row N: what is wrong``."""

    def __init__(self, problems: list[str], hidden: int = 0) -> None:
        self.problems = problems
        more = len(problems) - MAX_SHOWN + hidden
        lines = problems[:MAX_SHOWN] + ([f"... and {more} more problem(s)"] if more > 0 else [])
        super().__init__("\n".join(lines))


class StudioError(LockgateError, RuntimeError):
    """Talking to Label Studio failed; the message names the server and the step, never the token."""


class LabelStudioServerError(LockgateError, RuntimeError):
    """The server could not be started or found; the message says what to do, never a secret."""
