"""Reading back what a flow run left in the Prefect API: artifacts and task-run attempts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
    TaskRunFilter,
    TaskRunFilterName,
)
from prefect.client.schemas.sorting import ArtifactSort

if TYPE_CHECKING:
    from prefect.states import State


def latest_artifact(key: str) -> str:
    """The newest artifact with this key (its markdown or table data); fails when there is none."""
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    assert artifacts, f"no artifact {key}"
    return str(artifacts[0].data)


def task_run_counts(flow_state: State, task_name: str) -> list[int]:
    """How many times each run of `task_name` in that flow run was attempted (1 + retries)."""
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_state.state_details.flow_run_id])),
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=task_name)),
        )
    return [r.run_count for r in runs]
