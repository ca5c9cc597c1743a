"""OpenLineage run events for each source of an ingest run: START when its steps begin, then COMPLETE
(published or unchanged) or FAIL (stopped, failed or interrupted).

Each source is one OpenLineage job, ``<namespace>/ingest.<source>``, whose run id is a UUIDv7 derived
from Lockgate's run id and the job (stable: a re-sent event names the same run). The whole ingest run is
the parent (job ``ingest``), and Lockgate's own run id travels as the run tag ``lockgate.run_id``.
Inputs are the raw objects the source read; outputs are its curated Delta table (schema, version and
column lineage, masked columns marked ``MASKED``) and, when rows were set aside, its quarantine object.
The run's expectation results are a ``dataQualityAssertions`` facet on the inputs: the rules ran on
the data read from them, and the spec (facet 1-1-0) makes that facet an input facet.

Events carry names, types, counts and ids only, never data values. Emitting is best-effort: lineage
that cannot be built or delivered is a warning naming the cause, never a failed run.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from openlineage.client import OpenLineageClient
from openlineage.client.constants import __version__ as OPENLINEAGE_VERSION  # noqa: N812
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    data_quality_assertions_dataset,
    dataset_version_dataset,
    documentation_dataset,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
    processing_engine_run,
    schema_dataset,
    tags_run,
)
from openlineage.client.naming.dataset import S3, LocalFileSystem
from openlineage.client.uuid import generate_static_uuid
from prefect import get_run_logger
from prefect.exceptions import MissingContextError

from contracts.expectations import all_rules
from flows.lineage_transport import LakeConfig, LakeTransport, http_transport
from flows.release import code_version
from flows.results import SourceResult, SourceStatus
from storage import layout
from storage.curated import delta_table
from storage.store import open_store
from storage.tags import access_tags

if TYPE_CHECKING:
    from openlineage.client.facet_v2 import DatasetFacet, InputDatasetFacet, JobFacet, RunFacet
    from openlineage.client.naming.dataset import DatasetNaming
    from openlineage.client.transport.transport import Transport

    from flows.results import ExpectationLine
    from flows.settings import Settings
    from sources.catalog import Source
    from storage.base import ObjectStore

PARENT_JOB = "ingest"
INTEGRATION = "LOCKGATE"
RUN_ID_TAG = "lockgate.run_id"
_RUN_STAMP = "%Y%m%dT%H%M%SZ"


def producer() -> str:
    """The URI OpenLineage wants naming the code that made an event: Lockgate and its version."""
    return f"urn:lockgate:{code_version()}"


def job_name(source: str) -> str:
    return f"{PARENT_JOB}.{source}"


def run_uuid(run_id: str, job: str) -> str:
    """The OpenLineage run id of `job` in Lockgate run `run_id`: a UUIDv7 (as the spec recommends) at the
    run's start time, its random bits a hash of both, so every event of that run names the same UUID."""
    data = f"{run_id}/{job}".encode()
    try:
        instant = datetime.strptime(run_id[:16], _RUN_STAMP).replace(tzinfo=UTC)
    except ValueError:  # not a run id Lockgate made: still stable, without the time order
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:lockgate:run:{data.decode()}"))
    return str(generate_static_uuid(instant, data))


def run_day(run_id: str) -> datetime:
    """When the run started, from its id (today for an id of another shape)."""
    try:
        return datetime.strptime(run_id[:16], _RUN_STAMP).replace(tzinfo=UTC)
    except ValueError:
        return datetime.now(UTC)


def dataset_naming(store: ObjectStore, key: str) -> DatasetNaming:
    """OpenLineage's name of a lake object: ``s3://<bucket>`` + object key, or ``file`` + absolute path."""
    uri = store.uri(key)
    if uri.startswith("s3://"):
        bucket, _, object_key = uri.removeprefix("s3://").partition("/")
        return S3(bucket_name=bucket, object_key=object_key)
    return LocalFileSystem(path=Path(uri).absolute().as_posix())


