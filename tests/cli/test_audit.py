"""``lockgate audit`` and ``lockgate audit verify`` on a local lake and on a real S3 server."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from cli.app import app
from storage import audit, layout
from storage.store import open_store

if TYPE_CHECKING:
    from pathlib import Path

    from typer.testing import Result

    from storage.base import ObjectStore

FIELDS = ["seq", "at", "actor", "role", "action", "source", "outcome", "details", "prev_hash", "hash"]


def lockgate(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def record(store: ObjectStore) -> None:
    audit.append(
        store,
        actor="ann",
        role="owner",
        action="retention.delete",
        source="stores",
        details={"objects": 3, "keys": ["raw/stores/a.csv"], "note": "[red]x[/red]"},
    )
    audit.append(store, actor="bob", role="analyst", action="query.denied", outcome="denied")
    audit.append(
        store, actor="ann", role="owner", action="erasure", source="orders", details={"subject": "ab" * 32}
    )


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    record(open_store(str(root)))
    return root


def test_lists_every_entry_as_a_table(lake: Path) -> None:
    result = lockgate("audit", "--lake", str(lake))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "seq" in lines[1] and "details" in lines[1]
    rows = [line for line in lines if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == ["1", "2", "3"]
    assert "retention.delete" in rows[0] and "stores" in rows[0] and "objects=3" in rows[0]
    assert "[red]x[/red]" in result.stdout  # values print literally, never as markup
    assert lines[-1] == "3 entries"


@pytest.mark.parametrize(
    "filters,expected",
    [
        (["--role", "owner"], [1, 3]),
        (["--action", "retention"], [1]),
        (["--action", "query.denied"], [2]),
        (["--source", "orders"], [3]),
        (["--role", "owner", "--source", "stores"], [1]),
        (["--since", "2000-01-01"], [1, 2, 3]),
        (["--since", "2999-01-01T00:00:00+03:00"], []),
    ],
)
def test_filters(lake: Path, filters: list[str], expected: list[int]) -> None:
    result = lockgate("audit", "--lake", str(lake), *filters, "--format", "json")
    assert result.exit_code == 0, result.output
    assert [entry["seq"] for entry in json.loads(result.stdout)] == expected


def test_no_match_is_said_in_text(lake: Path) -> None:
    result = lockgate("audit", "--lake", str(lake), "--role", "nobody")
    assert (result.exit_code, result.stdout) == (0, "no audit entries match the filters\n")


def test_json_is_the_entries_as_written(lake: Path) -> None:
    result = lockgate("audit", "--lake", str(lake), "--format", "json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    stored = [json.loads(open_store(str(lake)).get_bytes(layout.audit_key(n))) for n in (1, 2, 3)]
    assert listed == stored


def test_csv_has_one_row_per_entry_with_details_as_json(lake: Path) -> None:
    result = lockgate("audit", "--lake", str(lake), "--format", "csv", "--role", "owner")
    assert result.exit_code == 0, result.output
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert reader.fieldnames == FIELDS
    rows = list(reader)
    assert [row["seq"] for row in rows] == ["1", "3"]
    assert json.loads(rows[0]["details"]) == {
        "objects": 3,
        "keys": ["raw/stores/a.csv"],
        "note": "[red]x[/red]",
    }
    assert rows[0]["role"] == "owner"
    assert rows[0]["prev_hash"] == "0" * 64


def test_csv_of_an_empty_listing_still_has_its_header(lake: Path) -> None:
    result = lockgate("audit", "--lake", str(lake), "--format", "csv", "--action", "rollback")
    assert (result.exit_code, result.stdout_bytes) == (0, ",".join(FIELDS).encode() + b"\r\n")  # RFC 4180


def test_verify_passes_an_intact_log(lake: Path) -> None:
    result = lockgate("audit", "verify", "--lake", str(lake))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("audit log intact: 3 entries chained\n")
    as_json = lockgate("audit", "verify", "--lake", str(lake), "--format", "json")
    check = json.loads(as_json.stdout)
    assert (as_json.exit_code, check["ok"], check["entries"], check["first_broken"]) == (0, True, 3, None)
    assert check["head"] in result.stdout


def test_verify_names_the_first_broken_entry_and_exits_1(lake: Path) -> None:
    path = lake / layout.audit_key(2)
    fields = json.loads(path.read_bytes())
    path.write_text(json.dumps({**fields, "outcome": "ok"}), encoding="utf-8")  # hide a denial
    result = lockgate("audit", "verify", "--lake", str(lake))
    assert result.exit_code == 1
    assert result.stdout.startswith("audit log broken at entry 2: 'audit/000000000002.json' was changed")
    as_json = lockgate("audit", "verify", "--lake", str(lake), "--format", "json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["first_broken"] == 2


def test_verify_names_a_deleted_entry(lake: Path) -> None:
    (lake / layout.audit_key(1)).unlink()
    result = lockgate("audit", "verify", "--lake", str(lake))
    assert result.exit_code == 1
    assert "broken at entry 1: entry 1 is missing" in result.stdout


def test_listing_a_broken_log_fails_cleanly_and_points_at_verify(lake: Path) -> None:
    (lake / layout.audit_key(3)).write_bytes(b"garbage")
    result = lockgate("audit", "--lake", str(lake))
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "'audit/000000000003.json' is not valid JSON" in result.stderr
    assert "lockgate audit verify" in result.stderr


@pytest.mark.parametrize("command", [["audit"], ["audit", "verify"]])
def test_reading_never_creates_a_lake(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "nowhere"
    result = lockgate(*command, "--lake", str(missing))
    assert result.exit_code == 1
    assert "no lake at" in result.stderr
    assert not missing.exists()


def test_an_empty_lake_has_an_empty_log(tmp_path: Path) -> None:
    listed = lockgate("audit", "--lake", str(tmp_path))
    assert (listed.exit_code, listed.stdout) == (0, "the audit log is empty\n")
    checked = lockgate("audit", "verify", "--lake", str(tmp_path))
    assert (checked.exit_code, checked.stdout) == (0, "audit log is empty: nothing to verify\n")
    assert list(tmp_path.iterdir()) == []


def test_options_before_verify_are_refused_not_ignored(lake: Path) -> None:
    """`lockgate audit --lake x verify` must not quietly verify the default lake."""
    result = lockgate("audit", "--lake", str(lake), "verify")
    assert result.exit_code == 2
    assert "give --lake after `verify`" in result.output


def test_a_bad_since_is_a_usage_error(lake: Path) -> None:
    result = lockgate("audit", "--lake", str(lake), "--since", "last tuesday")
    assert result.exit_code == 2
    assert "expected a date" in result.output


def test_on_s3(bucket: str) -> None:
    lake = f"s3://{bucket}/lake"
    record(open_store(lake))
    listed = lockgate("audit", "--lake", lake, "--format", "json", "--source", "stores")
    assert listed.exit_code == 0, listed.output
    assert [entry["actor"] for entry in json.loads(listed.stdout)] == ["ann"]
    checked = lockgate("audit", "verify", "--lake", lake)
    assert checked.exit_code == 0, checked.output
    open_store(lake).delete(layout.audit_key(2))
    broken = lockgate("audit", "verify", "--lake", lake, "--format", "json")
    assert broken.exit_code == 1
    assert json.loads(broken.stdout)["first_broken"] == 2
