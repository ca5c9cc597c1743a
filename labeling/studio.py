"""Lockgate's client for Label Studio, through label-studio-sdk only.

Every call is idempotent so that the Prefect tasks calling it can retry: projects are found by exact
title, tasks by the ``lockgate_key`` in their data. Nothing here retries (the SDK's own retries are off)
and every failure becomes a `StudioError` naming the server and what failed, never the token.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import httpx
import polars as pl
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError
from label_studio_sdk.label_interface.interface import LabelInterface

from labeling.errors import StudioError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from label_studio_sdk import AllRolesProjectList, ImportApiRequest

    from labeling.server import StudioSettings

KEY = "lockgate_key"
VERSION = "lockgate_version"
CANDIDATES = "lockgate_candidates"
REVIEW_SUFFIX = " — review"
MULTI_SEP = "|"  # joins the values of a multi-valued answer (several choices, labels, taxonomy paths)

ANNOTATION_SCHEMA: dict[str, pl.DataType] = {
    "task_id": pl.Int64(),
    "item_id": pl.String(),
    "annotator": pl.String(),
    "annotator_id": pl.Int64(),
    "label": pl.String(),
    "annotation_id": pl.Int64(),
    "created_at": pl.Datetime("us", "UTC"),
    VERSION: pl.String(),
}

# Labeling project settings. Annotators must answer every task they open (no skip, no empty submit),
# do not see model predictions (their votes must be independent), and every task gets `overlap`
# annotations: that is what agreement is computed on.
_LABELING_SETTINGS: dict[str, Any] = {
    "overlap_cohort_percentage": 100,
    "show_skip_button": False,
    "enable_empty_annotation": False,
    "show_collab_predictions": False,
    "show_annotation_history": False,
}
# Review projects show the candidates (as predictions) to one reviewer who settles each task.
_REVIEW_SETTINGS: dict[str, Any] = {**_LABELING_SETTINGS, "show_collab_predictions": True}


@dataclass(frozen=True)
class Project:
    id: int
    title: str
    label_config: str
    overlap: int
    description: str
    url: str  # where people open it in a browser


@dataclass(frozen=True)
class ImportResult:
    """`task_ids` maps every given ``lockgate_key`` (new or already there) to its task id, in input order.

    Iterating gives those task ids: ``[task_id] = studio.import_tasks(project_id, [task])``.
    """

    created: int
    skipped: int
    task_ids: Mapping[str, int] = field(default_factory=dict)

    def __iter__(self) -> Iterator[int]:
        return iter(self.task_ids.values())


@dataclass(frozen=True)
class ReviewItem:
    """A disagreed item: its task data (with ``lockgate_key``) and how many annotators chose each label."""

    data: Mapping[str, Any]
    votes: Mapping[str, int]


def label_from_result(result: Sequence[Mapping[str, Any]], from_name: str) -> str | None:
    """The answer an annotation gives to the control `from_name`, as one string (None when unanswered).

    One choice/label/rating/number is its value as text; several (multi-choice Choices, span Labels
    across regions, Taxonomy paths) are sorted and joined by ``|`` so that equal sets compare equal.
    Ratings and integral numbers print without a decimal point ("4", not "4.0").
    """
    values: list[str] = []
    for region in result:
        if region.get("from_name") != from_name:
            continue
        value = region.get("value") or {}
        kind = str(region.get("type") or "").lower()
        if kind not in _ANSWER_KEYS:  # no or an unknown type: take the first answer-like key
            kind = next((k for k in _ANSWER_KEYS if k in value), kind)
        values.extend(_answer_values(kind, value.get("text" if kind in ("textarea", "text") else kind)))
    unique = sorted(set(values))
    if not unique:
        return None
    return unique[0] if len(unique) == 1 else MULTI_SEP.join(unique)


_ANSWER_KEYS = ("choices", "labels", "rating", "number", "taxonomy", "textarea", "selected", "text")


def _answer_values(kind: str, raw: Any) -> list[str]:
    if raw is None:
        return []
    if kind == "taxonomy":  # a list of paths, each a list of node names
        return ["/".join(str(node) for node in path) for path in raw]
    if kind in ("textarea", "text"):
        raw = raw if isinstance(raw, list) else [raw]
        return ["\n".join(str(line) for line in raw)] if raw else []
    if isinstance(raw, list):
        return [_scalar(item) for item in raw]
    return [_scalar(raw)]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def _prediction_value(tag: str, label: str) -> dict[str, Any]:
    """The inverse of `label_from_result` for one control, so a candidate can be shown as a prediction."""
    parts = label.split(MULTI_SEP)
    if tag == "choices":
        return {"choices": parts}
    if tag == "rating":
        return {"rating": int(float(label))}
    if tag == "number":
        number = float(label)
        return {"number": int(number) if number.is_integer() else number}
    if tag == "taxonomy":
        return {"taxonomy": [part.split("/") for part in parts]}
    if tag == "textarea":
        return {"text": [label]}
    raise StudioError(
        f"review predictions support Choices, Rating, Number, Taxonomy and TextArea controls, not {tag}"
    )


def _votes_phrase(votes: int) -> str:
    return f"annotators: {votes} vote" + ("" if votes == 1 else "s")


class Studio:
    """A Label Studio server as Lockgate uses it: projects, tasks in, annotations out, review projects.

    Not safe for two writers importing into the same project at once (the dedup reads then writes);
    run one import per project at a time, which Prefect's task concurrency gives.
    """

    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0, page_size: int = 100) -> None:
        if not api_key:
            raise StudioError(f"Label Studio at {url}: no API token given")
        self.url = url.rstrip("/")
        self.page_size = page_size
        self._api_key = api_key
        self._client = LabelStudio(base_url=self.url, api_key=api_key, timeout=timeout, max_retries=0)

    @classmethod
    def from_settings(cls, settings: StudioSettings, **kwargs: Any) -> Studio:
        return cls(settings.url, settings.api_key, **kwargs)

    def __repr__(self) -> str:
        return f"Studio(url={self.url!r})"

    # -- errors ---------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _step(self, what: str) -> Iterator[None]:
        """Turn SDK and network failures into a StudioError; `from None` keeps request details out."""
        try:
            yield
        except StudioError:
            raise
        except ApiError as exc:
            raise StudioError(self._redact(self._api_message(what, exc))) from None
        except httpx.TimeoutException as exc:
            raise StudioError(
                self._redact(f"Label Studio at {self.url}: {what} failed: timed out ({type(exc).__name__})")
            ) from None
        except httpx.HTTPError as exc:
            raise StudioError(
                self._redact(
                    f"Label Studio at {self.url}: {what} failed: server unreachable "
                    f"({type(exc).__name__}: {exc})"
                )
            ) from None

    def _api_message(self, what: str, exc: ApiError) -> str:
        status = exc.status_code
        detail = _error_detail(exc.body)
        prefix = f"Label Studio at {self.url}: {what} failed ({status}"
        if status == 401:
            return (
                f"{prefix}, the API token was rejected: {detail or 'unauthorized'}); check "
                "LOCKGATE_LABEL_STUDIO_TOKEN or the Prefect Secret block 'lockgate-label-studio-token' "
                "(a legacy token also needs the server started with --enable-legacy-api-token)"
            )
        if status == 403:
            return f"{prefix}, the token's user may not do this: {detail or 'forbidden'})"
        return f"{prefix}): {detail}" if detail else f"{prefix})"

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***")

    # -- projects -------------------------------------------------------------------------------------

    def _project(self, raw: Any) -> Project:
        return Project(
            id=int(raw.id),
            title=str(raw.title or ""),
            label_config=str(raw.label_config or ""),
            overlap=int(raw.maximum_annotations or 1),
            description=str(raw.description or ""),
            url=f"{self.url}/projects/{raw.id}/",
        )

    def project(self, project_id: int) -> Project:
        with self._step(f"reading project {project_id}"):
            return self._project(self._client.projects.get(project_id))

    def find_project(self, title: str) -> Project | None:
        """The project titled exactly `title` (the oldest if several are), or None."""
        with self._step(f"looking up project {title!r}"):
            # The server's title filter matches substrings: compare exactly here.
            listed: Iterable[AllRolesProjectList] = self._client.projects.list(title=title, page_size=100)
            ids = [p.id for p in listed if p.title == title]
            if not ids:
                return None
            return self._project(self._client.projects.get(min(_id(i, "project") for i in ids)))

    def ensure_project(
        self, title: str, label_config: str, *, overlap: int, description: str = ""
    ) -> Project:
        """The project titled `title`, created or brought up to date (config, overlap, description).

        Every task gets `overlap` annotations (``maximum_annotations``) before it counts as labeled. A
        config change that contradicts existing annotations is refused by the server (StudioError).
        """
        return self._ensure(title, label_config, overlap, description, _LABELING_SETTINGS)

    def _ensure(
        self, title: str, label_config: str, overlap: int, description: str, settings: Mapping[str, Any]
    ) -> Project:
        if overlap < 1:
            raise ValueError("overlap must be at least 1")
        wanted = {
            **settings,
            "label_config": label_config,
            "maximum_annotations": overlap,
            "description": description,
        }
        existing = self.find_project(title)
        if existing is None:
            with self._step(f"creating project {title!r}"):
                created = self._client.projects.create(title=title, **wanted)
                return self.project(_id(created.id, "project"))
        with self._step(f"reading project {title!r} ({existing.id})"):
            current = self._client.projects.get(existing.id)
        changes = {
            name: value for name, value in wanted.items() if _differs(getattr(current, name, None), value)
        }
        if not changes:
            return existing
        with self._step(f"updating project {title!r} ({existing.id}): {', '.join(sorted(changes))}"):
            self._client.projects.update(existing.id, **changes)
        return self.project(existing.id)

    # -- tasks ----------------------------------------------------------------------------------------

    def _tasks(self, project_id: int, **kwargs: Any) -> Iterator[Any]:
        yield from self._client.tasks.list(project=project_id, page_size=self.page_size, **kwargs)

    def _keyed_tasks(self, project_id: int) -> dict[str, Any]:
        """``lockgate_key`` → the first task that carries it, for every task of the project that has one."""
        found: dict[str, Any] = {}
        with self._step(f"listing the tasks of project {project_id}"):
            for task in self._tasks(project_id, fields="task_only", include="id,data"):
                key = (task.data or {}).get(KEY)
                if isinstance(key, str):
                    found.setdefault(key, task)
        return found

    def task_keys(self, project_id: int) -> dict[str, int]:
        """``lockgate_key`` → task id for every task of the project that has one."""
        return {key: int(task.id) for key, task in self._keyed_tasks(project_id).items()}

    def task_data(self, project_id: int) -> dict[str, dict[str, Any]]:
        """``lockgate_key`` → the task's data as imported (e.g. to send the same item to review)."""
        return {key: dict(task.data) for key, task in self._keyed_tasks(project_id).items()}

    def delete_tasks(self, project_id: int, keys: Iterable[str], *, dry_run: bool = False) -> list[int]:
        """Delete every task of the project whose ``lockgate_key`` is one of `keys`, with its annotations
        and predictions (erasure); returns their ids, sorted. `dry_run` only finds them.

        Every task carrying a key goes, duplicates too. Idempotent: a task someone deleted meanwhile
        counts as deleted, so a retry after a failure half-way converges.
        """
        wanted = set(keys)
        if not wanted:
            return []
        found: list[int] = []
        with self._step(f"listing the tasks of project {project_id}"):
            for task in self._tasks(project_id, fields="task_only", include="id,data"):
                if (task.data or {}).get(KEY) in wanted:
                    found.append(_id(task.id, "task"))
        if dry_run:
            return sorted(found)
        for task_id in found:
            with self._step(f"deleting task {task_id} of project {project_id}"):
                try:
                    self._client.tasks.delete(str(task_id))
                except ApiError as exc:
                    if exc.status_code != 404:
                        raise
        return sorted(found)

    def import_tasks(self, project_id: int, tasks: Sequence[Mapping[str, Any]]) -> ImportResult:
        """Import the tasks whose ``data.lockgate_key`` the project does not have yet, in one request.

        Each task is ``{"data": {..., "lockgate_key": "..."}, "predictions": [...]}`` (predictions optional).
        Label Studio (Community, synchronous import) validates every task against the label config
        before writing anything and then creates all tasks and predictions in one database
        transaction: a rejected request (say, a task lacking a field the config reads) creates none of
        them — checked in the tests. What is not atomic is the request as a whole: the server commits
        and then updates its counters, and a connection lost after the commit leaves the tasks created
        while the caller sees an error. The retry converges because keys already present are skipped.
        Predictions are not checked against the config by this server version (it only logs them).
        """
        keys = [_task_key(task) for task in tasks]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"duplicate lockgate_key in one import: {', '.join(duplicates[:5])}")
        existing = self.task_keys(project_id)
        new = [(key, task) for key, task in zip(keys, tasks, strict=True) if key not in existing]
        task_ids = {key: existing[key] for key in keys if key in existing}
        if new:
            payload = [_task_payload(task) for _, task in new]
            with self._step(f"importing {len(new)} tasks into project {project_id}"):
                # The SDK sends the task dicts as they are; its request model only describes them.
                response = self._client.projects.import_tasks(
                    project_id, request=cast("list[ImportApiRequest]", payload), return_task_ids=True
                )
            # Asked for with return_task_ids, the ids come back as a field the SDK's model does not declare.
            created_ids = list(getattr(response, "task_ids", None) or [])
            if len(created_ids) != len(new):
                raise StudioError(
                    f"Label Studio at {self.url}: importing {len(new)} tasks into project {project_id} "
                    f"returned {len(created_ids)} task ids"
                )
            task_ids.update({key: int(tid) for (key, _), tid in zip(new, created_ids, strict=True)})
        return ImportResult(
            created=len(new), skipped=len(keys) - len(new), task_ids={k: task_ids[k] for k in keys}
        )

    # -- annotations ----------------------------------------------------------------------------------

    def _annotators(self) -> dict[int, str]:
        """User id → email; empty when the token's user may not list users (ids are used then)."""
        with self._step("listing users"):
            try:
                users = self._client.users.list()
            except ApiError as exc:
                if exc.status_code != 403:
                    raise
                return {}
        return {int(u.id): str(u.email) for u in users if u.email}

    def annotations(self, project_id: int, *, from_name: str) -> pl.DataFrame:
        """Every submitted annotation of the project in long form, one row per (task, annotation).

        Cancelled (skipped) annotations and drafts are left out. `annotator` is the email of the user in
        ``completed_by`` (else their id); `label` is the answer to the control `from_name`
        (`label_from_result`; null when the annotation does not answer it); `lockgate_version` comes
        from the task data (null when absent), so the schema is always `ANNOTATION_SCHEMA`.
        """
        self.project(project_id)  # a wrong id is an error, not an empty frame
        users = self._annotators()
        rows: list[dict[str, Any]] = []
        with self._step(f"reading the annotations of project {project_id}"):
            for task in self._tasks(project_id, fields="all"):
                data = task.data or {}
                key = data.get(KEY)
                version = data.get(VERSION)
                for annotation in task.annotations or []:
                    ann = annotation if isinstance(annotation, Mapping) else annotation.model_dump()
                    if ann.get("was_cancelled"):
                        continue
                    user = _user_id(ann.get("completed_by"))
                    rows.append(
                        {
                            "task_id": int(task.id),
                            "item_id": None if key is None else str(key),
                            "annotator": users.get(user, str(user)) if user is not None else None,
                            "annotator_id": user,
                            "label": label_from_result(ann.get("result") or [], from_name),
                            "annotation_id": int(ann["id"]),
                            "created_at": _timestamp(ann.get("created_at")),
                            VERSION: None if version is None else str(version),
                        }
                    )
        return pl.DataFrame(rows, schema=ANNOTATION_SCHEMA).sort("task_id", "annotation_id")

    def task_counts(self, project_id: int) -> dict[str, int]:
        """Progress for a status command: tasks, tasks with ≥1 and with `overlap` submitted annotations."""
        project = self.project(project_id)
        counts = {"tasks": 0, "annotated": 0, "complete": 0, "annotations": 0, "cancelled": 0}
        with self._step(f"counting the tasks of project {project_id}"):
            for task in self._tasks(
                project_id, fields="task_only", include="id,total_annotations,cancelled_annotations"
            ):
                submitted = int(task.total_annotations or 0)  # the server counts cancelled ones apart
                counts["tasks"] += 1
                counts["annotated"] += submitted >= 1
                counts["complete"] += submitted >= project.overlap
                counts["annotations"] += submitted
                counts["cancelled"] += int(task.cancelled_annotations or 0)
        return {**counts, "overlap": project.overlap}

    # -- people ---------------------------------------------------------------------------------------

    def invite_link(self) -> str:
        """The organisation's sign-up link (``/user/signup/?token=…``): annotators make their account there.

        Signing up without it is disabled on servers Lockgate starts. The link is a credential for
        joining the organisation: hand it to annotators, do not log it.
        """
        with self._step("reading the organisation's invite link"):
            invite = self._client.organizations.invites.get_invite_link()
        if not invite.invite_url:
            raise StudioError(f"Label Studio at {self.url}: the server returned no invite link")
        return f"{self.url}{invite.invite_url}" if invite.invite_url.startswith("/") else invite.invite_url

    # -- review ---------------------------------------------------------------------------------------

    def ensure_review_project(self, project_id: int) -> Project:
        """The review project of `project_id`: same title plus " — review", same config, one annotation."""
        source = self.project(project_id)
        return self._ensure(
            source.title + REVIEW_SUFFIX,
            source.label_config,
            1,
            f"Disagreements from “{source.title}”: each task shows the annotators' candidate labels as "
            "predictions; choose the right one.",
            _REVIEW_SETTINGS,
        )

    def import_review_tasks(
        self, review_project_id: int, items: Sequence[ReviewItem], *, from_name: str
    ) -> ImportResult:
        """Import disagreed items into the review project, one prediction per candidate label.

        Each prediction's ``model_version`` says how many annotators chose it ("annotators: 2 votes")
        and its score is that share of the votes; most votes first. Idempotent by ``lockgate_key``:
        items already in the review project are skipped, their predictions left as they are.
        """
        project = self.project(review_project_id)
        try:
            control = LabelInterface(project.label_config).get_control(from_name)
        except Exception as exc:  # the SDK raises a bare Exception for an unknown name
            raise StudioError(
                f"Label Studio at {self.url}: project {review_project_id} has no control {from_name!r}: {exc}"
            ) from None
        tag = str(control.tag).lower()
        to_name = control.to_name[0]
        tasks = []
        for item in items:
            total = sum(item.votes.values())
            ranked = sorted(item.votes.items(), key=lambda kv: (-kv[1], kv[0]))
            predictions = [
                {
                    "model_version": _votes_phrase(votes),
                    "score": votes / total if total else 0.0,
                    "result": [
                        {
                            "from_name": from_name,
                            "to_name": to_name,
                            "type": tag,
                            "value": _prediction_value(tag, label),
                        }
                    ],
                }
                for label, votes in ranked
            ]
            candidates = ", ".join(f"{label} ({votes})" for label, votes in ranked)
            data: dict[str, Any] = {**item.data, CANDIDATES: candidates}
            tasks.append({"data": data, "predictions": predictions})
        return self.import_tasks(review_project_id, tasks)


