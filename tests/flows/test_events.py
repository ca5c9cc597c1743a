"""Source events at a real Prefect server: the ingest run's outcome events, the freshness check's late
events (once per missed due time), and the shipped example automation, created with Prefect's own CLI,
notifying a webhook when a source stops the line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from croniter import croniter
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventResourceFilter
from prefect.settings import PREFECT_API_URL
from testkit.catalog_fixtures import HASH_KEY
from testkit.prefect_reads import latest_artifact

from flows.errors import RunFailed
from flows.freshness import freshness
from flows.pipeline import ingest
from flows.schedules import FRESHNESS_CRON, FRESHNESS_DEPLOYMENT, scheduled_deployments
from storage.run_history import read_runs
from storage.store import open_store

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prefect.events import Event

pytestmark = pytest.mark.usefixtures("prefect_api")

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "automations" / "notify-on-stop-line.yaml"
PLACEHOLDER = "00000000-0000-0000-0000-000000000000"
WAIT_SECONDS = 90  # events and automation actions are asynchronous; a busy 2-core box is slow
MANAGER_EMAIL = b"fekla.soboleva@example.com"  # a data value of stores.csv: never in an event


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append(json.loads(body or b"{}"))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def webhook() -> Iterator[str]:
    """A real HTTP endpoint on loopback that records what notification blocks post to it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def _events(name: str, resource_id: str, since: datetime, *, at_least: int = 1) -> list[Event]:
    """Events of this name about this resource since `since`, once `at_least` of them have arrived."""
    query = EventFilter(
        event=EventNameFilter(name=[name]),
        resource=EventResourceFilter(id=[resource_id]),
        occurred=EventOccurredFilter(since=since, until=datetime.now(UTC) + timedelta(days=30)),
    )
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with get_client(sync_client=True) as client:
            events = client.read_events(filter=query, limit=50).events
        if len(events) >= at_least or time.monotonic() > deadline:
            return events
        time.sleep(1)


