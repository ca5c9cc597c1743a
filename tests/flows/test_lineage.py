"""OpenLineage events as Lockgate builds them, checked against the spec's JSON Schemas (vendored).

Events are built from the example catalog's real sources and a real local lake; what they carry is
checked field by field, and every event and facet is validated offline (testkit.openlineage_schemas).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pytest
from jsonschema import ValidationError
from openlineage.client.serde import Serde
from testkit.openlineage_schemas import validate_event

from flows.lineage import (
    LineageRun,
    dataset_naming,
    finish_event,
    job_name,
    run_uuid,
    start_event,
    stop_cause,
)
from flows.lineage_transport import LakeConfig, LakeTransport
from flows.results import ExpectationLine, SourceResult, SourceStatus
from sources.catalog import Source, load_catalog
from storage import layout
from storage.local import LocalStore
from storage.s3 import S3Store

if TYPE_CHECKING:
    from pathlib import Path

    from openlineage.client.event_v2 import RunEvent

RUN_ID = "20261203T175237Z-1a2b3c4d"
RAW_KEY = f"raw/customers/2026-12-03/{RUN_ID}/customers.csv"


@pytest.fixture
def customers(catalog: Path) -> Source:
    return next(s for s in load_catalog(catalog).sources if s.name == "customers")


@pytest.fixture
def lineage(tmp_path: Path) -> LineageRun:
    return LineageRun(run_id=RUN_ID, namespace="lockgate", store=LocalStore(tmp_path / "lake"))


def as_json(event: RunEvent) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(Serde.to_json(event))
    return parsed


def line(
    rule_id: str, column: str | None, *, success: bool = True, unexpected: int | None = 0
) -> ExpectationLine:
    return ExpectationLine(
        rule_id=rule_id,
        expectation="expect_column_values_to_not_be_null",
        column=column,
        severity="error",
        success=success,
        unexpected_count=unexpected,
        element_count=1000,
    )


def published(**changes: object) -> SourceResult:
    result = SourceResult(
        source="customers",
        status=SourceStatus.PUBLISHED,
        run_id=RUN_ID,
        rows_in=1000,
        rows_out=997,
        rows_quarantined=3,
        quarantine_key=layout.quarantine_key("customers", RUN_ID),
        raw_keys=[RAW_KEY],
        expectations=[line("customer_id_required", "customer_id"), line("known_segment", "segment")],
        masked_columns={"email": "hash:3fa1b2c3", "phone": "partial", "birth_date": "generalize"},
        curated_version=4,
        curated_key="curated/customers",
        release_id="r1",
    )
    return result.model_copy(update=changes)


def test_run_ids_are_stable_uuid7_at_the_run_start() -> None:
    first = run_uuid(RUN_ID, job_name("customers"))
    assert first == run_uuid(RUN_ID, job_name("customers")), "every event of a run names the same run"
    parsed = uuid.UUID(first)
    assert parsed.version == 7
    millis = parsed.int >> 80
    assert datetime.fromtimestamp(millis / 1000, UTC) == datetime(2026, 12, 3, 17, 52, 37, tzinfo=UTC)
    assert first != run_uuid(RUN_ID, job_name("stores"))
    assert first != run_uuid("20261203T175237Z-ffffffff", job_name("customers"))
    # An id Lockgate did not make still gives one stable UUID.
    assert run_uuid("manual", "ingest") == run_uuid("manual", "ingest")


def test_dataset_names_follow_the_openlineage_naming_spec(tmp_path: Path) -> None:
    local = dataset_naming(LocalStore(tmp_path / "lake"), RAW_KEY)
    assert (local.get_namespace(), local.get_name()) == ("file", (tmp_path / "lake" / RAW_KEY).as_posix())
    s3 = dataset_naming(S3Store("bucket", "prod"), "curated/customers")
    assert (s3.get_namespace(), s3.get_name()) == ("s3://bucket", "prod/curated/customers")


def test_start_names_the_job_the_parent_run_and_lockgate_run_id(
    lineage: LineageRun, customers: Source
) -> None:
    event = as_json(start_event(lineage, customers))
    validate_event(event)
    assert event["eventType"] == "START"
    assert event["job"] == {
        "namespace": "lockgate",
        "name": "ingest.customers",
        "facets": {"jobType": event["job"]["facets"]["jobType"]},
    }
    assert event["job"]["facets"]["jobType"]["processingType"] == "BATCH"
    assert event["run"]["runId"] == run_uuid(RUN_ID, "ingest.customers")
    parent = event["run"]["facets"]["parent"]
    assert (parent["job"]["namespace"], parent["job"]["name"]) == ("lockgate", "ingest")
    assert parent["run"]["runId"] == parent["root"]["run"]["runId"] == run_uuid(RUN_ID, "ingest")
    tags = {t["key"]: t["value"] for t in event["run"]["facets"]["tags"]["tags"]}
    assert tags["lockgate.run_id"] == RUN_ID
    assert event["producer"].startswith("urn:lockgate:")
    assert event["inputs"] == event["outputs"] == []


def test_complete_carries_raw_inputs_curated_and_quarantine_outputs(
    lineage: LineageRun, customers: Source, tmp_path: Path
) -> None:
    event = as_json(finish_event(lineage, customers, published()))
    used = validate_event(event)
    assert event["eventType"] == "COMPLETE"
    assert "errorMessage" not in event["run"]["facets"]

    [raw] = event["inputs"]
    assert (raw["namespace"], raw["name"]) == ("file", (tmp_path / "lake" / RAW_KEY).as_posix())
    checks = raw["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert [(c["name"], c["column"], c["success"]) for c in checks] == [
        ("customer_id_required", "customer_id", True),
        ("known_segment", "segment", True),
    ]
    assert checks[1]["params"] == {
        "action": "block",
        "blocking": False,
        "unexpectedCount": 0,
        "elementCount": 1000,
    }
    assert checks[1]["description"].startswith("A customer in a segment we do not sell to")

    curated, quarantine = event["outputs"]
    assert curated["name"] == (tmp_path / "lake" / "curated" / "customers").as_posix()
    assert curated["facets"]["version"]["datasetVersion"] == "4"
    assert curated["outputFacets"]["outputStatistics"]["rowCount"] == 997
    assert curated["facets"]["documentation"]["description"].startswith("One row per customer")
    # No table in this lake: the contract's columns and logical types stand in for the Arrow schema.
    fields = curated["facets"]["schema"]["fields"]
    assert [f["name"] for f in fields] == [p.name for p in customers.contract.columns]
    assert fields[0] == {
        "name": "customer_id",
        "type": "integer",
        "description": customers.contract.columns[0].description,
        "ordinal_position": 1,
        "fields": [],
    }
    lineage_fields = curated["facets"]["columnLineage"]["fields"]
    email = lineage_fields["email"]
    assert email["transformationType"] == "MASKED"
    assert email["transformationDescription"] == "masked by the contract's hash:3fa1b2c3 rule"
    [source_field] = email["inputFields"]
    assert (source_field["name"], source_field["field"]) == (raw["name"], "email")
    assert source_field["transformations"] == [
        {
            "type": "DIRECT",
            "subtype": "TRANSFORMATION",
            "description": "masked by the contract's hash:3fa1b2c3 rule",
            "masking": True,
        }
    ]
    assert lineage_fields["customer_id"]["transformationType"] == "IDENTITY"
    assert lineage_fields["customer_id"]["inputFields"][0]["transformations"][0]["masking"] is False

    assert quarantine["name"].endswith(f"quarantine/customers/{RUN_ID}/rows.parquet")
    assert quarantine["outputFacets"]["outputStatistics"]["rowCount"] == 3
    assert {u.rsplit("/", 1)[1] for u in used} >= {
        "ParentRunFacet.json",
        "JobTypeJobFacet.json",
        "SchemaDatasetFacet.json",
        "ColumnLineageDatasetFacet.json",
        "DataQualityAssertionsDatasetFacet.json",
        "OutputStatisticsOutputDatasetFacet.json",
        "DatasetVersionDatasetFacet.json",
    }


def test_a_stopped_source_fails_with_its_cause_and_no_curated_output(
    lineage: LineageRun, customers: Source
) -> None:
    stopped = published(
        status=SourceStatus.STOPPED,
        error="stop-line for 'customers': failed blocking rules: lifetime_value_non_negative",
        expectations=[line("lifetime_value_non_negative", "lifetime_value", success=False, unexpected=2)],
        rows_out=None,
        quarantine_key=None,
        rows_quarantined=0,
    )
    event = as_json(finish_event(lineage, customers, stopped))
    validate_event(event)
    assert event["eventType"] == "FAIL"
    error = event["run"]["facets"]["errorMessage"]
    assert error["message"] == stopped.error
    assert error["programmingLanguage"] == "python"
    assert "stackTrace" not in error
    assert event["outputs"] == []
    [raw] = event["inputs"]
    [check] = raw["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert (check["success"], check["params"]["unexpectedCount"]) == (False, 2)


def test_an_unexpected_error_is_named_by_its_step_only() -> None:
    failed = SourceResult(
        source="customers",
        status=SourceStatus.FAILED,
        run_id=RUN_ID,
        error="read: could not parse 'Ivanov Ivan' as i64",
    )
    assert stop_cause(failed) == "customers failed in step read; the error is in the run's log"
    interrupted = failed.model_copy(
        update={"status": SourceStatus.INTERRUPTED, "error": "interrupted before validate"}
    )
    assert stop_cause(interrupted) == "interrupted before validate"


def test_the_validator_rejects_what_the_spec_does_not_allow(lineage: LineageRun, customers: Source) -> None:
    event = as_json(finish_event(lineage, customers, published()))
    broken_run = json.loads(json.dumps(event))
    broken_run["run"]["runId"] = RUN_ID  # Lockgate's id is not a UUID
    with pytest.raises(ValidationError):
        validate_event(broken_run)
    broken_facet = json.loads(json.dumps(event))
    del broken_facet["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"][0]["success"]
    with pytest.raises(ValidationError):
        validate_event(broken_facet)


def test_the_lake_transport_files_each_event_under_the_run_day(
    lineage: LineageRun, customers: Source, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "lake")
    day = date(2026, 12, 3)

    def place(event: RunEvent) -> tuple[str, dict[str, str]]:
        assert event.eventType is not None
        return layout.lineage_key(day, RUN_ID, event.job.name, event.eventType.value), {}

    transport = LakeTransport(LakeConfig(store=store, place=place))
    transport.emit(start_event(lineage, customers))
    transport.emit(finish_event(lineage, customers, published()))
    assert store.list("lineage/") == [
        f"lineage/2026/12/03/{RUN_ID}-ingest.customers-COMPLETE.json",
        f"lineage/2026/12/03/{RUN_ID}-ingest.customers-START.json",
    ]
    for key in store.list("lineage/"):
        validate_event(json.loads(store.get_bytes(key)))
