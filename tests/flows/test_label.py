"""The labeling flows end to end: ingest → dispatch to a real Label Studio → annotate → collect → gate.

Everything is real: the example catalog goes through the ingest flow into a lake, the sample goes to a
Label Studio server started for the session, annotations are posted by several users (as the admin
with ``completed_by``), and the flows run under a real Prefect API.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import polars as pl
import pytest
from testkit.prefect_reads import latest_artifact, task_run_counts
from typer.testing import CliRunner

from cli.app import app
from flows import label as labeling_flows
from flows.label import label_collect, label_dispatch
from flows.pipeline import ingest
from labeling.server import TOKEN_ENV, URL_ENV
from storage import layout
from storage.curated import current_version, read_current
from storage.roles import read_manifest
from storage.store import open_store
from storage.warehouse import query

if TYPE_CHECKING:
    from pathlib import Path

    from label_studio_sdk import LabelStudio

    from labeling.server import LabelStudioServer
    from labeling.studio import Studio

pytestmark = pytest.mark.usefixtures("prefect_api")

PLAN = "support_topics"
TOPIC_BY_SUBJECT_START = {
    "Не проходит": "payment",
    "Card payment": "payment",
    "Вопрос по доставке": "delivery",
    "Where is": "delivery",
    "Изменение адреса": "delivery",
    "Change of delivery": "delivery",
    "Возврат": "return",
    "Return": "return",
    "Товар пришёл": "return",
    "Item arrived": "return",
    "Не приходит код": "account",
    "Verification": "account",
    "Ошибка в чеке": "receipt",
    "Wrong amount": "receipt",
    "Не начислены": "loyalty",
    "Loyalty": "loyalty",
}


def _topic(subject: str) -> str:
    return next((t for start, t in TOPIC_BY_SUBJECT_START.items() if subject.startswith(start)), "other")


@pytest.fixture
def studio_env(label_studio: LabelStudioServer, monkeypatch: pytest.MonkeyPatch) -> LabelStudioServer:
    monkeypatch.setenv(URL_ENV, label_studio.url)
    monkeypatch.setenv(TOKEN_ENV, label_studio.token)
    return label_studio


@pytest.fixture
def sdk(label_studio: LabelStudioServer) -> LabelStudio:
    from label_studio_sdk import LabelStudio

    return LabelStudio(base_url=label_studio.url, api_key=label_studio.token)


@pytest.fixture
def own_plan(catalog: Path) -> Path:
    """The example plan under a name of this test's own, so tests sharing the server never meet."""
    plan = catalog / "labeling" / "support_topics.yaml"
    plan.write_text(
        plan.read_text(encoding="utf-8").replace(f"name: {PLAN}", f"name: t{uuid.uuid4().hex[:10]}")
    )
    return plan


def _plan_name(plan: Path) -> str:
    return next(line.split(": ")[1] for line in plan.read_text().splitlines() if line.startswith("name: "))


def _ingest(catalog: Path, lake: Path) -> None:
    ingest(catalog=str(catalog), lake=str(lake), sources=["support_tickets"])


def _annotate(sdk: LabelStudio, project_id: int, users: list[int], vote: dict[str, list[str]]) -> None:
    """Each user's label for each task, posted as the admin on the user's behalf."""
    for task in sdk.tasks.list(project=project_id, fields="all"):
        for user, label in zip(users, vote[task.data["lockgate_key"]], strict=True):
            sdk.annotations.create(
                id=task.id,
                completed_by=user,
                result=[
                    {
                        "from_name": "topic",
                        "to_name": "body",
                        "type": "choices",
                        "value": {"choices": [label]},
                    }
                ],
            )


def _users(sdk: LabelStudio, n: int) -> tuple[list[int], list[str]]:
    emails = [f"annotator{i}-{uuid.uuid4().hex[:6]}@lockgate.test" for i in range(n)]
    return [int(sdk.users.create(username=e, email=e).id) for e in emails], emails


