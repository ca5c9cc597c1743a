"""What each worker process of a run's local Dask cluster does as it starts (distributed's ``preload``).

A terminal sends Ctrl-C to the whole process group, and the local cluster's workers are in the command's:
they died mid-partition, and the step waited for them. Each worker ignores SIGINT instead, finishes its
partition, and the command stops at the next step boundary (`flows.interrupts`) and closes the cluster,
which ends the workers (SIGTERM). Blocking the signal while the cluster starts is not enough:
multiprocessing's spawned processes do not inherit the signal mask.
"""

from __future__ import annotations

import signal
from typing import Any

import flows.partitions  # noqa: F401 - imported as the worker starts, not by its first partition


def dask_setup(worker: Any) -> None:
    """Called by distributed in the worker process's main thread, before the worker takes tasks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
