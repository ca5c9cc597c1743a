"""Labeling plans: what a data owner writes to have a curated dataset labeled in Label Studio.

A plan is one YAML file under ``<catalog>/labeling/``. It names the dataset (a source of the same
catalog), the Label Studio label config (an XML file beside it), the curated columns annotators see,
how the sample is drawn, how many annotators label each task, and the agreement thresholds that
decide which labels are trusted. Plans are checked against the catalog they live in: the dataset
must exist, the columns must reach the curated layer (a dropped column never does), and the label
config must parse and name the control that carries the label and the fields it shows.

Annotators only ever see curated data, which the contract has masked and the zero-leak gate has
re-scanned, so a plan cannot expose personal data in clear.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from defusedxml import ElementTree
from pydantic import Field, field_validator, model_validator

from contracts.errors import CatalogError, UnknownNameError
from contracts.model import COLUMN_PATTERN, DropRule, StrictModel
from contracts.yamlio import read_catalog_file, read_yaml
from sources.catalog import parse_model
from sources.passport import Slug, relative_path

if TYPE_CHECKING:
    from pathlib import Path
    from xml.etree.ElementTree import Element

    from contracts.diagnostics import Problem
    from contracts.yamlio import YamlDocument
    from sources.catalog import Catalog, Source

PLAN_DIR = "labeling"
MAX_CONFIG_BYTES = 256 * 1024
MAX_GOLD_BYTES = 64 * 1024 * 1024
# Label Studio's control tags whose result carries a label an annotator chose.
CONTROL_TAGS = frozenset({"Choices", "Labels", "Rating", "Number", "Taxonomy", "TextArea"})
_VARIABLE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")

Level = Literal["nominal", "ordinal", "interval", "ratio"]
ColumnName = str


class Sample(StrictModel):
    """How rows are drawn from the current curated version: reproducible for a given seed."""

    size: int = Field(gt=0, le=100_000, description="Rows to draw (fewer when the dataset is smaller).")
    strategy: Literal["random", "stratified"] = "random"
    by: str | None = Field(
        None, pattern=COLUMN_PATTERN, description="Column to stratify by (strategy: stratified)."
    )
    seed: int = Field(0, ge=0, description="Same seed, same dataset: same sample.")

    @model_validator(mode="after")
    def _by_for_stratified(self) -> Sample:
        if self.strategy == "stratified" and self.by is None:
            raise ValueError("strategy 'stratified' needs 'by': the column whose groups are sampled")
        if self.strategy == "random" and self.by is not None:
            raise ValueError("'by' applies to strategy 'stratified' only")
        return self


class Acceptance(StrictModel):
    """Krippendorff's α bands: ≥ accept trusts majority labels; ≥ review accepts unanimous items and
    sends every disagreement to review; below review rejects the batch."""

    accept: float = Field(0.8, ge=-1, le=1)
    review: float = Field(0.667, ge=-1, le=1)
    level: Level = Field("nominal", description="Measurement level of the labels for α.")

    @model_validator(mode="after")
    def _ordered(self) -> Acceptance:
        if self.review > self.accept:
            raise ValueError(f"review ({self.review}) must not exceed accept ({self.accept})")
        return self


class Gold(StrictModel):
    """Items with known labels, mixed into the sample to measure each annotator's accuracy."""

    path: str = Field(description="CSV relative to the catalog: the row key column and 'label'.")

    _check_path = field_validator("path")(relative_path)


