"""The ingest flow's shape with nothing inside: what Prefect's orchestration of N sources costs by itself.

`noop_ingest` runs a flow built like ``lockgate-ingest`` (each of its steps as a task mapped over the
sources on the same task runner, one markdown artifact per source, then one register task), whose tasks
return at once. Its wall time next to the real run's says how much of a many-source run is task
submission, state changes and artifacts rather than data work.
"""

from __future__ import annotations

import time
from typing import Any


def noop_ingest(sources: int) -> float:
    """Wall seconds of one run of the no-op flow over `sources` items."""
    from prefect import flow, task, unmapped
    from prefect.artifacts import create_markdown_artifact
    from prefect.cache_policies import NO_CACHE

    from flows.pipeline import STEPS, ingest

    steps = [task(name=f"noop-{name}", cache_policy=NO_CACHE)(_pass) for name, _ in STEPS]
    register = task(name="noop-register", cache_policy=NO_CACHE)(_register)

    def shape(count: int) -> None:
        items: Any = list(range(count))
        for step in steps:
            items = step.map(items, run=unmapped("context"))
        items.wait()
        for i in range(count):
            create_markdown_artifact(key=f"lockgate-bench-noop-{i}", markdown="no-op", description="no-op")
        register(count)

    noop_flow = flow(name="lockgate-bench-noop", task_runner=ingest.task_runner.duplicate())(shape)
    start = time.perf_counter()
    noop_flow(sources)
    return time.perf_counter() - start


def _pass(item: int, run: str) -> int:
    return item


def _register(count: int) -> int:
    return count
