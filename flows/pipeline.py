"""The ingest flow: land raw → read → validate → mask → PII gate → profile → publish per source, then
register.

Each step is one Prefect task so the UI shows where a source stopped; I/O steps retry with backoff. A
source of several files reads them (and, on Dask, masks its rows) in partitions (`flows.partitions`). A
source larger than a quarter of the memory limit is staged on disk and each step works on it a window
at a time (`Batch.staged`, `contracts.windows`); every other source travels as one frame.
Every step takes a source's `Batch` and the run's `RunContext` and returns the batch, so the flow
iterates `STEPS`: a new step is one task and one entry in that list.
The flow holds no business logic: it calls `sources`, `contracts` and `storage` and records what
happened. A blocking rule raises `StopLine` inside the validate task, so that source's later tasks
never start while the other sources go on. SIGINT and SIGTERM stop the run at the next step boundary
(`flows.interrupts`): nothing starts after the signal, and the warehouse is still brought in line.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from prefect import Task, flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner

from contracts.conform import SchemaIssue, conform
from contracts.data_docs import publish_validation, rebuild_index
from contracts.drift import DriftFinding, compare
from contracts.expectations import all_rules, check_contract
from contracts.keys import key_id, resolve_key
from contracts.masking import MaskResult, mask, required_keys
from contracts.pii.gate import pii_gate
from contracts.profile import profile_batch
from contracts.quarantine import split
from contracts.suppression import drop_suppressed
from contracts.validation import ValidationReport, validate
from contracts.windows import MaskedWindows, conform_windows, mask_windows, split_windows
from flows.access import note_catalog_changes, refresh_role_outputs
from flows.docs import docs_hint, docs_link
from flows.errors import DaskUnavailable, StopLine
from flows.history import record_source_run
from flows.interrupts import run_in_steps, stop_on_signals, stop_signal
from flows.lineage import start_lineage
from flows.outcome import final_state, run_summary
from flows.partitions import open_partitions
from flows.release import release_parts
from flows.reports import run_table, source_markdown
from flows.results import DriftLine, ExpectationLine, RunResult, SourceResult, SourceStatus
from flows.runs import IO_RETRIES, IO_RETRY_DELAYS, current_run_id, new_run_id, run_wide_task
from flows.settings import DEFAULT_MEMORY_LIMIT, Settings, current_settings, parse_memory
from flows.tags import tag_flow_run
from sources.catalog import Catalog, Source, load_catalog
from sources.connectors import MalformedRecord, read_source
from sources.extract import extract
from sources.staged_read import StagedRead, can_stage, stage_source, window_rows
from storage.curated import CuratedVersion, list_versions, publish, rolled_back_releases, table_key
from storage.layout import work_root
from storage.profiles import load_profiles, published_runs, write_profile
from storage.quarantine import write_quarantine
from storage.raw import RawManifest, land_raw, read_verified, write_manifest
from storage.staging import Staged
from storage.state import read_state, write_state
from storage.store import open_store
from storage.warehouse import register_current
from storage.workdir import clean_leftovers, open_workdir, reporting_disk_full, step_folder

if TYPE_CHECKING:
    from collections.abc import Mapping

    import polars as pl
    from prefect.client.schemas.objects import State
    from prefect.futures import PrefectFuture
    from pydantic import SecretStr

    from flows.partitions import Partitions
    from storage.base import ObjectStore
    from storage.curated import Mode
    from storage.raw import RawFile


@dataclass
class Batch:
    """A source's data as it moves through the steps, with what each step learned about it."""

    source: Source
    run_id: str
    raw: list[RawFile]
    note: str = ""
    empty: bool = False  # an incremental source with nothing new since its last run
    new_state: dict[str, Any] | None = None  # connector state to commit once the data is published
    frame: pl.DataFrame | None = None
    staged: Staged | None = None  # the rows on disk instead of `frame`: a source larger than memory
    report: ValidationReport | None = None
    masked_columns: dict[str, str] = field(default_factory=dict)
    rows_in: int | None = None
    rows_quarantined: int = 0
    rows_suppressed: int = 0  # rows of erased subjects left out (the source's suppression list)
    quarantine_key: str | None = None
    schema_notes: list[str] = field(default_factory=list)  # drift the contract allows
    malformed: list[MalformedRecord] = field(default_factory=list)  # CSV records left out, to quarantine
    read_notes: list[str] = field(default_factory=list)  # what reading found: files without data rows
    docs_uri: str | None = None  # the run's page in the lake's Data Docs site (`lockgate docs serve`)
    pii_coverage: str | None = None  # what the PII gate read before letting the batch through
    drift: list[DriftFinding] = field(default_factory=list)  # how its profile drifts from earlier runs'
    erasures: list[str] = field(default_factory=list)  # erased subjects' keyed hashes applied to the batch
    published: CuratedVersion | None = None  # the current curated version after publish
    moved: bool = False  # publish committed a new version