@dataclass(frozen=True)
class LineageRun:
    """What every event of one ingest run shares: its id, the job namespace and the lake that names
    the datasets."""

    run_id: str
    namespace: str
    store: ObjectStore

    def job(self, source: Source) -> Job:
        facet = job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration=INTEGRATION, jobType="JOB", producer=producer()
        )
        facets: dict[str, JobFacet] = {"jobType": facet}
        return Job(namespace=self.namespace, name=job_name(source.name), facets=facets)

    def run(self, source: Source, extra: dict[str, RunFacet] | None = None) -> Run:
        parent_id = run_uuid(self.run_id, PARENT_JOB)
        facets: dict[str, RunFacet] = {
            "parent": parent_run.ParentRunFacet(
                run=parent_run.Run(runId=parent_id),
                job=parent_run.Job(namespace=self.namespace, name=PARENT_JOB),
                root=parent_run.Root(
                    run=parent_run.RootRun(runId=parent_id),
                    job=parent_run.RootJob(namespace=self.namespace, name=PARENT_JOB),
                ),
                producer=producer(),
            ),
            "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
                version=code_version(),
                name="Lockgate",
                openlineageAdapterVersion=OPENLINEAGE_VERSION,
                producer=producer(),
            ),
            "tags": tags_run.TagsRunFacet(
                tags=[tags_run.TagsRunFacetFields(key=RUN_ID_TAG, value=self.run_id, source=INTEGRATION)],
                producer=producer(),
            ),
            **(extra or {}),
        }
        return Run(runId=run_uuid(self.run_id, job_name(source.name)), facets=facets)

    def dataset(self, key: str) -> DatasetNaming:
        return dataset_naming(self.store, key)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def start_event(lineage: LineageRun, source: Source) -> RunEvent:
    """The source's steps begin: which job and run, nothing read or written yet."""
    return RunEvent(
        eventType=RunState.START,
        eventTime=_now(),
        run=lineage.run(source),
        job=lineage.job(source),
        producer=producer(),
    )


def finish_event(lineage: LineageRun, source: Source, result: SourceResult) -> RunEvent:
    """COMPLETE when the source published or was unchanged, else FAIL with the stop cause."""
    complete = result.status in (SourceStatus.PUBLISHED, SourceStatus.UNCHANGED)
    extra: dict[str, RunFacet] = {}
    if not complete:
        extra["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=stop_cause(result), programmingLanguage="python", producer=producer()
        )
    inputs = raw_inputs(lineage, source, result)
    outputs: list[OutputDataset] = []
    if complete and result.curated_key is not None:
        outputs.append(curated_output(lineage, source, result, inputs))
    if result.quarantine_key is not None:
        outputs.append(quarantine_output(lineage, result))
    return RunEvent(
        eventType=RunState.COMPLETE if complete else RunState.FAIL,
        eventTime=_now(),
        run=lineage.run(source, extra),
        job=lineage.job(source),
        inputs=inputs,
        outputs=outputs,
        producer=producer(),
    )


def stop_cause(result: SourceResult) -> str:
    """Why a source did not finish, in words that hold no data values.

    A stop-line and an interruption are described by Lockgate in counts and rule ids. An unexpected
    error's own text can quote a value (a parser naming what it could not read), so only its step is
    named; the run's log has the rest.
    """
    if result.status is SourceStatus.FAILED:
        step, sep, _ = (result.error or "").partition(":")
        where = f" in step {step}" if sep and step and " " not in step else ""
        return f"{result.source} failed{where}; the error is in the run's log"
    return result.error or f"{result.source} {result.status.value}"


def raw_inputs(lineage: LineageRun, source: Source, result: SourceResult) -> list[InputDataset]:
    """The raw objects the source read, each with the run's expectation results."""
    facets: dict[str, InputDatasetFacet] = {}
    if result.expectations:
        facets["dataQualityAssertions"] = assertions(source, result.expectations)
    inputs = []
    for key in result.raw_keys:
        name = lineage.dataset(key)
        inputs.append(
            InputDataset(namespace=name.get_namespace(), name=name.get_name(), inputFacets=dict(facets))
        )
    return inputs