def test_dispatch_collect_gate_publish_and_review(
    catalog: Path,
    own_plan: Path,
    tmp_path: Path,
    hash_key: bytes,
    studio_env: LabelStudioServer,
    sdk: LabelStudio,
    studio: Studio,
) -> None:
    lake = tmp_path / "lake"
    _ingest(catalog, lake)
    name = _plan_name(own_plan)

    [first] = label_dispatch(catalog=str(catalog), lake=str(lake), plans=[name])
    assert first.sampled == 65 and first.created == 65 and first.skipped == 0  # 60 drawn + 5 gold not drawn
    assert first.curated_version == 0 and first.gold_included == 6
    [again] = label_dispatch(catalog=str(catalog), lake=str(lake), plans=[name])
    assert (again.created, again.skipped, again.project_id) == (0, 65, first.project_id)

    # Annotators see curated (masked) text only: no raw ticket body reaches Label Studio.
    curated = read_current(open_store(str(lake)), "support_tickets")
    raw = pl.read_ndjson(catalog / "data" / "support_tickets.ndjson")
    tasks = {t.data["lockgate_key"]: t.data for t in sdk.tasks.list(project=first.project_id, fields="all")}
    masked = dict(zip(curated["ticket_id"], curated["body"], strict=True))
    assert all(data["body"] == masked[key] for key, data in tasks.items())
    planted = raw.filter(pl.col("body").str.contains("@"))["body"].to_list()
    assert planted and not any(b in {d["body"] for d in tasks.values()} for b in planted)

    # Three annotators: agree on most tickets, split 2:1 on some, split three ways on three.
    users, emails = _users(sdk, 3)
    keys = sorted(tasks)
    vote = {k: [_topic(tasks[k]["subject"])] * 3 for k in keys}
    two_one, three_way = keys[:6], keys[6:9]
    for k in two_one:
        vote[k][2] = "other" if vote[k][0] != "other" else "payment"
    for k in three_way:
        vote[k] = ["payment", "delivery", "return"]
    _annotate(sdk, first.project_id, users, vote)

    [result] = label_collect(catalog=str(catalog), lake=str(lake), plans=[name])
    assert result.annotations == 65 * 3
    assert result.verdict == "accept", result
    assert result.krippendorff_alpha is not None and result.krippendorff_alpha >= 0.8
    assert result.items == {"pending": 0, "accepted": 62, "review": 3, "rejected": 0}
    assert result.published and result.labels_version == 0
    assert result.review_created == 3
    assert set(result.gold) == {f"annotator-{u}" for u in users}
    assert all(score["items"] == 6 for score in result.gold.values())

    store = open_store(str(lake))
    labels = read_current(store, "labels_support_tickets")
    assert labels.height == 62
    assert set(labels.columns) >= {"ticket_id", "label", "votes", "annotations", "share", "curated_version"}
    expected = {k: _topic(tasks[k]["subject"]) for k in keys if k not in three_way}
    assert dict(zip(labels["ticket_id"], labels["label"], strict=True)) == expected
    assert labels.filter(pl.col("ticket_id").is_in(two_one))["votes"].to_list() == [2] * 6
    meta = current_version(store, "labels_support_tickets")
    assert meta is not None
    report = json.loads(store.get_bytes(meta.attachment_key("agreement.json")))
    assert report["verdict"] == "accept" and report["agreement"]["annotators"] == 3
    warehouse = query(layout.warehouse_path(str(lake)), "SELECT count(*) AS n FROM labels_support_tickets")
    assert warehouse["n"][0] == 62
    # The role outputs were rebuilt: analysts read the new labels, annotators label on their own.
    assert read_manifest(store, "analyst").datasets["labels_support_tickets"].version == 0
    assert "labels_support_tickets" in read_manifest(store, "annotator").denied

    # Disagreements went to the review project, each with the candidate labels as predictions.
    review = studio.find_project(f"{name} v1 — review")
    assert review is not None
    reviewed = list(sdk.tasks.list(project=review.id, fields="all"))
    assert sorted(t.data["lockgate_key"] for t in reviewed) == sorted(three_way)
    assert all(len(t.predictions) == 3 for t in reviewed)

    # Annotators are people: no e-mail in the labels, their report or the Prefect artifact.
    artifact = latest_artifact(f"lockgate-labels-{name.replace('_', '-')}")
    assert "verdict: accept" in artifact
    stored = labels.write_csv() + json.dumps(report) + artifact
    assert not any(email in stored for email in emails)

    # Same annotations again: nothing new is published, nothing new goes to review.
    [same] = label_collect(catalog=str(catalog), lake=str(lake), plans=[name])
    assert (same.labels_version, same.published, same.review_created) == (0, False, 0)


