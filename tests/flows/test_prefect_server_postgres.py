"""Lockgate operated as in production: a Prefect server on PostgreSQL, the example catalog deployed to a
process work pool with ``lockgate deploy``, and a worker running one source's scheduled ingest.

Everything is real and separate: the server (``prefect server start``) on a database of its own, the
deploy command and the worker are subprocesses that know the server only by ``PREFECT_API_URL``, and
the flow runs in a process the worker starts. The test then reads what an operator would look at: the
flow run, its task runs and artifacts and the source's event through the API, the rows in PostgreSQL,
the lineage in the lake, and the same run in the Prefect UI in headless Chromium. With
``LOCKGATE_SCREENSHOTS_DIR`` set (``make screenshots``) it also saves those UI pages as the README's
screenshots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import psycopg
import pytest
from playwright.sync_api import ViewportSize, expect, sync_playwright
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    WorkPoolFilter,
    WorkPoolFilterName,
)
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventResourceFilter
from prefect.settings import PREFECT_API_URL, temporary_settings
from testkit.catalog_fixtures import HASH_KEY
from testkit.openlineage_schemas import validate_event
from testkit.postgres import temporary_database
from testkit.prefect_server import PrefectServer, log_tail, prefect_server, process_worker

from flows.events import source_resource_id
from flows.lineage import RUN_ID_TAG, job_name, run_day
from flows.pipeline import STEPS
from flows.schedules import FRESHNESS_DEPLOYMENT, RETENTION_DEPLOYMENT, deployment_name
from storage.layout import lineage_key
from storage.run_history import read_runs
from storage.store import open_store

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Locator, Page
    from prefect.client.schemas.objects import FlowRun
    from prefect.events import ReceivedEvent

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
LOCKGATE = Path(sys.executable).with_name("lockgate")
SOURCE = "customers"  # the example's richest source: every kind of masking, one warning rule
POOL = "lockgate"
RUN_SECONDS = 300  # worker pick-up, a fresh interpreter importing Lockgate, the run itself
EVENT_SECONDS = 60  # events reach the server asynchronously
SCREENSHOTS_ENV = "LOCKGATE_SCREENSHOTS_DIR"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
PAGE_TIMEOUT_MS = 60_000  # a React app on a busy 2-core box, yet a stuck page fails in a minute
RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")


@dataclass
class Stages:
    """How long each stage took, printed when the module ends: where the time of this long test goes."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.seconds[stage] = time.monotonic() - start

    def line(self) -> str:
        return ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in self.seconds.items())


@dataclass(frozen=True)
class FinishedRun:
    """The deployed source's run once it ended, and where everything it touched lives."""

    server: PrefectServer
    database_url: str
    lake: Path
    deployed: list[dict[str, Any]]
    flow_run: FlowRun
    since: datetime
    stages: Stages


def _wait_for_end(flow_run_id: Any, worker: subprocess.Popen[bytes], worker_log: Path) -> FlowRun:
    """The flow run once its state is final; fails with the worker's log if it dies or takes too long."""
    deadline = time.monotonic() + RUN_SECONDS
    with get_client(sync_client=True) as client:
        while True:
            flow_run = client.read_flow_run(flow_run_id)
            if flow_run.state is not None and flow_run.state.is_final():
                return flow_run
            if worker.poll() is not None:
                raise AssertionError(f"the worker exited ({worker.returncode}):\n{log_tail(worker_log)}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"run not finished in {RUN_SECONDS} s: {flow_run.state}\n{log_tail(worker_log)}"
                )
            time.sleep(1)