class LabelingPlan(StrictModel):
    """One labeling job over one curated dataset."""

    schema_: str | None = Field(None, alias="$schema", description="Editor hint; ignored.")
    name: Slug = Field(description="The plan's name; with its version it names the Label Studio project.")
    version: int = Field(1, ge=1, description="Bump when the task changes: a new version, a new project.")
    title: str = Field(min_length=1, max_length=200)
    description: str | None = None
    instructions: str | None = Field(None, description="Shown to annotators in Label Studio.")
    dataset: Slug = Field(description="The source whose current curated version is sampled.")
    label_config: str = Field(description="Label Studio label config (XML), relative to the catalog.")
    label: str = Field(min_length=1, description="Name of the control in the label config that is the label.")
    fields: list[ColumnName] = Field(min_length=1, description="Curated columns annotators see.")
    key: str | None = Field(
        None, pattern=COLUMN_PATTERN, description="Row key column; default: the contract's primary key."
    )
    sample: Sample
    overlap: int = Field(ge=2, le=20, description="Annotations per task, from different annotators.")
    acceptance: Acceptance = Acceptance()
    gold: Gold | None = None

    _check_config = field_validator("label_config")(relative_path)

    @field_validator("fields")
    @classmethod
    def _column_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(COLUMN_PATTERN, name):
                raise ValueError(f"'{name}' is not a column name")
        if len(set(value)) != len(value):
            raise ValueError("a column is listed twice")
        return value

    @property
    def project_title(self) -> str:
        """Label Studio titles are at most 50 characters; name and version identify the project."""
        return f"{self.name} v{self.version}"[:50]

    @property
    def review_title(self) -> str:
        return f"{self.name} v{self.version} review"[:50]

    @property
    def labels_dataset(self) -> str:
        return f"labels_{self.dataset}"


@dataclass(frozen=True)
class Plan:
    """A checked plan with everything resolved against its catalog."""

    plan: LabelingPlan
    path: Path
    source: Source
    key: str
    label_config: str
    gold: dict[str, str]

    @property
    def name(self) -> str:
        return self.plan.name


def _curated_columns(source: Source) -> set[str]:
    return {p.name for p in source.contract.columns if not isinstance(p.masking, DropRule)}


def _primary_key(source: Source) -> str | None:
    keys = [p.name for p in source.contract.columns if p.primary_key]
    if len(keys) == 1:
        return keys[0]
    unique = [p.name for p in source.contract.columns if p.unique and p.required]
    return unique[0] if len(unique) == 1 else None


def _parse_config(data: bytes) -> Element:
    try:
        root: Element = ElementTree.fromstring(data, forbid_dtd=True)  # defusedxml is untyped
    except ElementTree.ParseError as exc:
        raise ValueError(f"label config is not valid XML: {exc}") from exc
    except Exception as exc:  # defusedxml refuses entities and DTDs with its own exception types
        raise ValueError(f"label config refused: {type(exc).__name__}") from exc
    return root


def _check_config(plan: LabelingPlan, root: Element, document: YamlDocument) -> list[Problem]:
    """The label control must exist, and every ``$field`` the config shows must be a plan field."""
    problems: list[Problem] = []
    controls = {el.get("name"): el.tag for el in root.iter() if el.tag in CONTROL_TAGS}
    if plan.label not in controls:
        named = ", ".join(f"{name} ({tag})" for name, tag in controls.items() if name) or "none"
        problems.append(
            document.problem(
                ("label",), f"the label config has no control named '{plan.label}'; its controls: {named}"
            )
        )
    shown = {
        match.group(1) for el in root.iter() if (match := _VARIABLE.match(el.get("value", ""))) is not None
    }
    missing = sorted(shown - set(plan.fields))
    if missing:
        problems.append(
            document.problem(
                ("fields",),
                f"the label config shows {', '.join('$' + m for m in missing)}; list them in fields",
            )
        )
    return problems


def _read_gold(path: Path, data: bytes, key: str) -> dict[str, str]:
    """The gold answers by key. Read with the csv module, not polars: `lockgate validate` reads every
    plan's gold file, and importing polars for a small file would cost it a second."""
    import csv
    import io

    try:
        records = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"gold file {path.name} cannot be read: {exc}") from exc
    header, rows = (records[0], records[1:]) if records else ([], [])
    missing = [c for c in (key, "label") if c not in header]
    if missing:
        raise ValueError(
            f"gold file {path.name} needs columns {key!r} and 'label'; it has: {', '.join(header)}"
        )
    gold: dict[str, str] = {}
    at_key, at_label = header.index(key), header.index("label")
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        if not row:  # a blank line, as at the end of many files
            continue
        if len(row) != len(header):
            raise ValueError(
                f"gold file {path.name} cannot be read: row {number} has {len(row)} field(s), "
                f"the header {len(header)}"
            )
        if not row[at_key] or not row[at_label]:
            raise ValueError(f"gold file {path.name}: row {number}: empty {key} or label")
        if row[at_key] in gold:
            raise ValueError(f"gold file {path.name}: key {row[at_key]!r} is listed twice")
        gold[row[at_key]] = row[at_label]
    return gold


