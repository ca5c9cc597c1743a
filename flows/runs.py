"""What every Lockgate flow shares: run ids, the retry policy of steps that touch storage (and the decorator
of run-wide steps), and how an expected failure is logged."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from storage.errors import LockgateError

if TYPE_CHECKING:
    from collections.abc import Callable

    from prefect import Task

P = ParamSpec("P")
R = TypeVar("R")

# Steps that read or write the lake (or another store) retry with backoff; parsing and validating do not,
# because a malformed file or a failed rule fails the same way every time.
IO_RETRIES = 3
IO_RETRY_DELAYS: list[float] = [1, 4, 15]


def run_wide_task(name: str) -> Callable[[Callable[P, R]], Task[P, R]]:
    """The decorator of a step a run takes once for the whole catalog (docs-index, register, role-outputs):
    named without Prefect's random suffix in the UI, untagged like every step (`flows.tags`), its storage
    work retried."""
    return task(
        name=name,
        task_run_name=name,
        retries=IO_RETRIES,
        retry_delay_seconds=IO_RETRY_DELAYS,
        cache_policy=NO_CACHE,
    )


def new_run_id() -> str:
    """Sortable run id: UTC time plus the Prefect flow-run id's prefix when there is one.

    Lockgate's flows also name their flow runs with it (``flow_run_name=new_run_id``), so the Prefect UI
    and the lake speak of a run by the same name; `run_id` reads it back.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run = flow_run.get_id()
    return f"{stamp}-{str(run)[:8]}" if run else stamp


def current_run_id() -> str:
    """This flow run's id: its name when the flow named it with `new_run_id`, else a new one."""
    name = flow_run.get_name()
    return name if name and _RUN_ID.match(name) else new_run_id()


_RUN_ID = re.compile(r"^\d{8}T\d{6}Z(-[0-9a-f]{8})?$")


class _ExpectedFailures(logging.Filter):
    """Prefect logs every failed flow or task run with its traceback. For a `LockgateError` (a catalog
    mistake, an unknown source, a stop-line) the message already names the file, source or row, and the
    traceback only buries it on the terminal: keep the message, drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], LockgateError):
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_expected_failures() -> None:
    """Install the filter on Prefect's flow-run and task-run loggers (once; Prefect keeps logger filters)."""
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ExpectedFailures) for f in logger.filters):
            logger.addFilter(_ExpectedFailures())


quiet_expected_failures()