@dataclass(frozen=True)
class RunContext:
    """What every step of one run shares: where the lake is, the run's id, the masking keys and the
    configured PostgreSQL connections (both kept out of the repr)."""

    lake: str
    run_id: str
    keys: dict[str, bytes] = field(default_factory=dict, repr=False)
    postgres: Mapping[str, SecretStr] = field(default_factory=dict, repr=False)
    work: Path | None = None  # the run's private working folder in the lake (see storage.workdir)
    # The runner a source of several files maps its per-file work over (`flows.partitions`); None: every
    # source is read and masked in one task.
    partitions: Partitions | None = field(default=None, repr=False, compare=False)
    memory_limit: int = DEFAULT_MEMORY_LIMIT  # bytes a source's rows may take (`Settings.memory_limit`)

    @property
    def stage_above(self) -> int:
        """A source whose files hold more bytes is staged on disk (its rows take several times that in
        memory: text, typed and masked columns side by side)."""
        return self.memory_limit // 4

    @property
    def window_bytes(self) -> int:
        """Bytes of a staged source's files that one window of rows holds: a window's text, typed and
        masked columns, Arrow and Parquet buffers and polars' allocator's slack take about twenty times
        that at a step's peak (measured on the benchmark's rows)."""
        return self.memory_limit // 64

    @property
    def duckdb_memory(self) -> int:
        """What DuckDB may take while it validates a staged batch (no window is held then)."""
        return self.memory_limit // 2

    def stage(self, source: str, step: str) -> Staged:
        """A new stage for `source`'s rows after `step`, in the run's working folder."""
        assert self.work is not None, "staged batches live in the run's working folder"
        return Staged.create(self.work, f"{source}-{step}")


def _has_pii(source: Source) -> bool:
    return any(prop.pii is not None for prop in source.contract.columns)


@task(name="land-raw", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAYS, cache_policy=NO_CACHE)
def land_raw_task(batch: Batch, run: RunContext) -> Batch:
    """Extract what is new at the source and copy it into the raw layer as received, before any parsing.

    Files already in the raw layer (same SHA-256) are not stored twice: the run refers to the earlier copy.
    """
    source, store = batch.source, open_store(run.lake)
    logger = get_run_logger()
    with step_folder(store, run.work, f"extract-{source.name}-") as workdir:
        with reporting_disk_full(f"extracting {source.name}"):
            extraction = extract(
                source.passport.connector,
                source.catalog_root,
                read_state(store, source.name),
                workdir,
                postgres=run.postgres,
            )
        if extraction.empty:
            logger.info("%s: %s", source.name, extraction.description)
            batch.note, batch.empty = extraction.description, True
            return batch
        raw = land_raw(
            store,
            source.name,
            run.run_id,
            datetime.now(UTC).date(),
            extraction.files,
            sensitivity=source.passport.sensitivity.value,
            pii=_has_pii(source),
            workdir=run.work,
        )
    reused = [f for f in raw if f.reused_from]
    note = extraction.description
    if reused:
        note += f"; {len(reused)} of {len(raw)} file(s) already in the raw layer, not stored again"
    logger.info("%s: %s", source.name, note)
    batch.raw, batch.note, batch.new_state = raw, note, extraction.state
    return batch