def _create_example_automation(block_id: uuid.UUID, tmp_path: Path) -> str:
    """The shipped file, with a real block id, through ``prefect automation create --from-file``."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert PLACEHOLDER in text
    name = f"lockgate-notify-{uuid.uuid4().hex[:6]}"
    filled = text.replace(PLACEHOLDER, str(block_id)).replace(
        "name: lockgate-notify-on-stop-line", f"name: {name}"
    )
    path = tmp_path / "notify.yaml"
    path.write_text(filled, encoding="utf-8")
    prefect = Path(sys.executable).with_name("prefect")
    done = subprocess.run(
        [str(prefect), "automation", "create", "--from-file", str(path)],
        env={**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Created automation '{name}'" in done.stdout
    return name


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory: pytest.TempPathFactory, webhook: str) -> tuple[Path, str, str, datetime]:
    """The example automation in place, then one ingest of stores that stops the line (duplicate ids)."""
    root = tmp_path_factory.mktemp("events")
    block_id = CustomWebhookNotificationBlock(
        name="lockgate-test", url=webhook, json_data={"subject": "{{subject}}", "body": "{{body}}"}
    ).save(f"lockgate-test-{uuid.uuid4().hex[:6]}")
    _create_example_automation(block_id, root)
    catalog = Path(shutil.copytree(REPO / "examples" / "catalog", root / "catalog"))
    data = catalog / "data" / "stores.csv"
    data.write_bytes(data.read_bytes().replace(b"\n2;", b"\n1;", 1))  # store_id must be unique
    lake = str(root / "lake")
    since = datetime.now(UTC) - timedelta(seconds=5)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCKGATE_HASH_KEY", HASH_KEY)
        with pytest.raises(RunFailed) as info:
            ingest(catalog=str(catalog), lake=lake, sources=["stores"])
    return catalog, lake, info.value.run.run_id, since


def test_a_stop_line_is_a_stopped_event_naming_source_owner_and_sensitivity(
    stopped_run: tuple[Path, str, str, datetime],
) -> None:
    _, _, run_id, since = stopped_run
    [event] = _events("lockgate.source.stopped", "lockgate.source.stores", since)
    assert dict(event.resource) == {
        "prefect.resource.id": "lockgate.source.stores",
        "prefect.resource.name": "stores",
        "lockgate.owner": "realestate-owner@example.com",
        "lockgate.steward": "realestate-steward@example.com",
        "lockgate.sensitivity": "confidential",
        "lockgate.run-id": run_id,
    }
    payload = event.payload
    assert payload["status"] == "stopped" and payload["rows_in"] == 50 and payload["rows_out"] is None
    assert payload["blocking_rules_failed"] and payload["rules_failed"] >= 1
    assert any(r.id.startswith("prefect.flow-run.") for r in event.related)  # the run it happened in
    assert MANAGER_EMAIL.decode() not in event.model_dump_json()  # counts and names, never data


def test_the_example_automation_notifies_on_the_stop_line(
    stopped_run: tuple[Path, str, str, datetime],
) -> None:
    run_id = stopped_run[2]
    deadline = time.monotonic() + WAIT_SECONDS
    while not any(run_id in m.get("body", "") for m in _Hook.received) and time.monotonic() < deadline:
        time.sleep(1)
    [message] = [m for m in _Hook.received if run_id in m.get("body", "")]
    assert message["subject"] == "Lockgate stop-line: stores"
    assert "Owner: realestate-owner@example.com (sensitivity confidential)" in message["body"]
    assert "Blocking rules failed: " in message["body"] and "none" not in message["body"]


def test_late_is_announced_once_per_missed_due_time(stopped_run: tuple[Path, str, str, datetime]) -> None:
    catalog, lake, run_id, since = stopped_run
    [record] = read_runs(open_store(lake), "stores")
    # stores never succeeded: it is due at the first weekly time after its first run.
    first_due = croniter("0 3 * * 1", record.finished_at).get_next(datetime)
    first = freshness(catalog=str(catalog), lake=lake, now=first_due + timedelta(hours=2))
    again = freshness(catalog=str(catalog), lake=lake, now=first_due + timedelta(hours=3))
    next_week = freshness(catalog=str(catalog), lake=lake, now=first_due + timedelta(days=7, hours=2))

    lines = [{s.source: s for s in report.sources} for report in (first, again, next_week)]
    assert [line["stores"].announced for line in lines] == [True, False, True]
    assert [line["stores"].missed_due for line in lines] == [
        first_due,
        first_due,
        first_due + timedelta(days=7),
    ]
    for line in lines:  # never run: not late, never announced
        assert line["customers"].freshness.value == "never run" and not line["customers"].announced

    events = _events("lockgate.source.late", "lockgate.source.stores", since, at_least=2)
    assert sorted(e.payload["missed_due"] for e in events) == [
        first_due.isoformat(),
        (first_due + timedelta(days=7)).isoformat(),
    ]
    assert {e.resource["lockgate.owner"] for e in events} == {"realestate-owner@example.com"}
    assert all(e.payload["last_run_id"] == run_id and e.payload["last_success_at"] is None for e in events)
    assert "| stores | realestate-owner@example.com | late |" in latest_artifact("lockgate-freshness")


def test_freshness_is_scheduled_beside_ingest_and_retention(tmp_path: Path) -> None:
    deployments = {d.name: d for d in scheduled_deployments(REPO / "examples" / "catalog", str(tmp_path))}
    check = deployments[FRESHNESS_DEPLOYMENT]
    assert [s.schedule.cron for s in check.schedules] == [FRESHNESS_CRON]
    runs = croniter(FRESHNESS_CRON, datetime(2026, 1, 1, tzinfo=UTC))
    assert runs.get_next(datetime) + timedelta(minutes=15) == runs.get_next(datetime)
    assert check.parameters == {
        "catalog": str((REPO / "examples" / "catalog").resolve()),
        "lake": str(tmp_path),
    }
    assert check.concurrency_limit == 1 and check.tags == ["lockgate", "freshness"]
