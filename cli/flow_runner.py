"""Run a Prefect flow from a command and turn how it ended into output and an exit code.

The flow runs in this process (Prefect's ephemeral API unless ``PREFECT_API_URL`` names a server); its
final state, not a raised exception, says how it went, so a failure becomes a message, never a traceback.
"""

from __future__ import annotations

import contextlib
import signal
from typing import TYPE_CHECKING, Any, TypeVar, cast

from cli.errors import EXIT_FAILED, EXIT_INVALID, exit_with_error, exit_with_problems

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.client.schemas.objects import State

R = TypeVar("R")


def run_flow(flow: Flow[..., R], *, failure: str, stop_at_steps: bool = False, **params: Any) -> R:
    """The flow's result, or an exit: catalog mistakes exit 2 with every problem, other failures 1.

    A run that did not publish every source is raised as its `flows.errors.RunFailed`, which carries
    the whole run, so the caller can show what did happen before exiting; so is a run that SIGINT or
    SIGTERM stopped, as its `flows.errors.Interrupted`. `stop_at_steps`: the flow checks
    `flows.interrupts` between its steps, so from here to its end the signals ask it to stop instead of
    raising (a signal that came too early or too late for the flow to see exits 128 + its number).
    `failure` starts the message of any other failure, e.g. ``"run failed"``.

    Prefect's ephemeral API server, when one is used, starts here and ends with this process.
    """
    from prefect.exceptions import TerminationSignal

    from contracts.errors import CatalogError
    from flows.ephemeral import start_ephemeral_api
    from flows.errors import Interrupted, RunFailed
    from flows.interrupts import stop_on_signals, stop_signal
    from flows.results import RunResult

    with stop_on_signals() if stop_at_steps else contextlib.nullcontext():
        start_ephemeral_api()
        try:
            # With `**params`, mypy matches Prefect's overload that returns the result, not the state.
            state = cast("State[R]", flow(**params, return_state=True))
        except CatalogError as exc:  # raised, not returned, when it happens before the flow run starts
            exit_with_problems(exc.problems, EXIT_INVALID)
        except TerminationSignal as exc:  # Prefect's SIGTERM bridge: the run ended before its first step
            exit_with_error(f"{failure}: stopped by {signal.Signals(exc.signal).name}", 128 + exc.signal)
        signum = stop_signal() if stop_at_steps else None
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, RunFailed | Interrupted):
        raise outcome
    if signum is not None:
        if isinstance(outcome, RunResult):  # the signal came after the flow's last step
            raise Interrupted(outcome, signum)
        exit_with_error(f"{failure}: stopped by {signal.Signals(signum).name}", 128 + signum)
    if isinstance(outcome, CatalogError):
        exit_with_problems(outcome.problems, EXIT_INVALID)
    if isinstance(outcome, BaseException):
        exit_with_error(f"{failure}: {outcome}", EXIT_FAILED)
    return outcome
