"""``lockgate query --as ROLE`` and ``lockgate access build|show|policy`` on the example catalog."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from testkit.catalog_fixtures import HASH_KEY
from testkit.published_example import publish_example
from typer.testing import CliRunner

from cli.app import app
from storage import audit
from storage.store import open_store

if TYPE_CHECKING:
    from collections.abc import Iterator

    from typer.testing import Result

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """The example catalog published into a local lake; role outputs built by `lockgate access build`."""
    folder = tmp_path_factory.mktemp("query-as")
    catalog = Path(shutil.copytree(REPO / "examples" / "catalog", folder / "catalog"))
    lake = str(folder / "lake")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCKGATE_HASH_KEY", HASH_KEY)
        publish_example(catalog, lake, bytes.fromhex(HASH_KEY))
        built = CliRunner().invoke(
            app, ["access", "build", "--catalog", str(catalog), "--lake", lake, "--format", "json"]
        )
        assert built.exit_code == 0, built.output
        assert [b["role"] for b in json.loads(built.output)] == ["analyst", "annotator", "privacy_officer"]
        yield catalog, lake


def lockgate(*args: str, user: str = "anna") -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "LOCKGATE_USER": user})


def test_query_as_prints_rows_as_json_csv_and_text(world: tuple[Path, str]) -> None:
    _, lake = world
    sql = "SELECT store_id, manager_email FROM stores ORDER BY store_id LIMIT 3"
    as_json = lockgate("query", "--as", "analyst", sql, "--lake", lake, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.output)
    assert len(rows) == 3 and set(rows[0]) == {"store_id", "manager_email"}
    assert all(len(r["manager_email"]) == 64 for r in rows)  # the contract's keyed hash
    as_csv = lockgate("query", "--as", "analyst", sql, "--lake", lake, "--format", "csv")
    assert list(csv.DictReader(io.StringIO(as_csv.output))) == [
        {k: str(v) for k, v in r.items()} for r in rows
    ]
    as_text = lockgate("query", "--as", "analyst", sql, "--lake", lake)
    assert as_text.exit_code == 0 and "manager_email" in as_text.output and "3 row(s)" in as_text.output
    entry = audit.entries(open_store(lake), action="query")[-1]
    assert (entry.actor, entry.role, entry.source, entry.outcome) == ("anna", "analyst", "stores", "ok")


def test_an_empty_result_still_has_its_csv_header(world: tuple[Path, str]) -> None:
    result = lockgate(
        "query",
        "--as",
        "analyst",
        "SELECT store_id FROM stores WHERE false",
        "--lake",
        world[1],
        "--format",
        "csv",
    )
    assert result.exit_code == 0 and result.output.strip() == "store_id"


def test_a_denied_column_exits_1_naming_it_and_why(world: tuple[Path, str]) -> None:
    result = lockgate("query", "--as", "analyst", "SELECT passport_number FROM customers", "--lake", world[1])
    assert result.exit_code == 1
    assert (
        "column customers.passport_number is hidden from role 'analyst' (pii passport_ru: none)"
        in result.output
    )
    assert "Traceback" not in result.output


def test_a_user_without_the_role_is_denied(world: tuple[Path, str]) -> None:
    result = lockgate(
        "query",
        "--as",
        "privacy_officer",
        "SELECT passport_number FROM customers",
        "--lake",
        world[1],
        user="ivan",
    )
    assert result.exit_code == 1
    assert "user 'ivan' does not hold role 'privacy_officer'" in result.output
    entry = audit.entries(open_store(world[1]), action="query.denied")[-1]
    assert (entry.actor, entry.role, entry.outcome) == ("ivan", "privacy_officer", "denied")


def test_the_privacy_officer_sees_decrypted_values(world: tuple[Path, str]) -> None:
    sql = "SELECT passport_number FROM customers WHERE passport_number IS NOT NULL LIMIT 5"
    result = lockgate(
        "query", "--as", "privacy_officer", sql, "--lake", world[1], "--format", "json", user="olga"
    )
    assert result.exit_code == 0, result.output
    with (world[0] / "data" / "customers.csv").open(encoding="utf-8", newline="") as f:
        passports = {r["passport_number"] for r in csv.DictReader(f)}
    assert {r["passport_number"] for r in json.loads(result.output)} <= passports


def test_access_show_lists_what_each_role_sees_and_why(world: tuple[Path, str]) -> None:
    result = lockgate("access", "show", "--catalog", str(world[0]), "--role", "analyst", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {(r["dataset"], r["column"]): r for r in json.loads(result.output)}
    assert rows["customers", "passport_number"]["shown"] == "none"
    assert rows["customers", "email"]["shown"] == "masked"
    unknown = lockgate("access", "show", "--catalog", str(world[0]), "--role", "auditor")
    assert unknown.exit_code == 1 and "defines no role 'auditor'" in unknown.output


def test_access_policy_for_an_s3_lake(world: tuple[Path, str]) -> None:
    result = lockgate(
        "access", "policy", "--role", "annotator", "--lake", "s3://lake-bucket/prod", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    policy = json.loads(result.output)
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["ReadOwnRoleOutput"]["Resource"] == ["arn:aws:s3:::lake-bucket/prod/roles/annotator/*"]
    assert statements["ListOwnRoleOutputAndAuditLog"]["Condition"]["StringLike"]["s3:prefix"] == [
        "prod/roles/annotator/",
        "prod/roles/annotator/*",
        "prod/audit/*",
    ]
    assert statements["AppendAuditLog"]["Resource"] == ["arn:aws:s3:::lake-bucket/prod/audit/*"]
    deny = statements["DenyUnmaskedLayers"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"]["StringEquals"]["s3:ExistingObjectTag/layer"] == ["raw", "quarantine", "state"]
    readable = [s for s in policy["Statement"] if s["Effect"] == "Allow" and "s3:GetObject" in s["Action"]]
    assert sorted(r for s in readable for r in s["Resource"]) == [
        "arn:aws:s3:::lake-bucket/prod/audit/*",
        "arn:aws:s3:::lake-bucket/prod/roles/annotator/*",
    ]
    local = lockgate("access", "policy", "--role", "annotator", "--lake", world[1])
    assert local.exit_code == 1 and "not an S3 lake" in local.output
    bad = lockgate("access", "policy", "--role", "../x", "--lake", "s3://b/p")
    assert bad.exit_code == 1 and "is not a role name" in bad.output