# Reading and validating are not retried: a malformed file or a failed rule fails the same way every time,
# and a stop-line must not wait through backoff delays.
@task(name="read", cache_policy=NO_CACHE)
def read_task(batch: Batch, run: RunContext) -> Batch:
    """Parse the landed raw copies (not the originals) after checking their checksums, and record the row
    count in the manifest."""
    if batch.empty:
        return batch
    store = open_store(run.lake)
    error: str | None = None
    try:
        connector, names = batch.source.passport.connector, [f.name for f in batch.raw]
        # Files this run landed were hashed as they were copied in; content reused from earlier runs is
        # verified again as it is read.
        landed_now = {f.key for f in batch.raw if f.reused_from is None}
        staged = _read_staged(batch, run, landed_now)
        if staged is not None:  # larger than memory: on disk, a window at a time
            batch.staged, batch.rows_in = staged[0], staged[0].rows
            batch.read_notes = _read_notes(batch.source, staged[1].files_without_rows, [])
            get_run_logger().info(
                "%s: %d rows staged on disk in %d window(s) (files larger than a quarter of the memory "
                "limit, %d MiB)",
                batch.source.name,
                staged[0].rows,
                staged[0].windows,
                run.memory_limit // 2**20,
            )
            return batch
        if run.partitions is not None and len(batch.raw) > 1:  # a file per task, stacked in file order
            read = run.partitions.read(batch.source, batch.raw, run.lake, run.work, landed_now=landed_now)
        else:
            read = read_verified(
                store,
                batch.raw,
                lambda paths: read_source(connector, paths, names, workdir=run.work),
                run.work,
                landed_now=landed_now,
            )
        batch.frame, batch.malformed = read.frame, read.malformed
        batch.rows_in = read.frame.height + len(read.malformed)
        batch.read_notes = _read_notes(batch.source, read.files_without_rows, read.malformed)
        for note in batch.read_notes:
            get_run_logger().warning("%s: %s", batch.source.name, note)
        if read.malformed and batch.source.contract.table.malformed_rows == "block":
            raise StopLine(batch.source.name, _malformed_issues(read.malformed), None)
    except Exception as exc:
        error = str(exc)
        raise
    finally:
        write_manifest(
            store,
            RawManifest(
                source=batch.source.name,
                run_id=batch.run_id,
                landed_at=datetime.now(UTC),
                files=batch.raw,
                rows=batch.rows_in,
                read_error=error,
                passport=batch.source.passport.model_dump(mode="json", by_alias=True, exclude_none=True),
            ),
            sensitivity=batch.source.passport.sensitivity.value,
            pii=_has_pii(batch.source),
        )
    return batch


def _read_staged(batch: Batch, run: RunContext, landed_now: set[str]) -> tuple[Staged, StagedRead] | None:
    """The source's rows staged on disk when its files are too large to hold (`RunContext.stage_above`);
    None when they are read whole: small files, NDJSON, a CSV whose records are not all whole (the
    whole read finds those), or no rows at all."""
    connector = batch.source.passport.connector
    if run.work is None or not can_stage(connector) or sum(f.bytes for f in batch.raw) <= run.stage_above:
        return None
    names = [f.name for f in batch.raw]

    def stage(paths: list[Path]) -> tuple[Staged, StagedRead] | None:
        staged = run.stage(batch.source.name, "read")
        rows = window_rows(connector, paths[0], run.window_bytes)
        read = stage_source(connector, paths, names, staged, window_rows=rows, workdir=run.work)
        if read is None or staged.rows == 0:
            staged.remove()
            return None
        return staged, read

    return read_verified(open_store(run.lake), batch.raw, stage, run.work, landed_now=landed_now)


MAX_MALFORMED_LISTED = 20


def _malformed_issues(malformed: list[MalformedRecord]) -> list[str]:
    """One issue per malformed record (file, line, field counts), the first twenty and a count of the rest."""
    issues = [str(record) for record in malformed[:MAX_MALFORMED_LISTED]]
    if len(malformed) > MAX_MALFORMED_LISTED:
        issues.append(f"and {len(malformed) - MAX_MALFORMED_LISTED} more malformed record(s)")
    return issues


def _read_notes(source: Source, files_without_rows: list[str], malformed: list[MalformedRecord]) -> list[str]:
    notes = [f"{name} has no data rows" for name in files_without_rows]
    if malformed and source.contract.table.malformed_rows == "quarantine":
        listed = [f"{m.file}:{m.line}" for m in malformed[:MAX_MALFORMED_LISTED]]
        if len(malformed) > MAX_MALFORMED_LISTED:
            listed.append(f"{len(malformed) - MAX_MALFORMED_LISTED} more")
        notes.append(f"{len(malformed)} malformed record(s) quarantined ({', '.join(listed)})")
    return notes


