"""The ingest flow's OpenLineage events end to end: into a local lake, into an S3 lake on the S3 test
server, to an HTTP endpoint on loopback, and with every transport broken (the run still publishes).

Nothing is mocked: the flow runs in Prefect on the example catalog, events are written by the
openlineage-python client's transports, and each event is validated against the spec's JSON Schemas.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from testkit.catalog_fixtures import rewrite_customers
from testkit.openlineage_schemas import validate_event

from flows.errors import RunFailed
from flows.lineage import run_uuid
from flows.pipeline import ingest
from flows.results import RunResult, SourceStatus
from sources.catalog import load_catalog
from storage.store import open_store

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("prefect_api", "hash_key")

API_KEY = "lineage-test-key-0123"


def lake_events(lake: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The lineage objects in a lake, each validated, by (job name, event type)."""
    store = open_store(lake)
    events = {}
    for key in store.list("lineage/"):
        event = json.loads(store.get_bytes(key))
        validate_event(event)
        events[event["job"]["name"], event["eventType"]] = event
    return events


def names(event: dict[str, Any], side: str) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in event[side]]


class Received:
    """What a small OpenLineage endpoint on loopback was sent (or, when `status` >= 500, refused)."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.requests.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(received.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[Received]:
    server = Received(201)  # what Marquez answers
    yield server
    server.close()


@pytest.fixture
def failing_endpoint() -> Iterator[Received]:
    server = Received(500)
    yield server
    server.close()


@pytest.fixture
def run_warnings() -> Iterator[list[str]]:
    """Warnings the flow's run logger wrote (Prefect's flow-run logger does not reach caplog)."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                messages.append(record.getMessage())

    handler = Collect()
    logger = logging.getLogger("prefect.flow_runs")
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)


