"""The whole flow against an S3 lake on a real S3-protocol server, and the lake-management commands."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from testkit.aws import point_aws_at
from typer.testing import CliRunner

from cli.app import app
from flows import pipeline
from flows.pipeline import ingest
from flows.results import SourceStatus
from flows.settings import Settings
from sources.staged_read import StagedRead, stage_source
from storage import layout
from storage.curated import current_version, list_versions
from storage.store import open_store
from storage.warehouse import query

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("prefect_api", "hash_key")


@pytest.fixture
def s3_lake(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    point_aws_at(s3_endpoint, monkeypatch, tmp_path)
    monkeypatch.setenv("LOCKGATE_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/prod"


def test_flow_runs_on_an_s3_lake_with_tags_and_dedup(catalog: Path, s3_lake: str) -> None:
    run = ingest(catalog=str(catalog), lake=s3_lake, sources=["customers", "stores"])
    assert {r.status for r in run.sources} == {SourceStatus.PUBLISHED}

    bucket, prefix = s3_lake.removeprefix("s3://").split("/", 1)
    client = boto3.client("s3")
    customers = next(r for r in run.sources if r.source == "customers")
    [raw_key] = customers.raw_keys
    raw_tags = {
        t["Key"]: t["Value"]
        for t in client.get_object_tagging(Bucket=bucket, Key=f"{prefix}/{raw_key}")["TagSet"]
    }
    assert raw_tags == {"layer": "raw", "source": "customers", "sensitivity": "restricted", "pii": "true"}
    assert customers.curated_key == "curated/customers"
    [data_file] = [
        k
        for k in open_store(s3_lake).list("curated/customers/")
        if k.endswith(".parquet") and "_delta_log" not in k
    ]
    curated_tags = client.get_object_tagging(Bucket=bucket, Key=f"{prefix}/{data_file}")["TagSet"]
    assert {t["Key"]: t["Value"] for t in curated_tags}["layer"] == "curated"
    assert (catalog / "data" / "customers.csv").read_bytes() == client.get_object(
        Bucket=bucket, Key=f"{prefix}/{raw_key}"
    )["Body"].read()

    # DuckDB reads the current versions straight from S3 (httpfs, loaded offline).
    warehouse = layout.warehouse_path(s3_lake, Settings().warehouse)  # where the flow put it
    assert query(warehouse, "SELECT count(*) FROM stores").item() == 50
    assert query(warehouse, "SELECT count(*) FROM customers").item() == customers.rows_out

    # The same bytes again: nothing new in raw, nothing new in curated, and the run says so.
    again = ingest(catalog=str(catalog), lake=s3_lake, sources=["customers"])
    [result] = again.sources
    assert result.status is SourceStatus.UNCHANGED
    assert result.raw_reused == 1
    assert result.note is not None
    assert "already in the raw layer" in result.note
    assert result.raw_keys == [raw_key]
    raw_objects = [k for k in open_store(s3_lake).list("raw/customers/") if k.endswith(".csv")]
    assert raw_objects == [raw_key]


def test_versions_and_rollback_commands(catalog: Path, tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    ingest(catalog=str(catalog), lake=lake, sources=["stores"])
    data = catalog / "data" / "stores.csv"
    data.write_bytes(data.read_bytes() + "\r\n".encode("cp1251"))  # new bytes, same rows: a new version
    ingest(catalog=str(catalog), lake=lake, sources=["stores"])
    store = open_store(lake)
    assert [v.version for v in list_versions(store, "stores")] == [0, 1]

    runner = CliRunner()
    listed = runner.invoke(app, ["versions", "stores", "--lake", lake], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "v0" in listed.output
    assert "v1" in listed.output

    back = runner.invoke(app, ["rollback", "stores", "--to", "0", "--lake", lake, "--reason", "bad delivery"])
    assert back.exit_code == 0, back.output
    assert "v1 → v2 (the data of v0)" in back.output
    current = current_version(store, "stores")
    assert current is not None
    assert (current.version, current.restored_version) == (2, 0)
    assert query(layout.warehouse_path(lake), "SELECT count(*) FROM stores").item() == current.rows
    history = runner.invoke(app, ["versions", "stores", "--lake", lake], env={"COLUMNS": "200"})
    assert "bad delivery" in history.output

    # The source still delivers the rolled-back bytes: the next run does not undo the rollback.
    [held] = ingest(catalog=str(catalog), lake=lake, sources=["stores"]).sources
    assert held.status is SourceStatus.UNCHANGED
    assert held.note is not None
    assert "was rolled back, not published again" in held.note
    assert current_version(store, "stores") == current

    unknown = runner.invoke(app, ["rollback", "stores", "--to", "9", "--lake", lake])
    assert unknown.exit_code == 1
    assert "known versions: 0, 1, 2" in unknown.output


def test_a_source_staged_on_disk_publishes_to_an_s3_lake(
    catalog: Path, s3_lake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The raw objects are verified as they download into the run's working folder, staged there, and
    the stage streams into the Delta table on S3."""
    staged: list[int] = []

    def staging(*args: Any, **options: Any) -> StagedRead | None:
        read = stage_source(*args, **options)
        staged.append(args[3].rows)
        return read

    monkeypatch.setattr(pipeline, "stage_source", staging)
    [customers] = ingest(
        catalog=str(catalog), lake=s3_lake, sources=["customers"], memory_limit="1MiB"
    ).sources
    assert customers.status is SourceStatus.PUBLISHED, customers.error
    assert staged == [customers.rows_in]
    warehouse = layout.warehouse_path(s3_lake, Settings().warehouse)
    assert query(warehouse, "SELECT count(*) FROM customers").item() == customers.rows_out
    bucket, prefix = s3_lake.removeprefix("s3://").split("/", 1)
    data_files = [k for k in open_store(s3_lake).list("curated/customers/") if k.endswith(".parquet")]
    assert data_files
    for key in data_files:
        tags = boto3.client("s3").get_object_tagging(Bucket=bucket, Key=f"{prefix}/{key}")["TagSet"]
        assert {t["Key"]: t["Value"] for t in tags}["layer"] == "curated"
