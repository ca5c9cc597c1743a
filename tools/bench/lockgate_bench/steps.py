"""Where a flow run's time and memory went, step by step: its Prefect task runs matched to RSS readings.

Each step's seconds are its task runs' run time as Prefect recorded it (``total_run_time``; runs of one
task, one per source, are summed). Its peak RSS is the highest `memory.RssSampler` reading taken while one
of its task runs was running (between the run's ``start_time`` and ``end_time``); a run shorter than the
sampling interval, with no reading inside, gets the readings just before and just after it. When task
runs of different steps overlap (several sources on the flow's thread pool), a reading counts for each
step running at that moment: the per-step peak is then the process's peak while the step ran, not the
step's own share of it.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lockgate_bench.errors import BenchError

if TYPE_CHECKING:
    from uuid import UUID

    from prefect.client.schemas.objects import TaskRun

TASK_RUNS_WAIT_S = 30.0  # task runs reach the API through events: wait this long for all of them
_POLL_S = 0.2
_PAGE = 200  # Prefect's default and largest page of task runs


@dataclass(frozen=True)
class Window:
    """One task run: its step (the task's name), when it ran and for how long Prefect says it ran."""

    step: str
    start: float  # POSIX seconds
    end: float
    seconds: float


def _step_name(task_run: TaskRun) -> str:
    """The task's name: a per-source step runs as ``<step>[<source>]``, a catalog-wide one under its own
    name (``docs-index``, ``register``, ``role-outputs``)."""
    name = task_run.name
    return name.split("[", 1)[0] if name.endswith("]") else name


def read_windows(flow_run_id: UUID | None, expected: int) -> list[Window]:
    """The flow run's finished task runs, in start order, once `expected` of them are recorded.

    Task runs reach Prefect's API as events, shortly after the flow returns; this waits up to
    `TASK_RUNS_WAIT_S` for `expected` of them to have an end time, then fails.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    if flow_run_id is None:
        raise BenchError("the flow run has no id, so its task runs cannot be read")
    deadline = time.monotonic() + TASK_RUNS_WAIT_S
    runs_of_flow = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    with get_client(sync_client=True) as client:
        while True:
            task_runs: list[TaskRun] = []
            while True:  # the API answers a page at a time
                page = client.read_task_runs(flow_run_filter=runs_of_flow, offset=len(task_runs), limit=_PAGE)
                task_runs += page
                if len(page) < _PAGE:
                    break
            unique = {t.id: t for t in task_runs}.values()  # a run recorded between pages may repeat one
            done = [t for t in unique if t.start_time is not None and t.end_time is not None]
            if len(done) >= expected:
                break
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{len(done)} of the run's {expected} task runs recorded after {TASK_RUNS_WAIT_S:.0f} s"
                )
            time.sleep(_POLL_S)
    windows = []
    for task_run in done:
        assert task_run.start_time is not None and task_run.end_time is not None
        windows.append(
            Window(
                step=_step_name(task_run),
                start=task_run.start_time.timestamp(),
                end=task_run.end_time.timestamp(),
                seconds=task_run.total_run_time.total_seconds(),
            )
        )
    return sorted(windows, key=lambda w: w.start)


def _readings_in(times: list[float], rss: list[float], window: Window) -> list[float]:
    """The readings taken while the window ran, else the one before and the one after it."""
    lo = bisect.bisect_left(times, window.start)
    hi = bisect.bisect_right(times, window.end)
    if hi > lo:
        return rss[lo:hi]
    return rss[max(lo - 1, 0) : min(hi + 1, len(rss))]


def busy_seconds(windows: list[Window]) -> float:
    """Wall time during which at least one task run was running (the union of the windows)."""
    total, reach = 0.0, float("-inf")
    for window in windows:  # sorted by start
        if window.end > reach:
            total += window.end - max(window.start, reach)
            reach = window.end
    return total


def step_table(windows: list[Window], samples: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """One row per step, in the order the steps first started: seconds, peak and starting RSS.

    ``peak_rss_mb`` and ``start_rss_mb`` are None without readings (no /proc); ``span_s`` is from the
    step's first start to its last end, ``samples`` how many readings fell inside its runs.
    """
    times = [t for t, _ in samples]
    rss = [mb for _, mb in samples]
    by_step: dict[str, list[Window]] = {}
    for window in windows:
        by_step.setdefault(window.step, []).append(window)
    rows = []
    for step, runs in by_step.items():
        readings = [mb for window in runs for mb in _readings_in(times, rss, window)]
        first = _readings_in(times, rss, runs[0])
        inside = sum(bisect.bisect_right(times, w.end) - bisect.bisect_left(times, w.start) for w in runs)
        rows.append(
            {
                "name": step,
                "seconds": round(sum(w.seconds for w in runs), 4),
                "peak_rss_mb": round(max(readings), 1) if readings else None,
                "start_rss_mb": round(first[0], 1) if first else None,
                "task_runs": len(runs),
                "span_s": round(max(w.end for w in runs) - runs[0].start, 4),
                "samples": inside,
            }
        )
    return rows
