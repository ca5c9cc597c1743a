"""`lockgate pii scan` on a local file: kinds and row counts per column, never the values."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from typer.testing import CliRunner

from cli.app import app

if TYPE_CHECKING:
    from pathlib import Path


def test_pii_scan_command(tmp_path: Path) -> None:
    data = tmp_path / "contacts.csv"
    data.write_text(
        "id,contact,note\n1,anna.petrova@example.com,delivered on time and in good order\n"
        "2,+7 912 345-67-89,please ask John Smith to call the depot back\n"
        "3,boris@example.org,customer asked for a paper invoice by post\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["pii", "scan", str(data), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["columns"]["contact"] == {"kinds": {"email": 2, "phone": 1}, "rows_scanned": 3}
    assert report["columns"]["id"]["kinds"] == {}
    assert "person_name" in report["columns"]["note"]["kinds"]

    text = CliRunner().invoke(app, ["pii", "scan", str(data), "--fail-on-find"], env={"COLUMNS": "200"})
    assert text.exit_code == 1
    assert "email (2), phone (1)" in text.output
    for value in ("anna.petrova@example.com", "+7 912 345-67-89", "John Smith"):
        assert value not in text.output
        assert value not in result.output

    unknown = CliRunner().invoke(app, ["pii", "scan", str(data.with_suffix(".xlsx"))])
    assert unknown.exit_code == 2

    table = CliRunner().invoke(app, ["pii", "scan", str(data), "--format", "table"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert table.output == CliRunner().invoke(app, ["pii", "scan", str(data)], env={"COLUMNS": "200"}).output


def test_pii_scan_reads_every_row_unless_asked_to_sample(tmp_path: Path) -> None:
    """One e-mail among 50,000 rows is found: the scan reads every row by default."""
    data = tmp_path / "orders.csv"
    rows = [f"{i},order {i} shipped" for i in range(50_000)]
    rows[31_337] = "31337,resend the invoice to ivan.petrov@example.com"
    data.write_text("id,note\n" + "\n".join(rows) + "\n", encoding="utf-8")
    full = CliRunner().invoke(app, ["pii", "scan", str(data), "--format", "json"])
    assert full.exit_code == 0, full.output
    report = json.loads(full.output)
    assert (report["sampled"], report["rows_scanned"]) == (False, 50_000)
    assert report["columns"]["note"]["kinds"]["email"] == 1

    sampled = CliRunner().invoke(app, ["pii", "scan", str(data), "--sample-rows", "100", "--format", "json"])
    assert json.loads(sampled.output)["rows_scanned"] == 100
