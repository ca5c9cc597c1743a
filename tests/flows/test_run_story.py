"""What the Prefect UI shows of an ingest run, read back from a real Prefect API: the flow run's final
state and tags, its task runs' states and tags, and its artifacts (one table for the run, one report per
source whose headline names what stopped it)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
)
from testkit.catalog_fixtures import read_customers, rewrite_customers

from contracts.expectations import all_rules
from flows.errors import RunFailed
from flows.outcome import PARTIAL
from flows.pipeline import ingest
from flows.reports import RUN_TABLE_COLUMNS
from flows.results import RunResult, SourceStatus
from flows.tags import source_tags
from sources.catalog import load_catalog

if TYPE_CHECKING:
    from pathlib import Path
    from uuid import UUID

    from prefect.client.schemas.objects import FlowRun, State, TaskRun

pytestmark = pytest.mark.usefixtures("prefect_api")


def _flow_run(state: State[Any]) -> FlowRun:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(_id(state))


def _id(state: State[Any]) -> UUID:
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    return flow_run_id


def _task_runs(state: State[Any]) -> list[TaskRun]:
    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[_id(state)])), limit=200
        )


def _artifact(state: State[Any], key: str) -> str:
    """This flow run's artifact `key` (its Markdown, or its table as JSON)."""
    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[_id(state)]), key=ArtifactFilterKey(any_=[key])
            )
        )
    return str(artifact.data)


def _forget_comment_pii(catalog: Path) -> None:
    """The owner forgets that customers' free-text comments carry personal data: the PII gate stops it."""
    path = catalog / "contracts" / "customers.yaml"
    text = path.read_text(encoding="utf-8")
    forgotten = text.replace("        pii: free_text\n        masking: redact_pii\n", "")
    assert forgotten != text
    path.write_text(forgotten, encoding="utf-8")


def test_a_partly_published_run_says_so_in_its_state_tags_and_artifacts(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    _forget_comment_pii(catalog)
    state = ingest(
        catalog=str(catalog), lake=str(tmp_path / "lake"), sources=["customers", "stores"], return_state=True
    )

    # The final state: failed, named for what happened, the sources counted and the stopped one named.
    assert state.is_failed()
    assert state.name == PARTIAL
    assert state.message == "1 of 2 sources published; stopped: customers (PII)"
    error = state.result(raise_on_failure=False)
    assert isinstance(error, RunFailed)  # the command line still gets the whole run from it
    assert [r.status for r in error.run.sources] == [SourceStatus.STOPPED, SourceStatus.PUBLISHED]
    flow_run = _flow_run(state)
    assert flow_run.state is not None
    assert (flow_run.state.name, flow_run.state.message) == (PARTIAL, state.message)

    # Tags: the flow run carries both sources' passport tags; task runs carry none (`flows.tags`).
    sources = {s.name: s for s in load_catalog(catalog).sources}
    customers_tags, stores_tags = source_tags(sources["customers"]), source_tags(sources["stores"])
    assert customers_tags[:2] == ["lockgate", "source:customers"]
    assert f"owner:{sources['customers'].passport.owner}" in customers_tags
    assert f"sensitivity:{sources['customers'].passport.sensitivity.value}" in customers_tags
    assert set(sources["customers"].passport.tags) <= set(customers_tags)
    assert set(customers_tags) | set(stores_tags) <= set(flow_run.tags)
    task_runs = _task_runs(state)
    assert task_runs
    assert all(task_run.tags == [] for task_run in task_runs), [t.tags for t in task_runs]

    # The stop-line ends the source at the PII gate: no later step was started, none is left waiting.
    names = {t.name: t for t in task_runs}
    assert names["pii-gate[customers]"].state_name == "Failed"
    assert "publish[customers]" not in names and "publish[stores]" in names
    assert [t.name for t in task_runs if t.state is None or not t.state.is_final()] == []

    # One table for the run, a row per source, and each source's report headline names the cause.
    rows = {row["source"]: row for row in json.loads(_artifact(state, "lockgate-run"))}
    assert set(rows) == {"customers", "stores"}
    assert all(list(row) == list(RUN_TABLE_COLUMNS) for row in rows.values())
    customers, stores = rows["customers"], rows["stores"]
    assert (customers["status"], customers["stop cause"], customers["version"]) == ("stopped", "PII", None)
    assert customers["rows in"] == len(read_customers(catalog)) and customers["rows out"] is None
    assert (stores["status"], stores["stop cause"], stores["version"], stores["rows out"]) == (
        "published",
        None,
        0,
        50,
    )
    checks = len(all_rules(sources["stores"].contract))  # each check once (`all_rules`)
    assert stores["release"] and stores["rules"] == f"{checks}/{checks}"
    report = _artifact(state, "lockgate-customers")
    assert "**⛔ stop-line: personal data in clear, curated layer untouched**" in report
    assert "blocking rules failed" not in report


def test_a_run_where_no_source_publishes_fails_and_names_the_schema_cause(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    rewrite_customers(catalog, {4: {"signup_date": "31/12/2023"}})
    state = ingest(
        catalog=str(catalog), lake=str(tmp_path / "lake"), sources=["customers"], return_state=True
    )

    assert (state.type.value, state.name) == ("FAILED", "Failed")
    assert state.message == "0 of 1 source published; stopped: customers (schema)"
    with pytest.raises(RunFailed):  # called plainly, the flow raises the run's error as before
        state.result()
    assert [t.name for t in _task_runs(state) if t.state is None or not t.state.is_final()] == []
    report = _artifact(state, "lockgate-customers")
    assert "**⛔ stop-line: blocking schema issues, curated layer untouched**" in report
    [row] = json.loads(_artifact(state, "lockgate-run"))
    assert (row["status"], row["stop cause"], row["rules"]) == ("stopped", "schema", None)


def test_a_run_where_every_source_publishes_completes_with_its_count(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    lake = str(tmp_path / "lake")
    state = ingest(catalog=str(catalog), lake=lake, sources=["stores"], return_state=True)
    assert (state.is_completed(), state.name, state.message) == (True, "Completed", "1 of 1 source published")
    run = state.result()
    assert isinstance(run, RunResult) and run.ok

    again = ingest(catalog=str(catalog), lake=lake, sources=["stores"], return_state=True)
    assert again.is_completed()
    assert again.message == "1 of 1 source published or unchanged"
    [row] = json.loads(_artifact(again, "lockgate-run"))
    assert (row["status"], row["version"], row["rows out"]) == ("unchanged", 0, None)
    assert "source:stores" in _flow_run(again).tags
