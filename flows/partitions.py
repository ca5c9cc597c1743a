"""Partitions: a source delivered as several files (a glob, an S3 prefix) is worked on a part at a time.

Each landed file is verified and parsed in a task of its own, mapped over a task runner of the run's
choosing; on Dask, masking also runs over slices of the batch's rows. Everything that judges the table
as a whole sees every partition at once, in the flow's own step tasks: conform, the contract's rules
(row counts, uniqueness across files), quarantine, the PII gate, drift and publish. Masking works value
by value (a keyed HMAC, a partial, a redaction give a value the same output whatever rows surround it),
so the curated table does not depend on how the rows were split, nor on the runner. A source with one
file keeps the single-task path.

Runners: ``thread``, a thread pool in this process (the default), and ``dask`` (prefect-dask): the
scheduler ``LOCKGATE_DASK_ADDRESS`` names, or else a local cluster of this machine's cores, started for
the run with its workers' scratch space in the run's private working folder and ``PREFECT_API_URL`` set
to the API this process uses (the command's own temporary server included), so that their task runs land
in the same flow run. Task runs are named ``read[customers:part-0003]`` (read parts are the files in
order) and ``mask[customers:part-0002]`` (mask parts are contiguous slices of the validated rows, one per
file, at most one per worker thread).

What Dask workers get is personal data in clear: they read the raw files from the lake, and receive the
columns to mask with the masking keys. A cluster beyond this machine must use TLS (a ``tls://`` address
and distributed's ``security`` settings) or stay on a network only trusted hosts reach; its workers need
Lockgate installed, read access to the lake, and ``PREFECT_API_URL`` naming a Prefect server they reach.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import unmapped

from contracts.masking import MaskResult, mask
from flows.errors import DaskUnavailable
from flows.runs import quiet_expected_failures
from sources.connectors import combine_reads, read_file
from storage.raw import read_verified
from storage.store import open_store
from storage.workdir import scratch

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator
    from pathlib import Path

    from prefect import Task
    from prefect.task_runners import TaskRunner
    from prefect_dask.task_runners import DaskTaskRunner

    from contracts.model import Contract
    from sources.catalog import Source
    from sources.connectors import SourceFrame
    from sources.passport import Connector
    from storage.raw import RawFile

RunnerKind = Literal["thread", "dask"]
R = TypeVar("R")

quiet_expected_failures()  # in Dask workers too: a partition's expected failure is logged without traceback


def part_label(source: str, number: int) -> str:
    """``customers:part-0003``: the partition as task run names show it (``read[customers:part-0003]``)."""
    return f"{source}:part-{number:04d}"


def row_slices(frame: pl.DataFrame, parts: int) -> list[pl.DataFrame]:
    """`parts` contiguous slices of the frame in row order (fewer when it has fewer rows), sizes differing
    by one at most; slices share the frame's memory."""
    count = max(1, min(parts, frame.height))
    size, extra = divmod(frame.height, count)
    slices, offset = [], 0
    for index in range(count):
        length = size + (1 if index < extra else 0)
        slices.append(frame.slice(offset, length))
        offset += length
    return slices


@task(name="read", task_run_name="read[{part}]", cache_policy=NO_CACHE)
def read_part(
    part: str, raw: RawFile, connector: Connector, lake: str, work: Path | None, landed_now: bool
) -> SourceFrame:
    """Verify one landed file against its checksum and parse it, as the whole-source read does
    (`landed_now`: this run stored it a moment ago, so a local lake does not hash it again)."""
    return read_verified(
        open_store(lake),
        [raw],
        lambda paths: read_file(connector, paths[0], raw.name, workdir=work),
        work,
        landed_now=[raw.key] if landed_now else (),
    )


@task(name="mask", task_run_name="mask[{part}]", cache_policy=NO_CACHE)
def mask_part(part: str, frame: pl.DataFrame, contract: Contract, keys: dict[str, bytes]) -> MaskResult:
    """Apply the contract's masking rules to one slice of the validated rows."""
    return mask(frame, contract, keys)


