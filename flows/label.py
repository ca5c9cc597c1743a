"""The labeling flows: dispatch samples of curated data to Label Studio, collect and gate the labels.

``lockgate-label-dispatch`` draws each plan's sample from the dataset's current curated version and
imports it into the plan's Label Studio project (created on first use, one per plan version); tasks
are keyed by row, so a re-run adds only rows not yet sent. ``lockgate-label-collect`` pulls every
submitted annotation, computes agreement, and lets the gate decide: accepted labels become a new
version of the curated dataset ``labels_<dataset>`` with the agreement report beside it, and items
the annotators disagreed on go to the plan's review project with their candidate labels as
predictions. Calls to Label Studio retry with backoff; each is idempotent, so a retry after a
failure half-way converges instead of duplicating.

Annotators are people: reports, artifacts and the labels dataset name them by their Label Studio
user id (``annotator-7``), never by e-mail.

Label Studio's URL and token come from the settings in force (`flows.settings.current_settings`: what
the caller put in force with `use_settings`, else the environment), read inside each task: the token
is never a flow or task parameter, so it never reaches Prefect's database.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.access import refresh_roles
from flows.errors import LabelingNotReady
from flows.release import code_version
from flows.reports import collect_markdown
from flows.results import CollectResult, DispatchResult, PlanStatus
from flows.runs import IO_RETRIES, IO_RETRY_DELAYS, current_run_id, new_run_id
from flows.settings import Settings, current_settings
from labeling.access import LABELS_COLUMNS
from labeling.agreement import gold_accuracy
from labeling.errors import StudioError
from labeling.gate import Thresholds, decide
from labeling.plan import load_plans, select_plans
from labeling.sample import draw
from labeling.server import LabelStudioServer, local_server, studio_settings
from labeling.studio import VERSION, ReviewItem, Studio
from sources.catalog import load_catalog
from storage import layout
from storage.curated import current_version, publish, read_current, table_uri
from storage.release import ReleaseParts, content_sha256
from storage.store import open_store
from storage.warehouse import register_views

if TYPE_CHECKING:
    from collections.abc import Callable

    from prefect import Task
    from prefect.client.schemas.objects import State

    from labeling.gate import GateResult
    from labeling.plan import Plan
    from labeling.sample import Drawn
    from labeling.studio import ImportResult, Project

STUDIO_RETRIES = 3
STUDIO_RETRY_DELAYS: list[float] = [2, 5, 10]
REPORT_FILE = "agreement.json"
P = ParamSpec("P")
R = TypeVar("R")


def studio_client(url: str | None = None) -> Studio:
    """A client for `url`, else the configured server, with the token of the settings in force.

    Tasks call it themselves, so the token is read inside the task and never passed as a parameter.
    """
    settings = current_settings()
    return Studio.from_settings(
        studio_settings(url or settings.label_studio_url, settings.label_studio_token)
    )


def local_studio_server(data_dir: Path, settings: Settings | None = None) -> LabelStudioServer:
    """The Label Studio of a local data folder, as the settings configure it (port, admin, executable).

    Not started: the caller starts it, then puts ``settings.with_label_studio(server.url, server.token)``
    in force with `use_settings` around the flows that should use it.
    """
    settings = settings or current_settings()
    return local_server(
        data_dir,
        settings.label_studio_port,
        username=settings.label_studio_username,
        password=settings.label_studio_password,
        token=settings.label_studio_token,
        executable=settings.label_studio_bin,
    )


def _studio_failed(task: Any, task_run: Any, state: State) -> bool:
    """Retry what Label Studio failed at; a missing setting or an undispatched plan fails every time."""
    try:
        state.result()
    except StudioError:
        return True
    except Exception:
        return False
    return False


# Every Label Studio call is idempotent (projects by title, tasks by row key), so retrying is safe.
def studio_task(name: str) -> Callable[[Callable[P, R]], Task[P, R]]:
    """A task that calls Label Studio: retried with backoff when Label Studio fails, not otherwise."""
    return task(
        name=name,
        retries=STUDIO_RETRIES,
        retry_delay_seconds=STUDIO_RETRY_DELAYS,
        retry_condition_fn=_studio_failed,
        cache_policy=NO_CACHE,
    )


@task(name="draw-sample", cache_policy=NO_CACHE)
def draw_task(plan: Plan, lake: str) -> tuple[Drawn, int]:
    """The plan's sample of the current curated version, and that version's number."""
    store = open_store(lake)
    version = current_version(store, plan.source.name)
    if version is None:
        raise LabelingNotReady(f"{plan.source.name} has no curated version yet: run the ingest flow first")
    return draw(read_current(store, plan.source.name), plan), version.version


@studio_task(name="ensure-project")
def ensure_project_task(plan: Plan, studio_url: str | None) -> Project:
    return studio_client(studio_url).ensure_project(
        plan.plan.project_title,
        plan.label_config,
        overlap=plan.plan.overlap,
        description=plan.plan.instructions or plan.plan.title,
    )


@studio_task(name="import-tasks")
def import_task(project_id: int, tasks: list[dict[str, Any]], studio_url: str | None) -> ImportResult:
    return studio_client(studio_url).import_tasks(project_id, tasks)


def _tasks(sample: pl.DataFrame, plan: Plan, curated_version: int) -> list[dict[str, Any]]:
    """Task payloads: the fields annotators see, the row key and the curated version it came from."""
    rows = sample.with_columns(
        pl.lit(curated_version).alias(VERSION), pl.lit(plan.source.name).alias("lockgate_dataset")
    ).to_dicts()
    return [{"data": {k: _plain(v) for k, v in row.items()}} for row in rows]


def _plain(value: Any) -> Any:
    """JSON-safe task data: dates and decimals as text, the rest as is."""
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


@flow(name="lockgate-label-dispatch", flow_run_name=new_run_id)
def label_dispatch(
    catalog: str, lake: str = "lake", plans: list[str] | None = None, studio_url: str | None = None
) -> list[DispatchResult]:
    """Send each plan's sample to its Label Studio project; re-running adds only rows not sent yet."""
    selected = select_plans(load_plans(load_catalog(Path(catalog))), plans or [])
    results = []
    for plan in selected:
        drawn, version = draw_task(plan, lake)
        project = ensure_project_task(plan, studio_url)
        imported = import_task(project.id, _tasks(drawn.frame, plan, version), studio_url)
        get_run_logger().info(
            "%s: %d task(s) from %s v%d: %d new, %d already there",
            plan.name,
            drawn.frame.height,
            plan.source.name,
            version,
            imported.created,
            imported.skipped,
        )
        results.append(
            DispatchResult(
                plan=plan.name,
                dataset=plan.source.name,
                project_id=project.id,
                project_url=project.url,
                curated_version=version,
                sampled=drawn.frame.height,
                created=imported.created,
                skipped=imported.skipped,
                gold_included=drawn.gold_included,
                gold_missing=drawn.gold_missing,
                strata=drawn.strata,
            )
        )
    return results


