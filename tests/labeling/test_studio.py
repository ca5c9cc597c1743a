"""The Label Studio client against a real server (the session's `label_studio`), plus its pure parts."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from labeling.errors import StudioError
from labeling.server import free_port
from labeling.studio import (
    ANNOTATION_SCHEMA,
    REVIEW_SUFFIX,
    ReviewItem,
    Studio,
    _error_detail,
    _prediction_value,
    label_from_result,
)

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

    from labeling.server import LabelStudioServer

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="pos"/><Choice value="neg"/><Choice value="neu"/>
  </Choices>
</View>"""
CONFIG_WITH_RATING = CONFIG.replace(
    "</View>", '  <Rating name="quality" toName="text" maxRating="5"/>\n</View>'
)


def _title(what: str) -> str:
    return f"{what} {uuid.uuid4().hex[:8]}"


def _choice(label: str, from_name: str = "sentiment") -> list[dict]:
    return [{"from_name": from_name, "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


@pytest.fixture
def sdk(label_studio: LabelStudioServer) -> LabelStudio:
    from label_studio_sdk import LabelStudio

    return LabelStudio(base_url=label_studio.url, api_key=label_studio.token)


def _user(sdk: LabelStudio, name: str) -> int:
    email = f"{name}-{uuid.uuid4().hex[:6]}@lockgate.test"
    return int(sdk.users.create(username=email, email=email).id)


# -- pure ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (_choice("pos"), "pos"),
        ([{"from_name": "sentiment", "type": "choices", "value": {"choices": ["b", "a"]}}], "a|b"),
        ([{"from_name": "sentiment", "type": "rating", "value": {"rating": 4}}], "4"),
        ([{"from_name": "sentiment", "type": "number", "value": {"number": 3.0}}], "3"),
        ([{"from_name": "sentiment", "type": "number", "value": {"number": 2.5}}], "2.5"),
        (
            [
                {
                    "from_name": "sentiment",
                    "type": "labels",
                    "value": {"start": 0, "end": 3, "labels": ["PER"]},
                },
                {
                    "from_name": "sentiment",
                    "type": "labels",
                    "value": {"start": 5, "end": 9, "labels": ["LOC"]},
                },
                {
                    "from_name": "sentiment",
                    "type": "labels",
                    "value": {"start": 9, "end": 12, "labels": ["PER"]},
                },
            ],
            "LOC|PER",
        ),
        (
            [{"from_name": "sentiment", "type": "taxonomy", "value": {"taxonomy": [["a", "b"], ["c"]]}}],
            "a/b|c",
        ),
        ([{"from_name": "sentiment", "type": "textarea", "value": {"text": ["one", "two"]}}], "one\ntwo"),
        ([{"from_name": "sentiment", "value": {"choices": ["neg"]}}], "neg"),  # no type: guessed from value
        (_choice("pos", from_name="other"), None),  # another control
        ([], None),
    ],
)
def test_label_from_result(result: list[dict], expected: str | None) -> None:
    assert label_from_result(result, "sentiment") == expected


@pytest.mark.parametrize(
    ("tag", "label"),
    [("choices", "pos"), ("choices", "a|b"), ("rating", "4"), ("number", "2.5"), ("taxonomy", "a/b|c")],
)
def test_prediction_values_read_back_as_the_same_label(tag: str, label: str) -> None:
    result = [{"from_name": "x", "type": tag, "value": _prediction_value(tag, label)}]
    assert label_from_result(result, "x") == label


def test_span_labels_cannot_be_review_predictions() -> None:
    with pytest.raises(StudioError, match="Choices"):
        _prediction_value("labels", "PER")


def test_error_detail_drops_echoed_task_data() -> None:
    body = {
        "detail": "Validation error",
        "validation_errors": {
            "non_field_errors": [{}, "Error at item 1: \"text\" key is expected :: {'data': {'secret': 'x'}}"]
        },
    }
    assert _error_detail(body) == 'Error at item 1: "text" key is expected'


def test_studio_repr_hides_the_token() -> None:
    token = "f" * 40
    assert token not in repr(Studio("http://127.0.0.1:1", token))


# -- errors --------------------------------------------------------------------------------------------


def test_unreachable_server_fails_fast_with_a_clear_message() -> None:
    token = uuid.uuid4().hex
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(StudioError) as caught:
        Studio(url, token, timeout=5).ensure_project("x", CONFIG, overlap=1)
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert url in message and "unreachable" in message and "looking up project 'x'" in message
    assert token not in message


def test_wrong_token_is_a_clear_error(label_studio: LabelStudioServer) -> None:
    token = "0" * 40
    with pytest.raises(StudioError) as caught:
        Studio(label_studio.url, token).invite_link()
    message = str(caught.value)
    assert "401" in message and "token was rejected" in message and label_studio.url in message
    assert token not in message and label_studio.token not in message