@pytest.fixture(scope="module")
def finished(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[FinishedRun]:
    """One server for the module: deploy the example catalog, run one source's deployment on a worker."""
    root = tmp_path_factory.mktemp("prefect-postgres")
    catalog = Path(shutil.copytree(REPO / "examples" / "catalog", root / "catalog"))
    lake = root / "lake"
    stages = Stages()
    started = time.monotonic()
    with ExitStack() as stack:
        database = stack.enter_context(temporary_database("lockgate_prefect", extensions=["pg_trgm"]))
        with stages.timed("server start"):
            server = stack.enter_context(prefect_server(database, root / "prefect-home", root / "server.log"))
        stack.enter_context(temporary_settings(updates={PREFECT_API_URL: server.api_url}))
        with get_client(sync_client=True) as client:
            client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
        worker_log = root / "worker.log"
        worker = stack.enter_context(
            process_worker(server, POOL, worker_log, {"LOCKGATE_HASH_KEY": HASH_KEY})
        )
        with stages.timed("lockgate deploy"):
            deploy = subprocess.run(
                [LOCKGATE, "deploy", "--work-pool", POOL, "-c", catalog, "-l", lake, "--format", "json"],
                env=server.env(),
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr
        since = datetime.now(UTC) - timedelta(seconds=5)
        with stages.timed("worker run"):
            with get_client(sync_client=True) as client:  # what `prefect deployment run` does
                deployment = client.read_deployment_by_name(f"lockgate-ingest/{deployment_name(SOURCE)}")
                triggered = client.create_flow_run_from_deployment(deployment.id)
            flow_run = _wait_for_end(triggered.id, worker, worker_log)
        stages.seconds["flow run"] = flow_run.total_run_time.total_seconds()  # in the worker's process
        yield FinishedRun(server, database, lake, json.loads(deploy.stdout), flow_run, since, stages)
    stages.seconds["module"] = time.monotonic() - started
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # past pytest's output capture, as `capsys.disabled`
            reporter.ensure_newline()
            reporter.write_line(f"Prefect server on PostgreSQL: {stages.line()}")


def test_deploy_registers_every_schedule_with_the_pool(finished: FinishedRun) -> None:
    expected = {*(deployment_name(s) for s in ("customers", "stores", "support_tickets"))}
    expected |= {RETENTION_DEPLOYMENT, FRESHNESS_DEPLOYMENT}
    assert {row["name"] for row in finished.deployed} == expected
    assert all(row["registered"] and row["work_pool"] == POOL for row in finished.deployed)
    with get_client(sync_client=True) as client:
        found = client.read_deployments(work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[POOL])))
    assert {d.name for d in found} == expected


def test_the_worker_completes_the_run_under_lockgates_run_id(finished: FinishedRun) -> None:
    flow_run = finished.flow_run
    assert flow_run.state is not None and flow_run.state.is_completed(), flow_run.state
    assert flow_run.state.message == "1 of 1 source published"
    assert flow_run.work_pool_name == POOL and flow_run.deployment_id is not None
    [record] = read_runs(open_store(str(finished.lake)), SOURCE)  # the lake's name for the run
    assert RUN_ID.match(flow_run.name) and flow_run.name == record.run_id
    assert record.status == "published"


def test_the_run_is_kept_in_postgresql(finished: FinishedRun) -> None:
    with psycopg.connect(finished.database_url) as db:
        row = db.execute(
            "SELECT name, state_type FROM flow_run WHERE id = %s", [finished.flow_run.id]
        ).fetchone()
        extensions = {r[0] for r in db.execute("SELECT extname FROM pg_extension")}
    assert row == (finished.flow_run.name, "COMPLETED")
    assert "pg_trgm" in extensions


def test_task_runs_are_named_by_step_and_source(finished: FinishedRun) -> None:
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[finished.flow_run.id]))
        )
    states = {t.name: t.state.type.value if t.state else None for t in task_runs}
    steps = {f"{task.name}[{SOURCE}]" for _, task in STEPS}  # land-raw[customers] … publish[customers]
    assert steps <= set(states), sorted(states)
    assert {states[name] for name in steps} == {"COMPLETED"}
    assert any(name.startswith("register") for name in states)


def test_the_run_leaves_its_artifacts(finished: FinishedRun) -> None:
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[finished.flow_run.id]))
        )
    by_key = {a.key: a for a in artifacts}
    assert {"lockgate-run", "lockgate-customers", "lockgate-docs-customers"} <= set(by_key)
    table = by_key["lockgate-run"]
    assert table.type == "table"
    assert table.description == f"Lockgate run {finished.flow_run.name}: 1 of 1 source published"
    assert isinstance(table.data, str)  # a table artifact's rows, as JSON
    [row] = json.loads(table.data)
    assert row["source"] == SOURCE and row["status"] == "published"
    report = str(by_key["lockgate-customers"].data)
    assert report.startswith(f"# {SOURCE}") and "published curated version" in report


def _source_events(finished: FinishedRun) -> list[ReceivedEvent]:
    """The source's Lockgate events since the run started, once any has been stored (they arrive
    asynchronously: the flow run's process sends them, the server persists them in batches)."""
    query = EventFilter(
        event=EventNameFilter(prefix=["lockgate.source."]),
        resource=EventResourceFilter(id=[source_resource_id(SOURCE)]),
        occurred=EventOccurredFilter.model_validate(
            {"since": finished.since, "until": datetime.now(UTC) + timedelta(days=1)}
        ),
    )
    deadline = time.monotonic() + EVENT_SECONDS
    while True:
        with get_client(sync_client=True) as client:
            events = client.read_events(filter=query, limit=50).events  # the server's maximum page
        if events or time.monotonic() > deadline:
            return events
        time.sleep(1)


