"""How an ingest run ends in Prefect: a final state whose name and message say what happened.

A run where every source published (or had nothing new) is ``Completed``; one where some did and
others stopped or failed is ``Failed`` under the name ``Partially published``; one where none did is
``Failed``; one that SIGINT or SIGTERM stopped is ``Failed`` under the name ``Interrupted``. The message
counts the sources and names the others with their causes, e.g. ``2 of 3 sources published; stopped:
orders (rules)``, so the flow-run list in the UI tells the story without opening a run.

The flow returns the state instead of raising: Prefect makes a returned state the run's final one, and
a caller still gets the data, raised when it is an exception (`RunFailed`, `Interrupted`, both carrying
the whole `RunResult`), exactly as if the flow had raised it.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from prefect.states import Completed, Failed

from flows.errors import Interrupted, RunFailed
from flows.reports import stop_causes
from flows.results import SourceStatus

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

    from flows.results import RunResult

PARTIAL = "Partially published"
INTERRUPTED = "Interrupted"


def run_summary(run: RunResult) -> str:
    """``<ok> of <n> sources published`` (``or unchanged`` when some were), then the others by status."""
    ok = [r for r in run.sources if r.ok]
    done = "published or unchanged" if any(r.status is SourceStatus.UNCHANGED for r in ok) else "published"
    noun = "source" if len(run.sources) == 1 else "sources"
    parts = [f"{len(ok)} of {len(run.sources)} {noun} {done}"]
    stopped = [
        f"{r.source} ({', '.join(stop_causes(r)) or 'stop-line'})"
        for r in run.sources
        if r.status is SourceStatus.STOPPED
    ]
    if stopped:
        parts.append(f"stopped: {', '.join(stopped)}")
    for status in (SourceStatus.FAILED, SourceStatus.INTERRUPTED):
        names = [r.source for r in run.sources if r.status is status]
        if names:
            parts.append(f"{status.value}: {', '.join(names)}")
    return "; ".join(parts)


def final_state(run: RunResult, signum: int | None = None) -> State[RunResult]:
    """The state the ingest flow run ends in (see the module's docstring); `signum`: the stop signal."""
    summary = run_summary(run)
    if signum is not None:
        stopped = f"stopped by {signal.Signals(signum).name}: {summary}"
        return Failed(name=INTERRUPTED, message=stopped, data=Interrupted(run, signum))
    if run.ok:
        return Completed(message=summary, data=run)
    if any(r.ok for r in run.sources):
        return Failed(name=PARTIAL, message=summary, data=RunFailed(run))
    return Failed(message=summary, data=RunFailed(run))