@studio_task(name="pull-annotations")
def pull_task(plan: Plan, studio_url: str | None) -> tuple[Project, pl.DataFrame, int]:
    """The plan's project, every submitted annotation (annotators pseudonymised) and the task count."""
    studio = studio_client(studio_url)
    project = studio.find_project(plan.plan.project_title)
    if project is None:
        raise LabelingNotReady(
            f"{plan.name}: no Label Studio project '{plan.plan.project_title}': dispatch first"
        )
    annotations = pseudonymise(studio.annotations(project.id, from_name=plan.plan.label))
    return project, annotations, studio.task_counts(project.id)["tasks"]


def pseudonymise(annotations: pl.DataFrame) -> pl.DataFrame:
    """Annotators by Label Studio user id, so no e-mail reaches a report, an artifact or the lake."""
    return annotations.with_columns(annotator=pl.format("annotator-{}", pl.col("annotator_id"))).drop(
        "annotator_id"
    )


def labels_frame(gate: GateResult, annotations: pl.DataFrame, plan: Plan) -> pl.DataFrame:
    """Accepted labels with their support, keyed like the dataset they label."""
    versions = annotations.group_by("item_id").agg(pl.col(VERSION).cast(pl.Int64, strict=False).max())
    return (
        gate.accepted_labels()
        .join(versions, on="item_id", how="left")
        .rename({"item_id": plan.key, VERSION: "curated_version"})
        .with_columns(plan=pl.lit(plan.name), plan_version=pl.lit(plan.plan.version))
        .select(plan.key, *LABELS_COLUMNS)
        .sort(plan.key)
    )


def _fingerprint(annotations: pl.DataFrame) -> str:
    """The annotations' content, independent of order: the same annotations publish nothing new."""
    canonical = annotations.select("item_id", "annotator", "label").sort("item_id", "annotator")
    return hashlib.sha256(canonical.write_csv().encode()).hexdigest()


@task(name="publish-labels", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAYS, cache_policy=NO_CACHE)
def publish_labels_task(
    plan: Plan,
    lake: str,
    labels: pl.DataFrame,
    report: dict[str, Any],
    fingerprint: str,
    run_id: str,
    warehouse: str | None = None,
) -> tuple[int, bool]:
    """A new version of ``labels_<dataset>`` with the agreement report beside it; its DuckDB view."""
    store = open_store(lake)
    name = plan.plan.labels_dataset
    release = ReleaseParts(
        inputs=[fingerprint],
        contract_id=f"labeling.{plan.name}",
        contract_version=f"{plan.plan.version}.0.0",
        contract_sha256=content_sha256(plan.plan.model_dump(mode="json", by_alias=True)),
        code_version=code_version(),
    )
    result = publish(
        store,
        name,
        labels,
        release=release,
        run_id=run_id,
        masked_columns={},
        sensitivity=plan.source.passport.sensitivity.value,
        pii=False,
        attachments={REPORT_FILE: json.dumps(report, indent=2, ensure_ascii=False).encode()},
    )
    register_views(layout.warehouse_path(lake, warehouse), {name: table_uri(store, name)})
    return result.version.version, result.changed