def _differs(current: Any, wanted: Any) -> bool:
    if isinstance(wanted, str):
        return str(current or "").strip() != wanted.strip()
    return bool(current != wanted)


def _id(value: int | None, what: str) -> int:
    """An id the server sent; one it left out is a server fault, not a None to carry on with."""
    if value is None:
        raise StudioError(f"Label Studio returned a {what} without an id")
    return int(value)


def _task_key(task: Mapping[str, Any]) -> str:
    data = task.get("data")
    key = data.get(KEY) if isinstance(data, Mapping) else None
    if not isinstance(key, str) or not key:
        raise ValueError(f"every task needs data.{KEY}, a non-empty string, so that imports never duplicate")
    return key


def _task_payload(task: Mapping[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {"data": dict(task["data"])}
    if task.get("predictions"):
        payload["predictions"] = list(task["predictions"])
    return payload


def _user_id(completed_by: Any) -> int | None:
    if isinstance(completed_by, Mapping):
        completed_by = completed_by.get("id")
    return int(completed_by) if completed_by is not None else None


def _timestamp(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


_ECHOED_TASK = re.compile(r"\s*::\s*\{.*", re.DOTALL)  # Label Studio appends the offending task's data


def _error_detail(body: Any) -> str:
    """The server's reason, short, without the task data it sometimes echoes back."""
    if isinstance(body, Mapping):
        parts: list[str] = []
        if body.get("detail") and body.get("detail") != "Validation error":
            parts.append(str(body["detail"]))
        errors = body.get("validation_errors")
        if errors:
            parts.append(_flatten(errors))
        if not parts and body.get("detail"):
            parts.append(str(body["detail"]))
        text = "; ".join(parts) if parts else json.dumps(body, default=str)
    else:
        text = str(body or "")
    return text if len(text) <= 600 else text[:600] + "…"


def _flatten(errors: Any) -> str:
    if isinstance(errors, Mapping):
        return "; ".join(
            f"{k}: {_flatten(v)}" if k != "non_field_errors" else _flatten(v) for k, v in errors.items()
        )
    if isinstance(errors, list):
        return "; ".join(text for text in (_flatten(e) for e in errors) if text)
    return _ECHOED_TASK.sub("", str(errors)).strip()