def test_an_unreliable_batch_is_rejected_and_publishes_nothing(
    catalog: Path,
    own_plan: Path,
    tmp_path: Path,
    hash_key: bytes,
    studio_env: LabelStudioServer,
    sdk: LabelStudio,
) -> None:
    lake = tmp_path / "lake"
    _ingest(catalog, lake)
    name = _plan_name(own_plan)
    text = own_plan.read_text().replace("size: 60", "size: 12").replace("overlap: 3", "overlap: 2")
    own_plan.write_text(text.replace("gold:\n  path: labeling/support_topics_gold.csv", ""))
    [sent] = label_dispatch(catalog=str(catalog), lake=str(lake), plans=[name])
    assert sent.created == 12
    users, _ = _users(sdk, 2)
    topics = ["payment", "delivery", "return", "account"]
    keys = sorted(t.data["lockgate_key"] for t in sdk.tasks.list(project=sent.project_id, fields="all"))
    # Two annotators who label independently of the text: their agreement is at chance level.
    vote = {k: [topics[i % 4], topics[(i * 3 + 1) % 4]] for i, k in enumerate(keys)}
    _annotate(sdk, sent.project_id, users, vote)

    [result] = label_collect(catalog=str(catalog), lake=str(lake), plans=[name])
    assert result.verdict == "reject"
    assert result.krippendorff_alpha is not None and result.krippendorff_alpha < 0.667
    assert result.items["accepted"] == 0 and result.items["rejected"] == 12
    assert result.labels_version is None and not result.published
    assert current_version(open_store(str(lake)), "labels_support_tickets") is None


def test_label_studio_unreachable_is_retried_then_a_clear_failure(
    catalog: Path, tmp_path: Path, hash_key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = tmp_path / "lake"
    _ingest(catalog, lake)
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:9")  # discard port: nothing listens
    monkeypatch.setenv(TOKEN_ENV, "0" * 40)
    monkeypatch.setattr(
        labeling_flows,
        "ensure_project_task",
        labeling_flows.ensure_project_task.with_options(retry_delay_seconds=0),
    )

    state = label_dispatch(catalog=str(catalog), lake=str(lake), return_state=True)
    assert state.is_failed()
    error = str(state.result(raise_on_failure=False))
    assert "Label Studio at http://127.0.0.1:9" in error and "unreachable" in error
    assert "0" * 40 not in error
    assert task_run_counts(state, "ensure-project") == [labeling_flows.STUDIO_RETRIES + 1]


def test_collecting_an_undispatched_plan_fails_at_once(
    catalog: Path, own_plan: Path, tmp_path: Path, studio_env: LabelStudioServer
) -> None:
    state = label_collect(
        catalog=str(catalog), lake=str(tmp_path / "lake"), plans=[_plan_name(own_plan)], return_state=True
    )
    assert state.is_failed()
    assert "dispatch first" in str(state.result(raise_on_failure=False))
    assert task_run_counts(state, "pull-annotations") == [1]  # a plan mistake is not retried


def test_cli_verbs(
    catalog: Path, own_plan: Path, tmp_path: Path, hash_key: bytes, studio_env: LabelStudioServer
) -> None:
    lake = tmp_path / "lake"
    _ingest(catalog, lake)
    name = _plan_name(own_plan)
    runner = CliRunner(env={"COLUMNS": "200"})  # wide enough that rich does not wrap table cells
    args = ["--catalog", str(catalog), "--lake", str(lake), "--plan", name]
    status = runner.invoke(app, ["label", "status", *args])
    assert status.exit_code == 0, status.output
    assert "not dispatched" in status.output
    dispatched = runner.invoke(app, ["label", "dispatch", *args])
    assert dispatched.exit_code == 0, dispatched.output
    assert "65" in dispatched.output and "/projects/" in dispatched.output
    status = runner.invoke(app, ["label", "status", *args])
    assert status.exit_code == 0 and "65" in status.output and "(overlap 3)" in status.output
    collected = runner.invoke(app, ["label", "collect", *args])
    assert collected.exit_code == 0, collected.output
    assert "insufficient" in collected.output  # nobody has annotated yet: all 65 tasks pending
    assert "│ 65      │" in collected.output
    unknown = runner.invoke(
        app, ["label", "collect", "--catalog", str(catalog), "--lake", str(lake), "--plan", "nope"]
    )
    assert unknown.exit_code == 1 and "unknown labeling plan" in unknown.output