@task(name="validate", cache_policy=NO_CACHE)
def validate_task(batch: Batch, run: RunContext) -> Batch:
    """Conform to the contract's schema, then run its expectations; blocking failures stop the line,
    and rows that broke quarantine rules are set aside in the lake while the rest go on."""
    if batch.empty:
        return batch
    contract = batch.source.contract
    store = open_store(run.lake)
    data = (
        _conform_staged(batch, run, store) if batch.staged is not None else _conform_frame(batch, run, store)
    )
    with (
        step_folder(store, run.work, f"docs-{batch.source.name}-") as docs,
        reporting_disk_full(f"writing the Data Docs of {batch.source.name}"),
    ):
        report = validate(data, contract, run_id=batch.run_id, memory_limit=run.duckdb_memory)
        if report.docs is not None:  # a contract without rules renders no report
            page = publish_validation(
                store,
                batch.source.name,
                batch.run_id,
                report.docs,
                sensitivity=batch.source.passport.sensitivity.value,
                work=docs,
                index=False,  # one index for the whole run, after every source's page (`docs_index_task`)
            )
            batch.docs_uri = docs_link(page)
    if batch.docs_uri:
        create_link_artifact(
            key=f"lockgate-docs-{batch.source.name.replace('_', '-')}",
            link=batch.docs_uri,
            link_text=f"Data Docs: {batch.source.name}",
            description=f"Great Expectations Data Docs for run {batch.run_id} ({docs_hint(run.lake)})",
        )
    batch.report = report
    for outcome in report.warnings:
        get_run_logger().warning("%s: rule %s failed (warn)", batch.source.name, outcome.rule_id)
    if not report.passed:
        raise StopLine(batch.source.name, [], report)
    if isinstance(data, Staged):
        kept = run.stage(batch.source.name, "kept")
        windows = split_windows(
            data, all_rules(contract), report.unexpected_counts, kept, memory_limit=run.duckdb_memory
        )
        data.remove()
        batch.staged, quarantined, counts = kept, windows.quarantined, windows.counts
    else:
        held = split(data, all_rules(contract), report.unexpected_counts, batch.malformed)
        batch.frame, quarantined, counts = held.kept, held.quarantined, held.counts
    if quarantined.height:
        batch.quarantine_key = write_quarantine(
            store,
            batch.source.name,
            batch.run_id,
            quarantined,
            sensitivity=batch.source.passport.sensitivity.value,
            pii=_has_pii(batch.source),
        )
        batch.rows_quarantined = quarantined.height
        get_run_logger().warning(
            "%s: %d row(s) quarantined (%s)",
            batch.source.name,
            quarantined.height,
            ", ".join(f"{rule}: {count}" for rule, count in counts.items()),
        )
    return batch


def _conform_frame(batch: Batch, run: RunContext, store: ObjectStore) -> pl.DataFrame:
    """The batch's frame conformed to the contract, without the rows of erased subjects."""
    assert batch.frame is not None
    conformed = conform(batch.frame, batch.source.contract)
    batch.frame = None  # the text as read: typed columns replace it, and it must not outlive conform
    _schema_issues(batch, conformed.issues)
    # Subjects erased from this source stay out of everything after this point (rules, quarantine, curated),
    # whatever the source delivers again.
    kept = drop_suppressed(
        conformed.frame, batch.source.name, store=store, keys=run.keys, configured=current_settings().keys
    )
    batch.rows_suppressed, batch.erasures = kept.dropped, kept.digests
    _note_suppressed(batch)
    batch.frame = kept.frame
    return kept.frame


def _conform_staged(batch: Batch, run: RunContext, store: ObjectStore) -> Staged:
    """`_conform_frame` of a staged batch, a window at a time, into a new stage."""
    assert batch.staged is not None
    configured = current_settings().keys

    def keep(frame: pl.DataFrame) -> tuple[pl.DataFrame, int, list[str]]:
        kept = drop_suppressed(frame, batch.source.name, store=store, keys=run.keys, configured=configured)
        return kept.frame, kept.dropped, kept.digests

    conformed = run.stage(batch.source.name, "conformed")
    result = conform_windows(batch.staged, batch.source.contract, conformed, keep)
    batch.staged.remove()
    batch.staged = conformed
    _schema_issues(batch, result.issues)
    batch.rows_suppressed, batch.erasures = result.dropped, result.digests
    _note_suppressed(batch)
    return conformed