def assertions(
    source: Source, lines: list[ExpectationLine]
) -> data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet:
    """One assertion per contract rule as it ran: its expectation, column, severity and counts."""
    described = {rule.rule_id: rule.description for rule in all_rules(source.contract)}
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=[
            data_quality_assertions_dataset.Assertion(
                assertion=line.expectation,
                success=line.success,
                column=line.column,
                severity=line.severity,
                name=line.rule_id,
                description=described.get(line.rule_id),
                params=_counts(line),
            )
            for line in lines
        ],
        producer=producer(),
    )


def _counts(line: ExpectationLine) -> dict[str, Any]:
    params: dict[str, Any] = {"action": line.action, "blocking": line.blocking}
    if line.unexpected_count is not None:
        params["unexpectedCount"] = line.unexpected_count
    if line.element_count is not None:
        params["elementCount"] = line.element_count
    return params


def curated_output(
    lineage: LineageRun, source: Source, result: SourceResult, inputs: list[InputDataset]
) -> OutputDataset:
    """The curated table at the version now current: schema, version, documentation, column lineage."""
    assert result.curated_key is not None
    name = lineage.dataset(result.curated_key)
    fields = schema_fields(lineage.store, source, result.curated_version)
    facets: dict[str, DatasetFacet] = {
        "schema": schema_dataset.SchemaDatasetFacet(fields=fields, producer=producer())
    }
    if result.curated_version is not None:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=str(result.curated_version), producer=producer()
        )
    purpose = source.contract.description.purpose if source.contract.description else None
    if purpose:
        facets["documentation"] = documentation_dataset.DocumentationDatasetFacet(
            description=purpose, producer=producer()
        )
    if inputs:
        facets["columnLineage"] = column_lineage(
            [f.name for f in fields], result.masked_columns, inputs, source
        )
    output_facets: dict[str, Any] = {}
    if result.status is SourceStatus.PUBLISHED and result.rows_out is not None:
        output_facets["outputStatistics"] = (
            output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=result.rows_out, producer=producer()
            )
        )
    return OutputDataset(
        namespace=name.get_namespace(), name=name.get_name(), facets=facets, outputFacets=output_facets
    )


def quarantine_output(lineage: LineageRun, result: SourceResult) -> OutputDataset:
    """The rows the contract set aside this run (unmasked, like raw): where they are and how many."""
    assert result.quarantine_key is not None
    name = lineage.dataset(result.quarantine_key)
    stats = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
        rowCount=result.rows_quarantined, producer=producer()
    )
    return OutputDataset(
        namespace=name.get_namespace(), name=name.get_name(), outputFacets={"outputStatistics": stats}
    )


def schema_fields(
    store: ObjectStore, source: Source, version: int | None
) -> list[schema_dataset.SchemaDatasetFacetFields]:
    """The published table's columns with their Arrow types (masking can change a type), described by
    the contract; the contract's own columns and logical types when the table cannot be read."""
    described = {prop.name: prop.description for prop in source.contract.columns}
    try:
        table = delta_table(store, source.name, version)
        arrow = pa.schema(table.schema().to_arrow()) if table is not None else None
    except Exception as exc:  # lineage never fails a run; the contract still names the columns
        _logger().warning("lineage: schema of %s read from its contract: %s", source.name, _reason(exc))
        arrow = None
    if arrow is None:
        return [
            schema_dataset.SchemaDatasetFacetFields(
                name=prop.name, type=prop.logical_type.value, description=prop.description, ordinal_position=i
            )
            for i, prop in enumerate(source.contract.columns, start=1)
        ]
    return [
        schema_dataset.SchemaDatasetFacetFields(
            name=f.name, type=str(f.type), description=described.get(f.name), ordinal_position=i
        )
        for i, f in enumerate(arrow, start=1)
    ]