def test_unknown_project_is_an_error(studio: Studio) -> None:
    with pytest.raises(StudioError, match="reading project 999999 failed \\(404"):
        studio.annotations(999999, from_name="sentiment")


# -- projects ------------------------------------------------------------------------------------------


def test_ensure_project_is_idempotent_and_applies_changes(studio: Studio, sdk: LabelStudio) -> None:
    title = _title("Sentiment")
    first = studio.ensure_project(title, CONFIG, overlap=3, description="first")
    again = studio.ensure_project(title, CONFIG, overlap=3, description="first")
    assert again == first
    assert (first.title, first.overlap, first.description) == (title, 3, "first")
    assert first.url == f"{studio.url}/projects/{first.id}/"
    raw = sdk.projects.get(first.id)
    assert raw.maximum_annotations == 3 and raw.overlap_cohort_percentage == 100
    assert raw.show_skip_button is False and raw.show_collab_predictions is False

    # A project whose title merely contains ours is not ours.
    other = studio.ensure_project(title + " extra", CONFIG, overlap=1)
    assert other.id != first.id

    changed = studio.ensure_project(title, CONFIG_WITH_RATING, overlap=2, description="second")
    assert changed.id == first.id
    assert (changed.overlap, changed.description) == (2, "second")
    assert "quality" in changed.label_config
    assert sdk.projects.get(first.id).maximum_annotations == 2
    assert studio.find_project(title) == changed


def test_a_config_the_server_rejects_is_a_studio_error(studio: Studio) -> None:
    with pytest.raises(StudioError, match="creating project"):
        studio.ensure_project(_title("Broken"), "<View><Choices name='c'/></View>", overlap=1)


# -- tasks ---------------------------------------------------------------------------------------------


def test_import_skips_keys_already_there(studio: Studio) -> None:
    project = studio.ensure_project(_title("Import"), CONFIG, overlap=1)
    tasks = [{"data": {"text": f"t{i}", "lockgate_key": f"k{i}"}} for i in range(3)]

    first = studio.import_tasks(project.id, tasks)
    assert (first.created, first.skipped) == (3, 0)
    assert list(first.task_ids) == ["k0", "k1", "k2"]

    again = studio.import_tasks(project.id, tasks)
    assert (again.created, again.skipped) == (0, 3)
    assert again.task_ids == first.task_ids

    more = studio.import_tasks(project.id, [*tasks, {"data": {"text": "t3", "lockgate_key": "k3"}}])
    assert (more.created, more.skipped) == (1, 3)
    assert {k: more.task_ids[k] for k in first.task_ids} == dict(first.task_ids)
    assert studio.task_keys(project.id) == dict(more.task_ids)
    [only] = studio.import_tasks(project.id, [tasks[0]])
    assert only == first.task_ids["k0"]


def test_import_needs_unique_keys(studio: Studio) -> None:
    project = studio.ensure_project(_title("Keys"), CONFIG, overlap=1)
    with pytest.raises(ValueError, match="lockgate_key"):
        studio.import_tasks(project.id, [{"data": {"text": "no key"}}])
    with pytest.raises(ValueError, match="duplicate"):
        studio.import_tasks(project.id, [{"data": {"text": "a", "lockgate_key": "same"}}] * 2)


def test_a_rejected_import_creates_nothing(studio: Studio) -> None:
    """Label Studio validates the whole request before writing: one bad task, no task at all."""
    project = studio.ensure_project(_title("Atomic"), CONFIG, overlap=1)
    tasks = [
        {"data": {"text": "fine", "lockgate_key": "a"}},
        {"data": {"body": "private words", "lockgate_key": "b"}},  # the config reads $text
    ]
    with pytest.raises(StudioError) as caught:
        studio.import_tasks(project.id, tasks)
    message = str(caught.value)
    assert "importing 2 tasks into project" in message and '"text" key is expected' in message
    assert "private words" not in message
    assert studio.task_keys(project.id) == {}
    assert studio.import_tasks(project.id, tasks[:1]).created == 1


# -- annotations ---------------------------------------------------------------------------------------


