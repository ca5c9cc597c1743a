"""What every Lockgate flow shares: run ids, the retry policy of steps that touch storage, and how an
expected failure is logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from prefect.runtime import flow_run

from storage.errors import LockgateError

# Steps that read or write the lake (or another store) retry with backoff; parsing and validating do not,
# because a malformed file or a failed rule fails the same way every time.
IO_RETRIES = 3
IO_RETRY_DELAYS: list[float] = [1, 4, 15]


def new_run_id() -> str:
    """Sortable run id: UTC time plus the Prefect flow-run id's prefix when there is one."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run = flow_run.get_id()
    return f"{stamp}-{str(run)[:8]}" if run else stamp


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
