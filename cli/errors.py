"""How a command fails: the message on stderr and a non-zero exit code, never a traceback.

Expected failures are `storage.errors.LockgateError`s, whose messages are written for people; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.text import Text

from cli.output import err, print_problems

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from contracts.diagnostics import Problem

EXIT_FAILED = 1
EXIT_INVALID = 2  # the input (catalog, contract, file) is not usable


def exit_with_error(message: str | BaseException, code: int = EXIT_FAILED) -> NoReturn:
    """Print `message` literally (values are never read as markup) in red on stderr and exit `code`."""
    err.print(Text(str(message), style="red"))
    raise typer.Exit(code)


def exit_with_problems(problems: Sequence[Problem], code: int = EXIT_INVALID) -> NoReturn:
    """Print every catalog problem and how many there are, then exit `code`."""
    print_problems(problems)
    raise typer.Exit(code)


@contextlib.contextmanager
def exit_on_failure(
    code: int = EXIT_FAILED,
    *,
    problems_code: int | None = None,
    prefix: str = "",
    expected: tuple[type[Exception], ...] = (),
) -> Iterator[None]:
    """Turn an expected failure inside the block into its message and an exit code.

    A `CatalogError` prints its problems and exits `problems_code` (default: `code`); any other
    `LockgateError`, or one of the `expected` exception types, prints `prefix` and its message and
    exits `code`.
    """
    from contracts.errors import CatalogError
    from storage.errors import LockgateError

    failures: tuple[type[Exception], ...] = (LockgateError, *expected)
    try:
        yield
    except CatalogError as exc:
        exit_with_problems(exc.problems, code if problems_code is None else problems_code)
    except failures as exc:
        exit_with_error(f"{prefix}{exc}", code)