def test_the_source_event_reaches_the_server(finished: FinishedRun) -> None:
    [event] = _source_events(finished)
    assert event.event == "lockgate.source.published"
    assert event.resource["lockgate.run-id"] == finished.flow_run.name
    assert event.resource["lockgate.owner"] == "crm-owner@example.com"
    assert event.payload["rows_out"] == event.payload["rows_in"] > 0
    related = {r.id for r in event.related}
    assert f"prefect.flow-run.{finished.flow_run.id}" in related
    assert f"prefect.deployment.{finished.flow_run.deployment_id}" in related


def test_lineage_lands_in_the_lake(finished: FinishedRun) -> None:
    run_id = finished.flow_run.name
    store = open_store(str(finished.lake))
    for state in ("START", "COMPLETE"):
        event = json.loads(
            store.get_bytes(lineage_key(run_day(run_id).date(), run_id, job_name(SOURCE), state))
        )
        validate_event(event)
        assert event["eventType"] == state and event["job"]["name"] == job_name(SOURCE)
        tags = {t["key"]: t["value"] for t in event["run"]["facets"]["tags"]["tags"]}
        assert tags[RUN_ID_TAG] == run_id


def _shows(locator: Locator) -> None:
    """Wait for the page's data to show this (a page renders its frame first, the data later)."""
    expect(locator).to_be_visible(timeout=PAGE_TIMEOUT_MS)


def _shoot(page: Page, name: str) -> None:
    """Save the page as the README's screenshot `name` when asked to (``make screenshots``)."""
    target = os.environ.get(SCREENSHOTS_ENV)
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(target) / name)


def test_the_prefect_ui_tells_the_story(finished: FinishedRun) -> None:
    """The server's own UI, on PostgreSQL and offline: the run's graph and task runs, its table artifact,
    the source's event. Each page is checked for what it must show once its data has loaded."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)", pytrace=False
        )
    started = time.monotonic()
    with get_client(sync_client=True) as client:
        table = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[finished.flow_run.id])),
        )
    [table_id] = [a.id for a in table if a.key == "lockgate-run"]
    assert _source_events(finished), "no event to show in the feed"
    ui = finished.server.url + json.loads(_get(f"{finished.server.url}/ui-settings"))["v2_base_url"]
    run_name = finished.flow_run.name
    server_errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            # Offline, like the machines it runs on: the UI's analytics beacon is refused at once, not
            # left to time out, and nothing else leaves loopback.
            context.route(lambda url: not url.startswith(finished.server.url), lambda route: route.abort())
            context.set_default_timeout(PAGE_TIMEOUT_MS)  # page loads; `_shows` for what they show
            page = context.new_page()
            page.on(
                "response",
                lambda r: server_errors.append(f"{r.status} {r.url}") if r.status >= 500 else None,
            )

            page.goto(f"{ui}/runs/flow-run/{finished.flow_run.id}?tab=TaskRuns")
            _shows(page.get_by_text(run_name, exact=True).first)
            _shows(page.get_by_text(f"validate[{SOURCE}]", exact=True).first)
            _shows(page.get_by_text(f"publish[{SOURCE}]", exact=True).first)
            _shows(page.locator("canvas").first)  # the run graph (WebGL)
            page.wait_for_timeout(1500)  # the graph draws after its data arrives
            _shoot(page, "prefect-flow-run.png")

            page.goto(f"{ui}/artifacts/artifact/{table_id}")
            _shows(page.get_by_text(f"Lockgate run {run_name}: 1 of 1 source published"))
            _shows(page.get_by_role("cell", name="published", exact=True))
            _shows(page.get_by_role("cell", name=SOURCE, exact=True))
            _shoot(page, "prefect-run-artifact.png")

            page.goto(f"{ui}/events?{_event_feed_query(finished)}")
            _shows(page.get_by_text("lockgate.source.published", exact=True).first)
            _shows(page.get_by_text(run_name, exact=True).first)
            _shoot(page, "prefect-source-events.png")
        finally:
            browser.close()
    assert server_errors == []
    finished.stages.seconds["UI pages"] = time.monotonic() - started


def _event_feed_query(finished: FinishedRun) -> str:
    """The feed of the source's events around the run. An explicit range: the feed's default "past day"
    ends at the current minute, rounded down, so an event of the last minute would not show yet."""
    return urlencode(
        {
            "resource": json.dumps([source_resource_id(SOURCE)]),
            "rangeType": "range",
            "start": (finished.since - timedelta(minutes=10)).isoformat(),
            "end": (datetime.now(UTC) + timedelta(minutes=10)).isoformat(),
        }
    )


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode("utf-8"))
