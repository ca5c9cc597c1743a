"""Memory of the current process: its peak (``ru_maxrss``) and its resident set sampled over time.

Each path's figure is its own process's ``ru_maxrss``. Where the pipeline spends that memory is read
from `RssSampler`: a daemon thread that reads ``VmRSS`` from ``/proc/self/status`` every few tens of
milliseconds and keeps each reading with its wall-clock time, so that the readings can be matched
afterwards to the Prefect task run that was running when each was taken (`steps`). A reading costs
tens of microseconds; the thread sleeps in between (holding no GIL), so the timed work is not slowed.
"""

from __future__ import annotations

import resource
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

SAMPLE_INTERVAL_S = 0.02
_STATUS = Path("/proc/self/status")


def peak_rss_mb() -> float:
    """This process's peak resident set so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> float | None:
    """This process's resident set now (``VmRSS``), or None where /proc is not available."""
    try:
        with _STATUS.open("rb") as status:
            for line in status:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) / 1024  # "VmRSS:   123456 kB"
    except OSError:
        return None
    return None


class RssSampler:
    """``with RssSampler() as sampler:`` records (wall time, RSS MB) pairs until the block ends.

    The first reading is taken on entry and the last on exit, so a block shorter than the interval still
    has two. `samples` is empty where /proc is not available (macOS): the per-step memory is then unknown.
    """

    def __init__(self, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lockgate-bench-rss", daemon=True)

    def _take(self) -> None:
        rss = current_rss_mb()
        if rss is not None:
            self.samples.append((time.time(), rss))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._take()

    def __enter__(self) -> RssSampler:
        self._take()
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._take()

    def peak_mb(self) -> float | None:
        """The highest reading, or None without readings."""
        return max((rss for _, rss in self.samples), default=None)