class Partitions:
    """The task runner a run maps its partitions over, started for the run by `open_partitions`.

    `local`: its workers share this machine's files, so they may use the run's working folder.
    `mask_slots`: how many slices of rows it masks at once; 1 for threads of this process.
    """

    def __init__(self, runner: TaskRunner[Any], *, local: bool, mask_slots: int = 1) -> None:
        self.runner = runner
        self.local = local
        self.mask_slots = mask_slots

    def mask_parts(self, files: int) -> int:
        """How many slices a batch of `files` files is masked in: one per file, at most one per Dask
        worker thread; in this process, one.

        Each slice redoes the per-distinct-value work (HMAC of repeated ids, NER of repeated notes), so
        slices pay only where they run in parallel on other processes. Measured on the benchmark's 1M rows
        in 4 files (2 cores): mask 2.0-4.6 s as one task, 7.1-8.9 s as 4 slices on threads (NER holds
        the GIL).
        """
        return max(1, min(files, self.mask_slots))

    def read(
        self, source: Source, raw: list[RawFile], lake: str, work: Path | None, *, landed_now: Collection[str]
    ) -> SourceFrame:
        """Each landed file verified and parsed in its own task, then stacked in file order: what reading
        them all at once gives (errors name the raw objects; `landed_now` as for `read_verified`)."""
        connector = source.passport.connector
        parts = self._map(
            read_part,
            source,
            len(raw),
            raw=raw,
            connector=unmapped(connector),
            lake=unmapped(lake),
            work=unmapped(work if self.local else None),
            landed_now=[f.key in landed_now for f in raw],
        )
        store = open_store(lake)
        return combine_reads(connector, parts, [store.uri(f.key) for f in raw])

    def mask(self, source: Source, frame: pl.DataFrame, keys: dict[str, bytes], parts: int) -> MaskResult:
        """The contract's masking over `parts` slices of the rows, put back in row order: what `mask`
        gives for the whole frame.

        Only the columns the contract masks travel to the workers and back; the others stay here.
        Moving rows is the cost on Dask (measured here: ≈150 MB/s between local processes).
        """
        columns = [
            p.name for p in source.contract.columns if p.masking is not None and p.name in frame.columns
        ]
        if not columns:  # nothing to mask: nothing to send
            return mask(frame, source.contract, keys)
        slices = row_slices(frame.select(columns), parts)
        results = self._map(
            mask_part,
            source,
            len(slices),
            frame=slices,
            contract=unmapped(source.contract),
            keys=unmapped(keys),
        )
        masked = pl.concat([r.frame for r in results], how="vertical_relaxed")
        dropped = [c for c in columns if c not in masked.columns]  # the ``drop`` rule's columns
        out = frame.with_columns(masked.get_columns()).drop(dropped)
        return MaskResult(out, results[0].applied, results[0].key_ids)

    def _map(self, step: Task[..., R], source: Source, count: int, **parameters: Any) -> list[R]:
        """Run `step` once per partition (untagged, `flows.tags`); every result once all ended.

        A failed partition raises its own error (the first in order), after the others finished.
        """
        labels = [part_label(source.name, number) for number in range(1, count + 1)]
        with _without_step_inputs():
            futures = self.runner.map(cast("Task[..., Any]", step), {"part": labels, **parameters})
        futures.wait()
        return [cast("R", future.result()) for future in futures]


@contextlib.contextmanager
def _without_step_inputs() -> Iterator[None]:
    """Submit partitions from a step's task run without its inputs in the context they carry.

    A task run submitted to Dask carries the submitting task run's context, its parameters included:
    the step's whole batch and the run's context, which holds the runner itself and cannot be pickled.
    The partitions get a copy of the step's context without them (still their parent in the UI).
    """
    step = TaskRunContext.get()
    if step is None:
        yield
        return
    with step.model_copy(update={"parameters": {}}):
        yield