@studio_task(name="send-to-review")
def review_task(plan: Plan, project_id: int, review: pl.DataFrame, studio_url: str | None) -> int:
    """Disagreed items into the plan's review project, candidate labels as predictions; idempotent."""
    studio = studio_client(studio_url)
    data = studio.task_data(project_id)
    items = [
        ReviewItem(data=data[row["item_id"]], votes=dict(zip(row["candidates"], row["votes"], strict=True)))
        for row in review.iter_rows(named=True)
        if row["item_id"] in data
    ]
    target = studio.ensure_review_project(project_id)
    return studio.import_review_tasks(target.id, items, from_name=plan.plan.label).created


@flow(name="lockgate-label-collect", flow_run_name=new_run_id)
def label_collect(
    catalog: str, lake: str = "lake", plans: list[str] | None = None, studio_url: str | None = None
) -> list[CollectResult]:
    """Pull annotations, gate them by agreement, publish accepted labels, send disagreements to review.
    New labels reach the roles that may read them: their outputs are rebuilt after a publish."""
    warehouse = current_settings().warehouse
    selected = select_plans(load_plans(load_catalog(Path(catalog))), plans or [])
    run_id = current_run_id()
    results = [_collect_one(plan, lake, studio_url, run_id, warehouse) for plan in selected]
    if any(result.published for result in results):
        refresh_roles(catalog, lake, warehouse)  # each role's own copy (`flows.access`)
    return results


def _collect_one(
    plan: Plan, lake: str, studio_url: str | None, run_id: str, warehouse: str | None
) -> CollectResult:
    project, annotations, tasks = pull_task(plan, studio_url)
    acceptance = plan.plan.acceptance
    # An annotation that does not answer the plan's control is no vote.
    answered = annotations.filter(pl.col("label").is_not_null())
    gate = decide(
        answered,
        overlap=plan.plan.overlap,
        thresholds=Thresholds(accept=acceptance.accept, review=acceptance.review),
        level=acceptance.level,
    )
    gold = (
        {a: s.model_dump() for a, s in gold_accuracy(answered, plan.gold, level=acceptance.level).items()}
        if plan.gold
        else {}
    )
    items = gate.counts()
    items["pending"] += max(tasks - answered["item_id"].n_unique(), 0)  # tasks nobody has answered yet
    result = CollectResult(
        plan=plan.name,
        dataset=plan.source.name,
        project_id=project.id,
        annotations=annotations.height,
        verdict=gate.verdict.value,
        krippendorff_alpha=gate.alpha,
        items=items,
        labels_dataset=plan.plan.labels_dataset,
        gold=gold,
        notes=[*gate.notes, *gate.report.notes],
    )
    labels = labels_frame(gate, answered, plan)
    if labels.height:
        report = {
            "plan": plan.name,
            "plan_version": plan.plan.version,
            "verdict": result.verdict,
            "thresholds": gate.thresholds.model_dump(),
            "items": result.items,
            "agreement": gate.report.model_dump(mode="json"),
            "gold": gold,
        }
        result.labels_version, result.published = publish_labels_task(
            plan, lake, labels, report, _fingerprint(answered), run_id, warehouse
        )
    review = gate.review_items()
    if review.height:
        result.review_created = review_task(plan, project.id, review, studio_url)
    create_markdown_artifact(
        key=f"lockgate-labels-{plan.name.replace('_', '-')}",
        markdown=collect_markdown(result, gate.report),
        description=f"Lockgate labeling {plan.name}: agreement and gate",
    )
    get_run_logger().info(
        "%s: %d annotation(s), verdict %s, %s", plan.name, annotations.height, result.verdict, result.items
    )
    return result


def label_status(catalog: str, lake: str, plans: list[str], studio_url: str | None) -> list[PlanStatus]:
    """Progress of each plan: its project's tasks and annotations, and the current labels version."""
    selected = select_plans(load_plans(load_catalog(Path(catalog))), plans)
    studio = studio_client(studio_url)
    store = open_store(lake)
    rows = []
    for plan in selected:
        labels = current_version(store, plan.plan.labels_dataset)
        row = PlanStatus(
            plan=plan.name,
            project_id=None,
            overlap=plan.plan.overlap,
            labels_dataset=plan.plan.labels_dataset,
            labels_version=labels.version if labels else None,
        )
        project = studio.find_project(plan.plan.project_title)
        if project is not None:
            counts = studio.task_counts(project.id)
            row = row.model_copy(
                update={
                    "project_id": project.id,
                    "tasks": counts["tasks"],
                    "started": counts["annotated"],
                    "complete": counts["complete"],
                    "annotations": counts["annotations"],
                }
            )
        rows.append(row)
    return rows