def _schema_issues(batch: Batch, issues: list[SchemaIssue]) -> None:
    """Keep the drift the contract allows as notes; stop the line on any that blocks."""
    blocking = [str(issue) for issue in issues if issue.blocking]
    batch.schema_notes = [str(issue) for issue in issues if not issue.blocking]
    for note in batch.schema_notes:
        get_run_logger().warning("%s: %s", batch.source.name, note)
    if blocking:
        raise StopLine(batch.source.name, blocking, None)


def _note_suppressed(batch: Batch) -> None:
    if batch.rows_suppressed:
        get_run_logger().warning(
            "%s: %d row(s) of erased subjects left out", batch.source.name, batch.rows_suppressed
        )


@task(name="mask", cache_policy=NO_CACHE)
def mask_task(batch: Batch, run: RunContext) -> Batch:
    """Apply the contract's masking rules; only masked data goes further.

    Keyed rules are recorded with the key's id (``hash:3fa1…``), so the curated version says which key
    made its pseudonyms, and rotating a key publishes a new version even from the same raw input.
    """
    if batch.empty:
        return batch
    result: MaskResult | MaskedWindows
    if batch.staged is not None:  # a window at a time, into a new stage
        masked = run.stage(batch.source.name, "masked")
        result = mask_windows(batch.staged, batch.source.contract, run.keys, masked)
        batch.staged.remove()
        batch.staged = masked
    else:
        assert batch.frame is not None
        parts = run.partitions.mask_parts(len(batch.raw)) if run.partitions is not None else 1
        if run.partitions is not None and parts > 1:  # slices of the rows, masked on Dask workers
            result = run.partitions.mask(batch.source, batch.frame, run.keys, parts)
        else:
            result = mask(batch.frame, batch.source.contract, run.keys)
        batch.frame = result.frame
    batch.masked_columns = {
        column: f"{rule}:{result.key_ids[column]}" if column in result.key_ids else rule
        for column, rule in result.applied.items()
    }
    return batch


@task(name="pii-gate", cache_policy=NO_CACHE)
def pii_gate_task(batch: Batch, run: RunContext) -> Batch:
    """Scan what is about to be published: personal data in clear anywhere in it stops the line.

    This catches both PII in columns the contract does not declare and PII that survived masking
    (a ``partial`` that keeps too much, a free-text redaction that missed a span).
    """
    if batch.empty:
        return batch
    data = batch.staged if batch.staged is not None else batch.frame
    assert data is not None
    verdict = pii_gate(data, batch.source.contract)
    if verdict.findings:
        raise StopLine(batch.source.name, [], batch.report, verdict.findings)
    batch.pii_coverage = verdict.coverage
    return batch


# Not retried, as validate: a blocking drift fails the same way every time.
@task(name="profile", cache_policy=NO_CACHE)
def profile_task(batch: Batch, run: RunContext) -> Batch:
    """Profile the batch about to be published, compare it with the last published runs' profiles, and let
    the contract decide whether each drift warns or stops the line.

    Every profiled batch's profile is stored, a stopped one's too (it shows what that batch looked like);
    only profiles of runs whose batch became a curated version count as history (`published_runs`), so
    a blocked, failed or rolled-back batch never becomes the baseline.
    """
    if batch.empty:
        return batch
    data = batch.staged.lazy() if batch.staged is not None else batch.frame
    assert data is not None
    source, store = batch.source, open_store(run.lake)
    policy = source.contract.table.drift
    profile = profile_batch(
        data, source.contract, source=source.name, run_id=batch.run_id, masked=batch.masked_columns
    )
    runs = published_runs(list_versions(store, source.name))
    batch.drift = compare(profile, load_profiles(store, source.name, limit=policy.history, runs=runs), policy)
    write_profile(store, profile, sensitivity=source.passport.sensitivity.value)
    for finding in batch.drift:
        get_run_logger().warning("%s: drift %s", source.name, finding)
    if any(finding.blocking for finding in batch.drift):
        raise StopLine(source.name, [], batch.report, drift_findings=batch.drift)
    return batch