def available_cores() -> int:
    """The cores this process may run on (a container's or cgroup's share, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def open_partitions(
    kind: RunnerKind, *, address: str | None = None, workers: int | None = None, work: Path | None = None
) -> Iterator[Partitions]:
    """Start the runner a run maps its partitions over, and stop it when the block ends.

    ``thread``: a thread per core. ``dask``: the scheduler at `address`, or a local cluster of `workers`
    processes (default: one per core) whose scratch space is in `work`. The cluster
    is reached, or started, here, before any data moves: a scheduler that does not answer within Dask's
    connect timeout (``distributed.comm.timeouts.connect``, 30 s unless configured) raises
    `DaskUnavailable` naming its address.
    """
    if kind == "thread":
        threads: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=available_cores())
        with threads:
            yield Partitions(threads, local=True)
        return
    from prefect_dask.task_runners import DaskTaskRunner  # imports distributed: only when used

    with contextlib.ExitStack() as stack:
        stack.enter_context(_quiet_distributed())
        if address is not None:
            failure = f"cannot reach the Dask scheduler at {address} (LOCKGATE_DASK_ADDRESS)"
            remote = stack.enter_context(_started(DaskTaskRunner(address=address), failure))
            yield Partitions(remote, local=False, mask_slots=_worker_threads(remote))
            return
        folder = stack.enter_context(scratch(work, "dask-")) if work is not None else None
        cluster = _local_cluster(workers or available_cores(), folder)
        runner = DaskTaskRunner(cluster_kwargs=cluster)
        local = stack.enter_context(_started(runner, "could not start a local Dask cluster"))
        yield Partitions(local, local=True, mask_slots=_worker_threads(local))


def _worker_threads(runner: DaskTaskRunner) -> int:
    """The threads of the cluster's workers when the run starts (an adaptive cluster may grow later)."""
    workers = runner.client.scheduler_info()["workers"]
    return max(1, sum(int(worker["nthreads"]) for worker in workers.values()))


@contextlib.contextmanager
def _quiet_distributed() -> Iterator[None]:
    """Keep distributed's INFO records (workers coming and going, and connections it closes at shutdown,
    tracebacks included) out of the run's log while the runner lives; its warnings still show."""
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(max(logging.WARNING, logger.getEffectiveLevel()))
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def _started(runner: DaskTaskRunner, failure: str) -> Iterator[DaskTaskRunner]:
    """The runner, entered and connected: its client starts the cluster or reaches the scheduler now;
    if it cannot, `DaskUnavailable` says `failure` and why."""
    with runner:
        try:
            runner.client  # noqa: B018 - the property connects, or starts the local cluster
        except (OSError, ValueError) as exc:
            raise DaskUnavailable(f"{failure}: {exc}") from None
        yield runner


def _local_cluster(workers: int, folder: Path | None) -> dict[str, Any]:
    """`distributed.LocalCluster` arguments: worker processes on the loopback interface only, one thread
    each, scratch (spilled partitions) in the run's private folder, the Prefect API in their environment
    (where they cannot start a temporary API server of their own), and Ctrl-C left to the command
    (`flows.dask_worker`)."""
    kwargs: dict[str, Any] = {
        "n_workers": workers,
        "threads_per_worker": 1,
        "processes": True,
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
        "env": {"PREFECT_API_URL": _prefect_api_url(), "PREFECT_SERVER_EPHEMERAL_ENABLED": "false"},
        "preload": ["flows.dask_worker"],
    }
    if folder is not None:
        kwargs["local_directory"] = str(folder)
    return kwargs


def _prefect_api_url() -> str:
    """The Prefect API this process reports to: ``PREFECT_API_URL``, or the temporary server Prefect (or
    `flows.ephemeral`) started for it, whose address is known only here."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if url:
        return str(url)
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    if not server.running:
        raise DaskUnavailable(
            "Dask workers need a Prefect API to report to: set PREFECT_API_URL, or start the run with "
            "'lockgate run', which starts a temporary one"
        )
    return server.api_url
