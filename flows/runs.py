"""What every Lockgate flow shares: run ids and the retry policy of steps that touch storage."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect.runtime import flow_run

# Steps that read or write the lake (or another store) retry with backoff; parsing and validating do not,
# because a malformed file or a failed rule fails the same way every time.
IO_RETRIES = 3
IO_RETRY_DELAYS = [1, 4, 15]


def new_run_id() -> str:
    """Sortable run id: UTC time plus the Prefect flow-run id's prefix when there is one."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run = flow_run.get_id()
    return f"{stamp}-{str(run)[:8]}" if run else stamp
