"""Run a Prefect flow from a command and turn how it ended into output and an exit code.

The flow runs in this process (Prefect's ephemeral API unless ``PREFECT_API_URL`` names a server); its
final state, not a raised exception, says how it went, so a failure becomes a message, never a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, cast

from cli.errors import EXIT_FAILED, EXIT_INVALID, exit_with_error, exit_with_problems

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.client.schemas.objects import State

R = TypeVar("R")


def run_flow(flow: Flow[..., R], *, failure: str, **params: Any) -> R:
    """The flow's result, or an exit: catalog mistakes exit 2 with every problem, other failures 1.

    A run that did not publish every source is raised as its `flows.errors.RunFailed`, which carries
    the whole run, so the caller can show what did happen before exiting. `failure` starts the message
    of any other failure, e.g. ``"run failed"``.
    """
    from contracts.errors import CatalogError
    from flows.errors import RunFailed

    try:
        # With `**params`, mypy matches Prefect's overload that returns the result, not the state.
        state = cast("State[R]", flow(**params, return_state=True))
    except CatalogError as exc:  # raised, not returned, when it happens before the flow run starts
        exit_with_problems(exc.problems, EXIT_INVALID)
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, RunFailed):
        raise outcome
    if isinstance(outcome, CatalogError):
        exit_with_problems(outcome.problems, EXIT_INVALID)
    if isinstance(outcome, BaseException):
        exit_with_error(f"{failure}: {outcome}", EXIT_FAILED)
    return outcome