@task(name="publish", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAYS, cache_policy=NO_CACHE)
def publish_task(batch: Batch, run: RunContext) -> Batch:
    """Commit the batch to the source's curated Delta table, then commit the connector's state.

    A full load replaces the table's rows; an incremental one appends, or merges on the contract's
    primary key when it has one. The commit is atomic (readers see the old version or the new one), and
    only then does an incremental source's watermark advance: a crash before the state leaves the
    watermark behind, so the next run extracts the same rows again and publish recognises their
    release (or their raw checksums, for an increment) instead of adding them twice.
    """
    store = open_store(run.lake)
    source, contract = batch.source, batch.source.contract
    versions = list_versions(store, source.name)
    current = versions[-1] if versions else None
    if batch.empty:
        batch.published = current
        return batch
    data = batch.staged if batch.staged is not None else batch.frame
    assert data is not None
    incremental = getattr(source.passport.connector, "incremental", None) is not None
    keys = [c.name for c in contract.columns if c.primary_key]
    mode: Mode = ("merge" if keys else "append") if incremental else "overwrite"
    inputs = [f.sha256 for f in batch.raw]
    if mode != "overwrite" and current is not None and current.release is not None:
        if set(inputs) <= set(current.release.inputs):  # an increment this table already holds
            batch.published = current
            return batch
        inputs = [*current.release.inputs, *inputs]
    parts = release_parts(
        contract,
        inputs,
        batch.masked_columns,
        erasures=batch.erasures,
        config={"mode": mode, "merge_keys": keys if mode == "merge" else []},
    )
    if parts.release_id in rolled_back_releases(versions):
        # An operator rolled this very release away; delivering it again must not undo their decision.
        batch.note = f"{batch.note}; release {parts.release_id} was rolled back, not published again".lstrip(
            "; "
        )
        get_run_logger().warning(
            "%s: release %s was rolled back; not published again", source.name, parts.release_id
        )
        batch.published = current
        return batch
    result = publish(
        store,
        source.name,
        data,
        release=parts,
        run_id=batch.run_id,
        masked_columns=batch.masked_columns,
        mode=mode,
        merge_keys=keys,
        sensitivity=source.passport.sensitivity.value,
        pii=_has_pii(source),
    )
    if batch.new_state is not None:
        write_state(
            store, source.name, batch.new_state, run_id=batch.run_id, curated_version=result.version.version
        )
    batch.published, batch.moved = result.version, result.changed
    if batch.staged is not None:  # in the Delta table now; a failed publish keeps it for the retry
        batch.staged.remove()
    return batch


@run_wide_task("register")
def register_task(lake: str, source_names: list[str], warehouse_file: str | None = None) -> str:
    """Point one DuckDB view per dataset at its current curated version, verified first (`warehouse_file`:
    the ``LOCKGATE_WAREHOUSE`` setting, for an S3 lake)."""
    with reporting_disk_full("registering the warehouse views"):
        return register_current(lake, source_names, warehouse=warehouse_file)


@run_wide_task("docs-index")
def docs_index_task(lake: str, work: Path | None = None) -> int:
    """Rebuild the Data Docs site's index once, listing every page this run's sources added."""
    store = open_store(lake)
    with (
        step_folder(store, work, "docs-index-") as folder,
        reporting_disk_full("rebuilding the Data Docs index"),
    ):
        return rebuild_index(store, work=folder)


def _rebuild_docs_index(lake: str, work: Path | None) -> None:
    """The run's pages are in the site already: an index that fails to rebuild is logged and left as it
    was (the next run or `lockgate retention apply` rebuilds it), and never fails the run."""
    state = docs_index_task(lake, work, return_state=True)
    if state.is_failed():
        error = state.result(raise_on_failure=False)
        get_run_logger().warning("Data Docs index not rebuilt: %s", error)


def _expectation_lines(report: ValidationReport | None) -> list[ExpectationLine]:
    if report is None:
        return []
    return [
        ExpectationLine(
            rule_id=o.rule_id,
            expectation=o.expectation,
            column=o.column,
            severity=str(o.severity),
            action=str(o.action),
            blocking=o.blocking,
            success=o.success,
            unexpected_count=o.unexpected_count,
            element_count=o.element_count,
            # A table-level rule (row count, column set) counts no rows: say what it saw instead.
            note=o.exception
            or (f"the data has {report.row_count} row(s)" if o.unexpected_count is None else None),
        )
        for o in report.outcomes
    ]