def column_lineage(
    columns: list[str], masked: dict[str, str], inputs: list[InputDataset], source: Source
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """Each curated column from the raw column of the same name, in every raw object read; masked
    columns say which rule (and key id) changed them, the others pass through as they are."""
    known = {prop.name for prop in source.contract.columns}
    fields: dict[str, column_lineage_dataset.Fields] = {}
    for column in columns:
        if column not in known:
            continue
        rule = masked.get(column)
        description = f"masked by the contract's {rule} rule" if rule else "conformed to the contract's type"
        transformation = column_lineage_dataset.Transformation(
            type="DIRECT",
            subtype="TRANSFORMATION" if rule else "IDENTITY",
            description=description,
            masking=rule is not None,
        )
        fields[column] = column_lineage_dataset.Fields(
            inputFields=[
                column_lineage_dataset.InputField(
                    namespace=raw.namespace, name=raw.name, field=column, transformations=[transformation]
                )
                for raw in inputs
            ],
            transformationType="MASKED" if rule else "IDENTITY",
            transformationDescription=description,
        )
    return column_lineage_dataset.ColumnLineageDatasetFacet(fields=fields, producer=producer())


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def _reason(exc: BaseException) -> str:
    """The first line of an error and of its cause (the client wraps transport errors in RuntimeError)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    cause = exc.__cause__
    if cause is not None and str(cause).strip():
        text += f": {str(cause).strip().splitlines()[0]}"
    return text


@dataclass
class Destination:
    """One place events go, through a client of its own, so one failing never keeps them from another."""

    name: str
    client: OpenLineageClient


@dataclass
class RunLineage:
    """One ingest run's lineage: START for each source, then one COMPLETE or FAIL for each."""

    lineage: LineageRun | None
    destinations: list[Destination] = field(default_factory=list)
    pending: set[str] = field(default_factory=set)

    def finish(self, source: Source, result: SourceResult) -> None:
        """Emit the source's last event; once every source has one, close the transports."""
        self.pending.discard(source.name)
        if self.lineage is not None:
            try:
                self.emit(finish_event(self.lineage, source, result))
            except Exception as exc:  # lineage never fails a run
                _logger().warning("lineage: no event for %s: %s", source.name, _reason(exc))
        if not self.pending:
            for destination in self.destinations:
                try:
                    destination.client.close(timeout=0)
                except Exception as exc:
                    _logger().warning("lineage: closing %s: %s", destination.name, _reason(exc))

    def emit(self, event: RunEvent) -> None:
        for destination in self.destinations:
            try:
                destination.client.emit(event)
            except Exception as exc:  # a transport down is a warning, never a failed run
                _logger().warning(
                    "lineage: %s event of %s not sent to %s: %s",
                    event.eventType.value if event.eventType else "run",
                    event.job.name,
                    destination.name,
                    _reason(exc),
                )


def destinations(
    settings: Settings, store: ObjectStore, run_id: str, sources: dict[str, Source]
) -> list[Destination]:
    """The lake, always; and the HTTP endpoint when ``LOCKGATE_LINEAGE_URL`` is set."""
    day = run_day(run_id).date()
    by_job = {job_name(name): source for name, source in sources.items()}

    def place(event: RunEvent) -> tuple[str, dict[str, str]]:
        source = by_job[event.job.name]
        state = event.eventType.value if event.eventType else "OTHER"
        key = layout.lineage_key(day, run_id, event.job.name, state)
        # Lineage holds names, types and counts only: bookkeeping (meta), no personal data.
        tags = access_tags("meta", source.name, sensitivity=source.passport.sensitivity.value, pii=False)
        return key, tags

    transports: list[Transport] = [LakeTransport(LakeConfig(store=store, place=place))]
    if settings.lineage_url:
        transports.append(http_transport(settings.lineage_url, settings.lineage_api_key))
    return [Destination(t.name or t.kind or "transport", OpenLineageClient(transport=t)) for t in transports]


def start_lineage(settings: Settings, lake: str, run_id: str, sources: list[Source]) -> RunLineage:
    """Set up the run's lineage and emit START for every source; a problem here is only a warning."""
    by_name = {source.name: source for source in sources}
    run = RunLineage(lineage=None, pending=set(by_name))
    try:
        store = open_store(lake)
        run.lineage = LineageRun(run_id=run_id, namespace=settings.lineage_namespace, store=store)
        run.destinations = destinations(settings, store, run_id, by_name)
        for source in sources:
            run.emit(start_event(run.lineage, source))
    except Exception as exc:  # lineage never fails a run
        _logger().warning("lineage: not recorded for run %s: %s", run_id, _reason(exc))
        run.lineage = None
    return run
