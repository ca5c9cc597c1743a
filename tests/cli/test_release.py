"""`lockgate release show|verify ID` on a local lake whose raw input and curated versions were written
through the storage API: every part of a release shown, its id re-checked, a tampered input named."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from cli.app import app
from storage.curated import publish, rollback
from storage.raw import RawFile, land_raw
from storage.release import ReleaseParts
from storage.store import open_store

if TYPE_CHECKING:
    from pathlib import Path

FRAME = pl.DataFrame({"id": [1, 2], "email": ["h1", "h2"]})


@dataclass(frozen=True)
class Released:
    lake: Path
    raw: RawFile
    parts: ReleaseParts


@pytest.fixture
def released(tmp_path: Path) -> Released:
    """`customers` landed raw and published as v0 from it, then v1 from other parts and rolled back to
    v0's data (v2): the release of v0 is carried by v0 and v2."""
    lake = tmp_path / "lake"
    store = open_store(str(lake))
    delivery = tmp_path / "customers.csv"
    delivery.write_bytes(b"id,email\r\n1,a@example.org\r\n2,b@example.org\r\n")
    [raw] = land_raw(store, "customers", "r1", date(2026, 3, 7), [delivery])
    parts = ReleaseParts(
        inputs=[raw.sha256],
        contract_id="customers",
        contract_version="1.0.0",
        contract_sha256="c" * 64,
        code_version="0.1.0+gabc1234",
        key_ids={"email": "hash:3fa1c2d4e5f6"},
        config={"mode": "overwrite"},
    )
    publish(store, "customers", FRAME, release=parts, run_id="r1", masked_columns=parts.key_ids)
    other = parts.model_copy(update={"contract_version": "1.1.0"})
    publish(store, "customers", FRAME.head(1), release=other, run_id="r2", masked_columns=parts.key_ids)
    rollback(store, "customers", 0, by="alice", reason="1.1.0 dropped a row")
    return Released(lake, raw, parts)


def lockgate(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_show_prints_every_part_and_the_versions_carrying_the_release(released: Released) -> None:
    parts = released.parts
    result = lockgate("release", "show", parts.release_id, "--lake", str(released.lake))
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert lines[0] == parts.release_id
    assert f"contract customers 1.0.0 (sha256 {'c' * 16}…)" in lines
    assert "code 0.1.0+gabc1234" in lines
    assert f"inputs {released.raw.sha256}" in lines
    assert "masking keys email=hash:3fa1c2d4e5f6" in lines
    assert "erasures none" in lines
    assert "configuration mode=overwrite" in lines
    assert "versions customers v0 (publish), customers v2 (rollback)" in lines


def test_show_as_json_lists_every_part(released: Released) -> None:
    parts = released.parts
    result = lockgate("release", "show", parts.release_id, "--lake", str(released.lake), "--format", "json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["release_id"] == parts.release_id
    assert shown["parts"] == parts.model_dump(mode="json")
    assert set(shown["parts"]) == set(ReleaseParts.model_fields)
    assert [(v["source"], v["version"], v["action"]) for v in shown["versions"]] == [
        ("customers", 0, "publish"),
        ("customers", 2, "rollback"),
    ]


def test_verify_recomputes_the_id_and_rehashes_the_raw_input(released: Released) -> None:
    result = lockgate("release", "verify", released.parts.release_id, "--lake", str(released.lake))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{released.parts.release_id}: parts hash to {released.parts.release_id}"
    assert lines[1] == f"input {released.raw.sha256[:16]}…: verified ({released.raw.key})"
    assert lines[-1] == "release verified"


def test_verify_names_a_tampered_input_and_exits_1(released: Released) -> None:
    (released.lake / released.raw.key).write_bytes(b"id,email\r\n1,tampered@example.org\r\n")
    result = lockgate("release", "verify", released.parts.release_id, "--lake", str(released.lake))
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    assert f"input {released.raw.sha256[:16]}…: mismatch ({released.raw.key})" in result.stdout
    assert result.stdout.splitlines()[-1] == "release NOT verified"
    assert "tampered" not in result.output  # names the object, never its content

    as_json = lockgate(
        "release", "verify", released.parts.release_id, "--lake", str(released.lake), "--format", "json"
    )
    assert as_json.exit_code == 1
    [checked] = json.loads(as_json.stdout)["inputs"]
    assert (checked["state"], checked["key"]) == ("mismatch", released.raw.key)


def test_an_input_the_lake_no_longer_holds_is_gone_not_a_mismatch(released: Released) -> None:
    """Erasure and retention remove raw objects on purpose (and audit it): the release still verifies."""
    (released.lake / released.raw.key).unlink()
    result = lockgate("release", "verify", released.parts.release_id, "--lake", str(released.lake))
    assert result.exit_code == 0, result.output
    assert f"input {released.raw.sha256[:16]}…: gone ({released.raw.key})" in result.stdout


@pytest.mark.parametrize("command", ["show", "verify"])
def test_an_unknown_release_is_a_clear_error(released: Released, command: str) -> None:
    result = lockgate("release", command, "rel-000000000000000000000000", "--lake", str(released.lake))
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    assert result.stderr.strip() == (
        f"no curated version in {released.lake} carries release 'rel-000000000000000000000000'"
    )
    assert result.stdout == ""