def _resolve(
    plan: LabelingPlan, document: YamlDocument, catalog: Catalog
) -> tuple[Plan | None, list[Problem]]:
    known = {s.name: s for s in catalog.sources}
    source = known.get(plan.dataset)
    if source is None:
        message = f"no source '{plan.dataset}' in this catalog; it has: {', '.join(known) or 'none'}"
        return None, [document.problem(("dataset",), message)]
    problems: list[Problem] = []
    curated = _curated_columns(source)
    for i, name in enumerate(plan.fields):
        if name not in curated:
            problems.append(
                document.problem(("fields", i), f"'{name}' is not a curated column of {source.name}")
            )
    key = plan.key or _primary_key(source)
    if key is None:
        problems.append(
            document.problem(
                ("dataset",), f"{source.name} has no single primary key: set 'key' to a unique column"
            )
        )
    elif key not in curated:
        problems.append(document.problem(("key",), f"'{key}' is not a curated column of {source.name}"))
    if plan.sample.by is not None and plan.sample.by not in curated:
        problems.append(
            document.problem(("sample", "by"), f"'{plan.sample.by}' is not a curated column of {source.name}")
        )
    config_path = catalog.root / plan.label_config
    config = ""
    if not os.path.lexists(config_path):
        problems.append(document.problem(("label_config",), f"label config not found: {plan.label_config}"))
    else:
        try:
            data = read_catalog_file(config_path, root=catalog.root, limit=MAX_CONFIG_BYTES)
            root = _parse_config(data)
            config = data.decode("utf-8")
        except CatalogError as exc:
            problems.extend(exc.problems)
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append(document.problem(("label_config",), str(exc)))
        else:
            problems.extend(_check_config(plan, root, document))
    gold: dict[str, str] = {}
    if plan.gold is not None and key is not None:
        gold_path = catalog.root / plan.gold.path
        if not os.path.lexists(gold_path):
            problems.append(document.problem(("gold", "path"), f"gold file not found: {plan.gold.path}"))
        else:
            try:
                gold = _read_gold(
                    gold_path, read_catalog_file(gold_path, root=catalog.root, limit=MAX_GOLD_BYTES), key
                )
            except CatalogError as exc:
                problems.extend(exc.problems)
            except ValueError as exc:
                problems.append(document.problem(("gold", "path"), str(exc)))
    if problems or key is None:
        return None, problems
    return Plan(plan=plan, path=document.path, source=source, key=key, label_config=config, gold=gold), []


def load_plans(catalog: Catalog) -> list[Plan]:
    """Every plan under ``<catalog>/labeling/``, checked against the catalog; raises with all problems.

    A catalog without a ``labeling/`` folder has no plans, which is fine.
    """
    folder = catalog.root / PLAN_DIR
    if not folder.is_dir():
        return []
    plans: list[Plan] = []
    problems: list[Problem] = []
    titles: dict[str, Path] = {}
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            document = read_yaml(path, root=catalog.root)
        except CatalogError as exc:
            problems.extend(exc.problems)
            continue
        model, found = parse_model(LabelingPlan, document)
        problems.extend(found)
        if model is None:
            continue
        if model.project_title in titles:
            problems.append(
                document.problem(
                    ("name",),
                    f"plan '{model.name}' v{model.version} is also defined in {titles[model.project_title]}",
                )
            )
            continue
        titles[model.project_title] = path
        plan, found = _resolve(model, document, catalog)
        problems.extend(found)
        if plan is not None:
            plans.append(plan)
    if problems:
        raise CatalogError(problems)
    return plans


def select_plans(plans: list[Plan], names: list[str]) -> list[Plan]:
    """The named plans (all when none are named); an unknown name lists the known ones."""
    if not names:
        return list(plans)
    known = {p.name: p for p in plans}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UnknownNameError(
            f"unknown labeling plan(s): {', '.join(unknown)}; the catalog has: {', '.join(known) or 'none'}"
        )
    return [known[n] for n in dict.fromkeys(names)]
