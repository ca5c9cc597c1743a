"""Erasure's part in Label Studio: deleting the tasks built from a subject's rows, against a real server."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from label_studio_sdk.core.api_error import ApiError

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

    from labeling.server import LabelStudioServer
    from labeling.studio import Studio

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="topic" toName="text" choice="single"><Choice value="a"/><Choice value="b"/></Choices>
</View>"""


def test_tasks_of_erased_rows_go_with_their_annotations(
    studio: Studio, label_studio: LabelStudioServer
) -> None:
    from label_studio_sdk import LabelStudio

    sdk: LabelStudio = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    project = studio.ensure_project(f"erase {uuid.uuid4().hex[:8]}", CONFIG, overlap=1)
    imported = studio.import_tasks(
        project.id, [{"data": {"text": f"row {k}", "lockgate_key": k}} for k in ("T-1", "T-2", "T-3")]
    )
    # A second task with an erased key (as a re-import under another version would leave): both go.
    sdk.projects.import_tasks(project.id, request=[{"data": {"text": "again", "lockgate_key": "T-2"}}])
    annotation = sdk.annotations.create(
        id=imported.task_ids["T-2"],
        result=[{"from_name": "topic", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}],
    )
    wanted = {"T-2", "T-9"}

    found = studio.delete_tasks(project.id, wanted, dry_run=True)
    assert len(found) == 2 and imported.task_ids["T-2"] in found
    assert len(studio.task_keys(project.id)) == 3  # a dry run deletes nothing

    assert studio.delete_tasks(project.id, wanted) == found
    left = list(sdk.tasks.list(project=project.id, fields="all"))
    assert sorted(t.data["lockgate_key"] for t in left) == ["T-1", "T-3"]
    with pytest.raises(ApiError) as gone:
        sdk.annotations.get(int(annotation.id or 0))
    assert gone.value.status_code == 404
    assert studio.delete_tasks(project.id, wanted) == []  # nothing left to delete: idempotent
    assert studio.delete_tasks(project.id, set()) == []
