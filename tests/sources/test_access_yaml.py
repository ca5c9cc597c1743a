"""``access.yaml``: the example's roles resolve as documented, labels datasets follow the dataset they
label, and mistakes are reported as file:line:column by the loader and by ``lockgate validate``, all of
them in one pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML
from typer.testing import CliRunner

from cli.app import app
from contracts.errors import CatalogError
from labeling.access import LABELS_COLUMNS, catalog_access
from sources.access import Visibility, load_access
from sources.catalog import load_catalog

REPO = Path(__file__).resolve().parents[2]

BROKEN = """\
roles:
  analyst:
    sensitivity: [internal, secret]
    columns: partly
  auditor:
    sensitivity: [internal]
    datasets: [customers, orders]
users:
  anna: [analyst, owner]
groups:
  privacy_office:
    members: [olga]
    roles: [privacy_officer]
"""


def _problems(catalog: Path) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        load_access(load_catalog(catalog))
    return [str(p) for p in caught.value.problems]


def test_the_example_roles_resolve_as_documented() -> None:
    roles = {r.role: r for r in catalog_access(load_catalog(REPO / "examples" / "catalog")) or []}
    assert sorted(roles) == ["analyst", "annotator", "privacy_officer"]
    customers = {d.dataset: d for d in roles["analyst"].datasets}["customers"]
    shown = {c.name: c.visibility for c in customers.columns}
    assert shown["passport_number"] is Visibility.NONE and shown["email"] is Visibility.MASKED
    officer = {d.dataset: d for d in roles["privacy_officer"].datasets}["customers"]
    [decrypted] = [c for c in officer.columns if c.decrypt_key]
    assert (decrypted.name, decrypted.decrypt_key) == ("passport_number", "default")
    annotator = {d.dataset: d for d in roles["annotator"].datasets}
    assert [d for d, a in annotator.items() if a.readable] == ["support_tickets"]
    assert [c.name for c in annotator["support_tickets"].visible] == ["ticket_id", "subject", "body"]


LABELS_POLICY = """\
roles:
  reader:
    sensitivity: [public, internal, confidential, restricted]
  keys_only:
    sensitivity: [confidential]
    columns: none
    classification: {internal: clear}
  customers_only:
    sensitivity: [public, internal, confidential, restricted]
    datasets: [customers]
  labeler:
    sensitivity: [confidential]
    labeling: true
"""


def test_labels_datasets_follow_the_dataset_they_label(catalog: Path) -> None:
    (catalog / "access.yaml").write_text(LABELS_POLICY, encoding="utf-8")
    roles = {r.role: r.datasets for r in catalog_access(load_catalog(catalog)) or []}
    names = [d.dataset for d in roles["reader"]]
    assert names[names.index("support_tickets") + 1] == "labels_support_tickets"
    labels = {
        role: {d.dataset: d for d in datasets}["labels_support_tickets"] for role, datasets in roles.items()
    }

    reader = labels["reader"]
    assert (reader.readable, reader.sensitivity) == (True, "confidential")
    assert [c.name for c in reader.columns] == ["ticket_id", *LABELS_COLUMNS]
    assert all(c.visibility is Visibility.CLEAR for c in reader.columns)
    assert reader.columns[0].reason.startswith("as in support_tickets: the grant's default: masked")

    keys_only = labels["keys_only"]  # the key shown as in the dataset; the labeling output by the default
    assert keys_only.readable and [c.name for c in keys_only.visible] == ["ticket_id"]
    assert keys_only.columns[0].reason.startswith("as in support_tickets: classification internal: clear")

    assert not labels["customers_only"].readable
    assert (
        labels["customers_only"].reason == "labels of support_tickets, denied: not among the role's datasets"
    )
    assert not labels["labeler"].readable
    assert labels["labeler"].reason.startswith("labels are not what labeling plans send")


def test_model_errors_point_at_their_line_and_column(catalog: Path) -> None:
    (catalog / "access.yaml").write_text(BROKEN, encoding="utf-8")
    problems = _problems(catalog)
    path = catalog / "access.yaml"
    assert any(p.startswith(f"{path}:3:29: roles.analyst.sensitivity.1: ") for p in problems), problems
    assert any(p.startswith(f"{path}:4:5: roles.analyst.columns") for p in problems), problems


def test_unknown_roles_and_datasets_point_at_their_line_and_column(catalog: Path) -> None:
    text = BROKEN.replace("[internal, secret]", "[internal]").replace("columns: partly", "columns: none")
    (catalog / "access.yaml").write_text(text, encoding="utf-8")
    path = catalog / "access.yaml"
    assert _problems(catalog) == [
        f"{path}:7:27: roles.auditor.datasets.1: no source 'orders' in this catalog; "
        "it has: customers, stores, support_tickets",
        f"{path}:9:19: users.anna.1: unknown role 'owner'; access.yaml defines: analyst, auditor",
        f"{path}:13:13: groups.privacy_office.roles.0: unknown role 'privacy_officer'; "
        "access.yaml defines: analyst, auditor",
    ]


def test_validate_reports_access_problems_with_the_rest(catalog: Path) -> None:
    (catalog / "access.yaml").write_text(BROKEN, encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", "--catalog", str(catalog)], env={"COLUMNS": "200"})
    assert result.exit_code != 0
    assert f"{catalog / 'access.yaml'}:3:29: roles.analyst.sensitivity.1: " in result.output
    assert f"{catalog / 'access.yaml'}:4:5: roles.analyst.columns: " in result.output
    (catalog / "access.yaml").unlink()
    assert CliRunner().invoke(app, ["validate", "--catalog", str(catalog)]).exit_code == 0


def test_a_catalog_without_access_yaml_has_no_roles(catalog: Path) -> None:
    (catalog / "access.yaml").unlink()
    assert catalog_access(load_catalog(catalog)) is None


def test_the_example_passes_the_editor_schema() -> None:
    schema = json.loads((REPO / "schemas" / "access.schema.json").read_text(encoding="utf-8"))
    path = REPO / "examples" / "catalog" / "access.yaml"
    assert path.read_text(encoding="utf-8").splitlines()[0] == (
        "# yaml-language-server: $schema=../../schemas/access.schema.json"
    )
    document = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    assert list(Draft202012Validator(schema).iter_errors(document)) == []
    bad = YAML(typ="safe").load(BROKEN)
    assert list(Draft202012Validator(schema).iter_errors(bad)), (
        "the editor schema flags what the loader flags"
    )