def test_annotations_long_form_over_several_pages(label_studio: LabelStudioServer, sdk: LabelStudio) -> None:
    studio = Studio(label_studio.url, label_studio.token, page_size=7)  # 20 tasks: three pages
    project = studio.ensure_project(_title("Votes"), CONFIG, overlap=2)
    tasks = [
        {"data": {"text": f"text {i}", "lockgate_key": f"item-{i:02d}", "lockgate_version": 3}}
        for i in range(20)
    ]
    ids = studio.import_tasks(project.id, tasks).task_ids
    users = {name: _user(sdk, name) for name in ("ann", "bob", "cy")}
    emails = {user.id: user.email for user in sdk.users.list()}

    expected = []
    for i, key in enumerate(ids):
        if i >= 18:  # the last two stay unlabeled
            break
        voters = ["ann", "bob"] if i % 2 == 0 else ["bob", "cy"]
        for n, voter in enumerate(voters):
            label = ["pos", "neg", "neu"][(i + n) % 3] if i % 4 == 3 else "pos"
            ann = sdk.annotations.create(id=ids[key], completed_by=users[voter], result=_choice(label))
            expected.append((ids[key], key, emails[users[voter]], users[voter], label, int(ann.id)))
    # A skipped (cancelled) annotation is not a vote.
    sdk.annotations.create(id=ids["item-18"], completed_by=users["cy"], result=[], was_cancelled=True)

    frame = studio.annotations(project.id, from_name="sentiment")
    assert frame.schema == pl.Schema(ANNOTATION_SCHEMA)
    assert frame["created_at"].null_count() == 0
    assert frame["created_at"].min() > datetime(2020, 1, 1, tzinfo=UTC)
    want = pl.DataFrame(
        expected,
        schema=["task_id", "item_id", "annotator", "annotator_id", "label", "annotation_id"],
        orient="row",
    ).with_columns(pl.lit("3").alias("lockgate_version"))
    assert_frame_equal(frame.drop("created_at"), want, check_dtypes=False)
    assert frame.height == 36 and frame["item_id"].n_unique() == 18

    counts = studio.task_counts(project.id)
    assert counts == {
        "tasks": 20,
        "annotated": 18,
        "complete": 18,
        "annotations": 36,
        "cancelled": 1,
        "overlap": 2,
    }


def test_annotations_of_an_empty_project(studio: Studio) -> None:
    project = studio.ensure_project(_title("Empty"), CONFIG, overlap=1)
    frame = studio.annotations(project.id, from_name="sentiment")
    assert frame.is_empty() and frame.schema == pl.Schema(ANNOTATION_SCHEMA)
    assert studio.task_counts(project.id)["tasks"] == 0


# -- review and people ---------------------------------------------------------------------------------


def test_review_project_shows_the_candidates_as_predictions(studio: Studio, sdk: LabelStudio) -> None:
    project = studio.ensure_project(_title("Disputed"), CONFIG, overlap=3)
    review = studio.ensure_review_project(project.id)
    assert review.title == project.title + REVIEW_SUFFIX
    assert review.overlap == 1 and review.label_config == project.label_config
    assert studio.ensure_review_project(project.id) == review
    assert sdk.projects.get(review.id).show_collab_predictions is True

    items = [
        ReviewItem({"text": "meh", "lockgate_key": "x1"}, {"neg": 1, "pos": 2}),
        ReviewItem({"text": "hm", "lockgate_key": "x2"}, {"neu": 1, "neg": 1, "pos": 1}),
    ]
    first = studio.import_review_tasks(review.id, items, from_name="sentiment")
    assert (first.created, first.skipped) == (2, 0)
    assert studio.import_review_tasks(review.id, items, from_name="sentiment").created == 0

    task = sdk.tasks.get(str(first.task_ids["x1"]))
    assert task.data["lockgate_candidates"] == "pos (2), neg (1)"
    predictions = sorted(
        (
            (p.model_version, label_from_result(p.result, "sentiment"), round(p.score, 2))
            for p in task.predictions
        ),
        key=lambda p: -p[2],
    )
    assert predictions == [("annotators: 2 votes", "pos", 0.67), ("annotators: 1 vote", "neg", 0.33)]
    assert len(sdk.tasks.get(str(first.task_ids["x2"])).predictions) == 3

    with pytest.raises(StudioError, match="no control 'missing'"):
        studio.import_review_tasks(review.id, items, from_name="missing")


def test_invite_link_opens_the_signup_page(label_studio: LabelStudioServer, studio: Studio) -> None:
    link = studio.invite_link()
    assert link.startswith(f"{label_studio.url}/user/signup/?token=")
    assert studio.invite_link() == link
    assert httpx.get(link, follow_redirects=True).status_code == 200


def _signup(url: str, email: str) -> int:
    """POST the sign-up form as a browser would (CSRF cookie and field); returns the status code."""
    with httpx.Client() as client:
        client.get(url, follow_redirects=True)
        csrf = client.cookies["csrftoken"]
        form = {"email": email, "password": uuid.uuid4().hex, "csrfmiddlewaretoken": csrf}
        return client.post(url, data=form, headers={"Referer": url}).status_code


def test_signup_needs_the_invite_link(
    label_studio: LabelStudioServer, studio: Studio, sdk: LabelStudio
) -> None:
    outsider, invited = (f"{who}-{uuid.uuid4().hex[:6]}@lockgate.test" for who in ("outsider", "invited"))
    assert _signup(f"{label_studio.url}/user/signup/", outsider) == 403
    assert _signup(studio.invite_link(), invited) == 302  # account made, on to the projects page
    emails = {user.email for user in sdk.users.list()}
    assert invited in emails and outsider not in emails
