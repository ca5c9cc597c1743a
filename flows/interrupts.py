"""SIGINT and SIGTERM stop a run at the next step boundary instead of in the middle of a step.

A signal only records the request (and says so on stderr); the flow checks it before it starts each
step, so a step already running finishes (a publish is never cut in half) and none starts after the
signal. The flow then tells what was done and what was not, and the command exits 128 + the signal's
number. Without this, Ctrl-C raised `KeyboardInterrupt` in the flow while the task threads went on
publishing, and Prefect's SIGTERM bridge crashed the run the same way.

A second signal gives up on the boundary: the signal's default action ends the process at once (the lake
stays consistent, as after kill -9, and the next run converges).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from prefect import get_run_logger
from prefect.utilities.engine import is_prefect_sigterm_handler_installed

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from types import FrameType

    from prefect import Task
    from prefect.futures import PrefectFuture

T = TypeVar("T")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# The signals received since the outermost block began, appended by the handler (in the main thread,
# between two bytecodes: a list append takes no lock, so it cannot deadlock with what it interrupted).
_received: list[int] = []
_depth = 0  # nested `stop_on_signals` blocks (the command's, then the flow's inside Prefect's)


def _handle(signum: int, _frame: FrameType | None) -> None:
    _received.append(signum)
    if len(_received) > 1:  # the second signal: no more waiting for the boundary
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    name = signal.Signals(signum).name
    # os.write, not print or logging: the handler may have interrupted either in the middle of a write.
    os.write(2, f"\n{name}: stopping after the running step; send it again to quit at once\n".encode())


def stop_signal() -> int | None:
    """The signal that asked the current run to stop, or None while none has."""
    return _received[0] if _received else None


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM ask for a stop instead of raising; the handlers in force
    before come back after it.

    Inside a flow run, SIGTERM is Prefect's bridge, which raises in the middle of whatever runs: that one
    is not put back, because the flow engine that installed it puts back what it replaced when the run
    ends, and until then (the engine's own teardown) a SIGTERM must still only ask for a stop.
    The outermost block starts with no request; nested ones share it, so the command's block sees the
    signal the flow's block acted on. Handlers can only be set in the main thread: elsewhere the block
    changes nothing.
    """
    global _depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _depth == 0:
        _received.clear()
    bridge = is_prefect_sigterm_handler_installed()
    previous = {signum: signal.signal(signum, _handle) for signum in STOP_SIGNALS}
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        for signum, handler in previous.items():
            if signum == signal.SIGTERM and bridge:
                continue
            # None: a handler not set from Python; the default is the closest we can put back.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def run_in_steps(
    steps: Sequence[tuple[str, Task[..., T]]],
    items: Sequence[T],
    label: Callable[[T], str],
    **params: Any,
) -> list[list[tuple[str, PrefectFuture[T]]]]:
    """Take each item through `steps` in order, one task per step, and return each item's task futures.

    A step starts once the item's previous step completed, so items move on independently; one whose
    step failed goes no further. Each start is logged (``<item>: starting <step>``), and once a stop is
    requested no step starts: those running finish, and an item's list ends before its remaining steps.
    Task runs are named by step and item, ``<task name>[<item>]``, so the UI says whose step each is.
    """
    logger = get_run_logger()
    chains: list[list[tuple[str, PrefectFuture[T]]]] = [[] for _ in items]
    finished: queue.SimpleQueue[int] = queue.SimpleQueue()

    def start(i: int, upstream: Any) -> bool:
        position = len(chains[i])
        if position == len(steps):
            return False
        name, step = steps[position]
        signum = stop_signal()
        if signum is not None:
            logger.warning("%s: stopped by %s before %s", label(items[i]), signal.Signals(signum).name, name)
            return False
        logger.info("%s: starting %s", label(items[i]), name)
        # Named for the item in the UI (``validate[customers]``); braces escaped: Prefect formats the name.
        item = label(items[i]).replace("{", "{{").replace("}", "}}")
        future = step.with_options(task_run_name=f"{step.name}[{item}]").submit(upstream, **params)
        chains[i].append((name, future))
        future.add_done_callback(lambda _: finished.put(i))
        return True

    running = sum(start(i, item) for i, item in enumerate(items))
    while running:
        i = finished.get()  # a signal arriving here runs its handler at once, then the wait goes on
        running -= 1
        future = chains[i][-1][1]
        future.wait()
        if future.state.is_completed() and start(i, future):
            running += 1
    return chains