def test_local_lake_gets_start_and_complete_and_a_stop_gets_fail(catalog: Path, tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    rewrite_customers(catalog, {2: {"segment": "vip"}})  # one row quarantined, the rest published
    run: RunResult = ingest(catalog=str(catalog), lake=lake, sources=["customers", "stores"])
    assert {r.status for r in run.sources} == {SourceStatus.PUBLISHED}

    events = lake_events(lake)
    assert set(events) == {(f"ingest.{s}", t) for s in ("customers", "stores") for t in ("START", "COMPLETE")}
    customers = next(r for r in run.sources if r.source == "customers")
    start, complete = events["ingest.customers", "START"], events["ingest.customers", "COMPLETE"]
    assert start["run"]["runId"] == complete["run"]["runId"] == run_uuid(run.run_id, "ingest.customers")
    assert start["eventTime"] < complete["eventTime"]
    root = (tmp_path / "lake").as_posix()
    assert names(complete, "inputs") == [("file", f"{root}/{key}") for key in customers.raw_keys]
    assert names(complete, "outputs") == [
        ("file", f"{root}/curated/customers"),
        ("file", f"{root}/{customers.quarantine_key}"),
    ]
    curated, quarantine = complete["outputs"]
    assert curated["facets"]["version"]["datasetVersion"] == str(customers.curated_version)
    assert curated["outputFacets"]["outputStatistics"]["rowCount"] == customers.rows_out
    assert quarantine["outputFacets"]["outputStatistics"]["rowCount"] == 1
    # The published Arrow schema: masking made birth_date a date still, e-mail a hex string.
    types = {f["name"]: f["type"] for f in curated["facets"]["schema"]["fields"]}
    assert (types["customer_id"], types["email"], types["lifetime_value"]) == ("int64", "string", "double")
    column_lineage = curated["facets"]["columnLineage"]["fields"]
    assert {c for c, f in column_lineage.items() if f["transformationType"] == "MASKED"} == set(
        customers.masked_columns
    ) & set(types)
    checks = complete["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert len(checks) == len(customers.expectations)
    segment = next(c for c in checks if c["name"] == "known_segment")
    assert (segment["success"], segment["params"]["unexpectedCount"]) == (False, 1)

    # A blocking rule stops customers: FAIL with the stop cause, no curated output.
    rewrite_customers(catalog, {2: {"segment": "retail"}, 3: {"lifetime_value": "-5"}})
    with pytest.raises(RunFailed) as info:
        ingest(catalog=str(catalog), lake=lake, sources=["customers"])
    stopped = info.value.run
    [result] = stopped.sources
    assert result.status is SourceStatus.STOPPED
    fails = [
        e
        for e in lake_events(lake).values()
        if e["eventType"] == "FAIL" and e["run"]["runId"] == run_uuid(stopped.run_id, "ingest.customers")
    ]
    [fail] = fails
    assert fail["run"]["facets"]["errorMessage"]["message"] == result.error
    assert "stop-line for 'customers'" in fail["run"]["facets"]["errorMessage"]["message"]
    assert fail["outputs"] == []
    assert names(fail, "inputs") == [("file", f"{root}/{key}") for key in result.raw_keys]
    failed_checks = fail["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert any(not c["success"] and c["column"] == "lifetime_value" for c in failed_checks)
    lake_files = sorted((tmp_path / "lake" / "lineage").rglob("*.json"))
    assert any(p.name == f"{stopped.run_id}-ingest.customers-FAIL.json" for p in lake_files)


def test_s3_lake_gets_the_events_as_tagged_objects(
    catalog: Path, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKGATE_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    lake = f"s3://{bucket}/prod"
    run = ingest(catalog=str(catalog), lake=lake, sources=["stores"])
    [stores] = run.sources
    assert stores.status is SourceStatus.PUBLISHED

    events = lake_events(lake)
    assert set(events) == {("ingest.stores", "START"), ("ingest.stores", "COMPLETE")}
    complete = events["ingest.stores", "COMPLETE"]
    assert names(complete, "inputs") == [(f"s3://{bucket}", f"prod/{key}") for key in stores.raw_keys]
    assert names(complete, "outputs") == [(f"s3://{bucket}", "prod/curated/stores")]
    # Names, types and counts only: bookkeeping (meta) at the source's sensitivity, no personal data.
    sensitivity = next(s for s in load_catalog(catalog).sources if s.name == "stores").passport.sensitivity
    store = open_store(lake)
    for key in store.list("lineage/"):
        assert key.startswith("lineage/") and run.run_id in key
        tags = {"layer": "meta", "source": "stores", "sensitivity": sensitivity.value, "pii": "false"}
        assert store.tags(key) == tags


def test_an_http_endpoint_receives_every_event(
    catalog: Path, tmp_path: Path, endpoint: Received, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKGATE_LINEAGE_URL", endpoint.url)
    monkeypatch.setenv("LOCKGATE_LINEAGE_API_KEY", API_KEY)
    monkeypatch.setenv("LOCKGATE_LINEAGE_NAMESPACE", "lockgate-test")
    run = ingest(catalog=str(catalog), lake=str(tmp_path / "lake"), sources=["stores"])

    assert [(path, body["eventType"]) for path, _, body in endpoint.requests] == [
        ("/api/v1/lineage", "START"),
        ("/api/v1/lineage", "COMPLETE"),
    ]
    for _, headers, body in endpoint.requests:
        validate_event(body)
        assert headers["Authorization"] == f"Bearer {API_KEY}"
        assert body["job"] == {**body["job"], "namespace": "lockgate-test", "name": "ingest.stores"}
        assert body["run"]["runId"] == run_uuid(run.run_id, "ingest.stores")
    # The lake keeps its own copy of the same events.
    sent = {body["eventType"]: body for _, _, body in endpoint.requests}
    assert lake_events(str(tmp_path / "lake")) == {("ingest.stores", t): sent[t] for t in sent}


def test_broken_transports_leave_a_warning_and_the_run_publishes(
    catalog: Path,
    tmp_path: Path,
    failing_endpoint: Received,
    monkeypatch: pytest.MonkeyPatch,
    run_warnings: list[str],
) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "lineage").write_text("a file where the lineage folder should be")  # the lake copy fails too
    monkeypatch.setenv("LOCKGATE_LINEAGE_URL", failing_endpoint.url)
    run = ingest(catalog=str(catalog), lake=str(lake), sources=["stores"])

    assert [r.status for r in run.sources] == [SourceStatus.PUBLISHED]
    assert len(failing_endpoint.requests) == 2 * 3, "START and COMPLETE, each tried three times"
    lineage_warnings = [m for m in run_warnings if m.startswith("lineage:")]
    assert len(lineage_warnings) == 4, lineage_warnings  # two events, two destinations
    for state in ("START", "COMPLETE"):
        [to_lake] = [m for m in lineage_warnings if f"{state} event of ingest.stores not sent to lake" in m]
        [to_http] = [m for m in lineage_warnings if f"{state} event of ingest.stores not sent to http" in m]
        assert "500" in to_http
        assert to_lake.split(": ", 1)[1], "the warning gives the reason"