def _drift_lines(findings: list[DriftFinding]) -> list[DriftLine]:
    return [DriftLine(kind=f.kind, column=f.column, detail=f.detail, action=f.action) for f in findings]


# The ingest steps, in order, each started per source once its previous step completed; a source whose
# step failed (a stop-line or an error) goes no further, and after SIGINT or SIGTERM no step starts.
STEPS: tuple[tuple[str, Task[..., Batch]], ...] = (
    ("land", land_raw_task),
    ("read", read_task),
    ("validate", validate_task),
    ("mask", mask_task),
    ("pii-gate", pii_gate_task),
    ("profile", profile_task),
    ("publish", publish_task),
)


def _source_result(
    source: Source, run_id: str, futures: list[tuple[str, PrefectFuture[Batch]]]
) -> SourceResult:
    """Fold the states of one source's task runs, step by step, into its result."""
    result = SourceResult(source=source.name, status=SourceStatus.FAILED, run_id=run_id)
    for step, future in futures:
        state = future.state
        if state.is_completed():
            batch = future.result()
            result.raw_keys = [f.key for f in batch.raw]
            result.raw_reused = sum(1 for f in batch.raw if f.reused_from)
            result.note = batch.note or None
            result.rows_in = batch.rows_in
            result.rows_quarantined, result.quarantine_key = batch.rows_quarantined, batch.quarantine_key
            result.rows_suppressed = batch.rows_suppressed
            result.schema_notes = list(batch.schema_notes)
            result.read_notes = list(batch.read_notes)
            result.docs_uri = batch.docs_uri
            result.pii_coverage = batch.pii_coverage
            result.expectations = _expectation_lines(batch.report)
            result.masked_columns = dict(batch.masked_columns)
            result.drift = _drift_lines(batch.drift)
            if step == STEPS[-1][0]:
                result.status = SourceStatus.UNCHANGED
                if batch.published is not None:
                    result.curated_version = batch.published.version
                    result.curated_key = table_key(source.name)
                    result.release_id = batch.published.release_id
                    if batch.moved:
                        result.status, result.rows_out = SourceStatus.PUBLISHED, batch.published.rows
            continue
        if state.is_failed():
            error = state.result(raise_on_failure=False)
            if isinstance(error, StopLine):
                result.status = SourceStatus.STOPPED
                result.schema_issues = error.schema_issues
                result.pii_findings = error.pii_findings
                result.drift = _drift_lines(error.drift_findings)
                result.expectations = _expectation_lines(error.report)
                result.error = str(error)
            else:
                result.error = f"{step}: {error}"
        break
    else:
        if len(futures) < len(STEPS):  # every step so far completed: a stop request ended the source here
            result.status = SourceStatus.INTERRUPTED
            result.error = f"interrupted before {STEPS[len(futures)][0]}"
    return result


