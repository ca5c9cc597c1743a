"""What the ingest flow does with each source's result once its steps are over: keep, announce, chart it.

One call per source (:func:`record_source_run`), in the flow's loop over results:

* the run history in the lake gets the result with its start and finish (:mod:`storage.run_history`);
* Prefect gets the outcome as an event (:mod:`flows.events`), for automations;
* the run gets a markdown artifact of the source's quality and volume over its recent runs.

None of these can change what happened to the data, which is already published or stopped: a lake
that refuses the history record is logged as a warning, and the source's result stands.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.events import emit_source_outcome
from flows.results import SourceStatus
from flows.status import source_status
from flows.status_page import trend_markdown
from storage.errors import StorageError
from storage.expired import run_stamp
from storage.run_history import RunRecord, write_run
from storage.store import open_store

if TYPE_CHECKING:
    from prefect.futures import PrefectFuture

    from flows.results import SourceResult
    from sources.catalog import Source

OK = (SourceStatus.PUBLISHED, SourceStatus.UNCHANGED)


def _finished(chain: list[tuple[str, PrefectFuture[Any]]]) -> datetime:
    """When the source's last step reached its final state (now, when no step ran)."""
    if chain and chain[-1][1].state.timestamp is not None:  # a pendulum time: made a plain one
        return datetime.fromtimestamp(chain[-1][1].state.timestamp.timestamp(), UTC)
    return datetime.now(UTC)


def record_source_run(
    lake: str, source: Source, result: SourceResult, chain: list[tuple[str, PrefectFuture[Any]]]
) -> None:
    """Stamp the result with its times, write it to the run history, emit its event, chart its trend.

    Started is the run's start (its id's UTC stamp: the run starts every source's first step at once),
    finished the time its last step ended.
    """
    finished = _finished(chain)
    result.finished_at = finished
    result.started_at = min(run_stamp(result.run_id) or finished, finished)
    logger = get_run_logger()
    store = open_store(lake)
    passport = source.passport
    record = RunRecord(
        source=source.name,
        run_id=result.run_id,
        status=result.status.value,
        ok=result.status in OK,
        started_at=result.started_at,
        finished_at=finished,
        result=result.model_dump(mode="json"),
    )
    pii = any(prop.pii is not None for prop in source.contract.columns)
    try:
        write_run(store, record, sensitivity=passport.sensitivity.value, pii=pii)
    except StorageError as exc:
        logger.warning("%s: run history not written: %s", source.name, exc)
    emit_source_outcome(passport, result)
    try:
        row = source_status(store, source, now=finished)
    except StorageError as exc:
        logger.warning("%s: quality trend not charted: %s", source.name, exc)
        return
    create_markdown_artifact(
        key=f"lockgate-trend-{source.name.replace('_', '-')}",
        markdown=trend_markdown(row),
        description=f"Lockgate run {result.run_id}: {source.name}, quality and volume over recent runs",
    )
