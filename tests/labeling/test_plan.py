"""Labeling plans: checked against the catalog they live in, every mistake pinned to its line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from contracts.errors import CatalogError
from labeling.plan import load_plans, select_plans
from sources.catalog import load_catalog

REPO = Path(__file__).resolve().parents[2]
PLAN = REPO / "examples" / "catalog" / "labeling" / "support_topics.yaml"


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return Path(shutil.copytree(REPO / "examples" / "catalog", tmp_path / "catalog"))


def _problems(root: Path) -> list[str]:
    with pytest.raises(CatalogError) as info:
        load_plans(load_catalog(root))
    return [f"{p.line}:{p.column}: {p.field}: {p.message}" for p in info.value.problems]


def _write_plan(root: Path, text: str) -> None:
    (root / "labeling" / "support_topics.yaml").write_text(text, encoding="utf-8")


def test_example_plan_resolves_against_its_catalog() -> None:
    [plan] = load_plans(load_catalog(REPO / "examples" / "catalog"))
    assert plan.name == "support_topics"
    assert plan.source.name == "support_tickets"
    assert plan.key == "ticket_id"
    assert plan.plan.project_title == "support_topics v1"
    assert plan.plan.labels_dataset == "labels_support_tickets"
    assert '<Choices name="topic"' in plan.label_config
    assert len(plan.gold) == 6 and set(plan.gold.values()) >= {"payment", "delivery"}


def test_catalog_without_plans_has_none(tmp_path: Path, catalog: Path) -> None:
    shutil.rmtree(catalog / "labeling")
    assert load_plans(load_catalog(catalog)) == []


def test_every_mistake_is_reported_with_its_position(catalog: Path) -> None:
    text = PLAN.read_text(encoding="utf-8")
    text = (
        text.replace("dataset: support_tickets", "dataset: support_tickets\ncolour: red")
        .replace("overlap: 3", "overlap: 1")
        .replace("size: 60", "size: many")
    )
    _write_plan(catalog, text)
    # Shape mistakes come first and all together; cross-file checks need a plan that parses.
    assert _problems(catalog) == [
        "12:1: colour: unknown field",
        "18:3: sample.size: Input should be a valid integer, unable to parse string as an integer",
        "22:1: overlap: Input should be greater than or equal to 2",
    ]


def test_cross_file_mistakes_name_the_field(catalog: Path) -> None:
    text = PLAN.read_text(encoding="utf-8")
    _write_plan(
        catalog,
        text.replace("fields: [subject, body]", "fields: [subject, body, email]")
        .replace("by: channel", "by: region")
        .replace("label: topic ", "label: theme "),
    )
    problems = _problems(catalog)
    assert "fields.2: 'email' is not a curated column of support_tickets" in " | ".join(problems)
    assert any("sample.by: 'region' is not a curated column" in p for p in problems), problems
    assert any(
        "label: the label config has no control named 'theme'; its controls: topic (Choices)" in p
        for p in problems
    ), problems


def test_unknown_dataset_lists_the_known_ones(catalog: Path) -> None:
    _write_plan(
        catalog, PLAN.read_text(encoding="utf-8").replace("dataset: support_tickets", "dataset: tickets")
    )
    [problem] = _problems(catalog)
    assert (
        "dataset: no source 'tickets' in this catalog; it has: customers, stores, support_tickets" in problem
    )


def test_label_config_must_show_only_plan_fields(catalog: Path) -> None:
    _write_plan(
        catalog, PLAN.read_text(encoding="utf-8").replace("fields: [subject, body]", "fields: [body]")
    )
    [problem] = _problems(catalog)
    assert "fields: the label config shows $subject; list them in fields" in problem


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("<View><Text name='t' value='$body'/>", "label config is not valid XML"),
        (
            '<?xml version="1.0"?><!DOCTYPE v [<!ENTITY a "aaaa">]><View>&a;</View>',
            "label config refused",
        ),
    ],
)
def test_broken_or_hostile_label_config_is_refused(catalog: Path, config: str, message: str) -> None:
    (catalog / "labeling" / "support_topics.xml").write_text(config, encoding="utf-8")
    [problem] = _problems(catalog)
    assert f"label_config: {message}" in problem


def test_missing_files_are_named(catalog: Path) -> None:
    (catalog / "labeling" / "support_topics.xml").unlink()
    (catalog / "labeling" / "support_topics_gold.csv").unlink()
    problems = _problems(catalog)
    assert any("label_config: label config not found: labeling/support_topics.xml" in p for p in problems)
    assert any("gold.path: gold file not found: labeling/support_topics_gold.csv" in p for p in problems)


def test_bad_gold_rows_are_named(catalog: Path) -> None:
    (catalog / "labeling" / "support_topics_gold.csv").write_text(
        "ticket_id,label\nT-000001,payment\nT-000002,\n"
    )
    [problem] = _problems(catalog)
    assert "support_topics_gold.csv: row 3: empty ticket_id or label" in problem


def test_stratified_needs_by_and_thresholds_are_ordered(catalog: Path) -> None:
    text = PLAN.read_text(encoding="utf-8")
    text = text.replace("  by: channel                # each channel gets its share of the sample\n", "")
    text = text.replace("review: 0.667", "review: 0.9")
    _write_plan(catalog, text)
    problems = _problems(catalog)
    assert any("sample: strategy 'stratified' needs 'by'" in p for p in problems), problems
    assert any("acceptance: review (0.9) must not exceed accept (0.8)" in p for p in problems), problems


def test_two_files_with_the_same_plan_version_clash(catalog: Path) -> None:
    shutil.copy(catalog / "labeling" / "support_topics.yaml", catalog / "labeling" / "copy.yaml")
    [problem] = _problems(catalog)
    assert "name: plan 'support_topics' v1 is also defined in" in problem


def test_select_plans_names_unknown_ones() -> None:
    plans = load_plans(load_catalog(REPO / "examples" / "catalog"))
    assert select_plans(plans, []) == plans
    with pytest.raises(KeyError, match="unknown labeling plan"):
        select_plans(plans, ["nope"])