# Prefect's annotations reject its own ThreadPoolTaskRunner here (PrefectHQ/prefect#16938, open).
@flow(
    name="lockgate-ingest",
    flow_run_name=new_run_id,  # the run id: the Prefect UI and the lake name a run alike
    task_runner=ThreadPoolTaskRunner(max_workers=4),  # type: ignore[arg-type]
)
def ingest(
    catalog: str,
    lake: str = "lake",
    sources: list[str] | None = None,
    task_runner: Literal["thread", "dask"] = "thread",
    dask_workers: int | None = None,
    memory_limit: str | None = None,
) -> RunResult:
    """Ingest a catalog's sources (all, or the named ones) into the lake and refresh the warehouse.

    Parameters are plain strings so the same flow runs from the CLI, a schedule or a deployment;
    keys, connection strings and the warehouse file come from the settings in force (`use_settings`,
    else the environment), never from parameters, which Prefect stores. Masking keys are resolved
    before any data moves: a missing key fails the run up front instead of leaving half the sources
    published. `task_runner` runs the per-file work of sources with several files on threads or on Dask
    workers (`flows.partitions`; the scheduler is the ``LOCKGATE_DASK_ADDRESS`` setting, else a local
    cluster of `dask_workers` processes); a Dask cluster that cannot be reached fails the run up front too.
    `memory_limit` (``2GiB``) overrides the ``LOCKGATE_MEMORY_LIMIT`` setting for this run.
    """
    settings = current_settings()
    if memory_limit is not None:
        settings = settings.model_copy(update={"memory_limit": parse_memory(memory_limit)})
    loaded = load_catalog(Path(catalog), check=check_contract)
    selected = loaded.select(sources or [])
    note_catalog_changes(loaded, lake, settings.user)  # `catalog.changed` audit entries (`flows.access`)
    tag_flow_run(selected)  # the passports' tags on this run, for the UI's filters (`flows.tags`)
    # Runs start by removing what crashed runs left, then keep their own files in a locked folder.
    leftovers = clean_leftovers(lake)
    if leftovers.found:
        get_run_logger().info(
            "removed what earlier crashed runs left: %d working folder(s), %d temporary file(s), %d bytes",
            len(leftovers.folders),
            len(leftovers.temp_files),
            leftovers.bytes,
        )
    with open_workdir(work_root(lake), "run") as work, contextlib.ExitStack() as stack:
        try:
            partitions = stack.enter_context(
                open_partitions(
                    task_runner, address=settings.dask_address, workers=dask_workers, work=work.path
                )
            )
        except DaskUnavailable as exc:  # a state, not a raise: the message is the whole story, no traceback
            return cast("RunResult", Failed(message=str(exc), data=exc))
        # A state (`flows.outcome`): Prefect ends the run in it and gives callers its data or its error.
        state = _ingest_sources(loaded, selected, lake, settings, work.path, partitions)
    return cast("RunResult", state)


def _ingest_sources(
    catalog: Catalog,
    sources: list[Source],
    lake: str,
    settings: Settings,
    work: Path | None = None,
    partitions: Partitions | None = None,
) -> State[RunResult]:
    run_id = current_run_id()
    needed = sorted(set().union(*(required_keys(s.contract) for s in sources)))
    keys = {name: resolve_key(name, settings.keys) for name in needed}
    get_run_logger().info(
        "run %s: %d source(s) into %s; masking keys %s",
        run_id,
        len(sources),
        lake,
        ", ".join(f"{name}={key_id(key)}" for name, key in keys.items()) or "none",
    )
    context = RunContext(
        lake=lake,
        run_id=run_id,
        keys=keys,
        postgres=settings.postgres,
        work=work,
        partitions=partitions,
        memory_limit=int(settings.memory_limit),
    )
    batches = [Batch(source=source, run_id=run_id, raw=[]) for source in sources]
    with stop_on_signals():  # over Prefect's SIGTERM bridge, which would crash the run mid-step
        lineage = start_lineage(settings, lake, run_id, sources)  # OpenLineage START per source
        chains = run_in_steps(
            STEPS,
            batches,
            lambda batch: batch.source.name,  # task runs are untagged (`flows.tags`); their names say whose
            run=context,
        )

        results = []
        for source, chain in zip(sources, chains, strict=True):
            result = _source_result(source, run_id, chain)
            record_source_run(lake, source, result, chain)  # run history, Prefect event, trend artifact
            create_markdown_artifact(
                key=f"lockgate-{source.name.replace('_', '-')}",
                markdown=source_markdown(result),
                description=f"Lockgate run {run_id}: {source.name}",
            )
            lineage.finish(source, result)  # OpenLineage COMPLETE or FAIL
            results.append(result)

        # Also after a stop: a publish that was running when the signal came is current in the lake.
        if any(step == "validate" for chain in chains for step, _ in chain):  # pages of stopped sources too
            _rebuild_docs_index(lake, work)
        warehouse = register_task(lake, [s.name for s in catalog.sources], settings.warehouse)
        refresh_role_outputs(catalog, lake, settings.warehouse)  # each role's own copy (`flows.access`)
        signum = stop_signal()
    run = RunResult(run_id=run_id, lake=lake, warehouse=warehouse, sources=results)
    create_table_artifact(
        key="lockgate-run",
        table=run_table(run),
        description=f"Lockgate run {run_id}: {run_summary(run)}",
    )
    return final_state(run, signum)
