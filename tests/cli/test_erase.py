"""`lockgate erase`: what a privacy officer types and sees. The value given is never printed back.

The erasure itself is tested end to end in tests/flows/test_erase.py; here, the command's output,
formats and exit codes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from testkit.erasure_catalog import SUBJECT_EMAIL, write_erasure_catalog
from typer.testing import CliRunner

from cli.app import app
from flows.pipeline import ingest

if TYPE_CHECKING:
    from pathlib import Path


def _erase(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["erase", *args], input=stdin, env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_requests_that_cannot_be_carried_out_exit_1_without_the_value(tmp_path: Path) -> None:
    catalog = write_erasure_catalog(tmp_path / "catalog")
    lake = tmp_path / "lake"
    base = ["--source", "customers", "--catalog", str(catalog), "--lake", str(lake)]

    code, output = _erase(*base, "--where", "ann@example.org")
    assert code == 1 and "COLUMN=VALUE" in output

    code, output = _erase(*base, "--where", "mail=ann@example.org")
    assert code == 1 and "customers has no column 'mail'" in output and "email" in output
    assert "ann@example.org" not in output

    code, output = _erase(*base, "--where", "email=ann@example.org")
    assert code == 1 and "no lake at" in output
    assert not lake.exists()  # reading a lake never creates one

    code, output = _erase(*base, "--where", "email=-", stdin="\n")
    assert code == 1 and "standard input" in output


@pytest.mark.usefixtures("prefect_api", "hash_key")
def test_dry_run_erase_and_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_KEY_SUPPRESSION", "a suppression key of the test")
    catalog = write_erasure_catalog(tmp_path / "catalog")
    lake = tmp_path / "lake"
    ingest(catalog=str(catalog), lake=str(lake), sources=["customers"])
    base = ["--source", "customers", "--catalog", str(catalog), "--lake", str(lake)]
    value = SUBJECT_EMAIL.lower()

    code, output = _erase(*base, "--where", f"email={value}", "--dry-run")
    assert code == 0, output
    assert "dry run, nothing changed" in output
    assert "rows would remove: raw 2, quarantine 1, curated 1" in output
    assert value not in output.lower()

    code, output = _erase(*base, "--where", f"email={value}", "--dry-run", "--format", "json")
    assert code == 0, output
    receipt = json.loads(output)
    assert receipt["status"] == "dry-run" and receipt["rows"] == {"raw": 2, "quarantine": 1, "curated": 1}
    assert len(receipt["subject_hash"]) == 64 and value not in output.lower()

    code, output = _erase(*base, "--where", "email=nobody@example.org")
    assert code == 1 and "nothing erased" in output and "nobody@example.org" not in output

    # The value from standard input: it stays out of the shell's history and the process list.
    code, output = _erase(*base, "--where", "email=-", stdin=f"{SUBJECT_EMAIL}\n")
    assert code == 0, output
    assert "rows removed: raw 2, quarantine 1, curated 1" in output
    assert "receipt: erasure/" in output and "suppression list: suppression/customers/email/" in output
    assert value not in output.lower()

    code, output = _erase(*base, "--where", f"email={value}")  # erased: nothing left to find
    assert code == 1 and "nothing erased" in output

    # A phone, masked by `partial`, names no one in curated: rows are matched by the primary key of the
    # raw records found (customer 1003's phone, typed with other spacing).
    code, output = _erase(*base, "--where", "phone=7 900 100 303 13")
    assert code == 0, output
    assert "rows removed: raw 1, quarantine 0, curated 1" in output
    assert "matched by primary key customer_id" in output
