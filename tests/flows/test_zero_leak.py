"""Proof of zero leaks: personal data planted in the example catalog appears nowhere downstream in clear.

Declared PII columns, free text with e-mails, phones and names inside, and an undeclared column are
all checked against everything a run produces: curated Parquet, the DuckDB warehouse, the Prefect logs
and artifacts, the Great Expectations Data Docs, and what the command line prints.
"""

from __future__ import annotations

import csv
import json
import re
from typing import TYPE_CHECKING

import polars as pl
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from typer.testing import CliRunner

from cli.app import app
from flows.pipeline import ingest
from flows.results import SourceStatus
from storage import layout
from storage.warehouse import query

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("prefect_api")

# birth_date is generalised to its year: a birthday on 1 January looks the same after, and is no leak.
PII_COLUMNS = ["full_name", "email", "phone", "snils", "inn", "passport_number", "card_number"]
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def _planted(catalog: Path) -> set[str]:
    """Every PII value in the customers source, declared columns and inside free text."""
    with (catalog / "data" / "customers.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    values = {r[c] for r in rows for c in PII_COLUMNS if len(r[c]) >= 6}
    values |= {m for r in rows for m in EMAIL.findall(r["comment"])}
    with (catalog / "data" / "support_tickets.ndjson").open(encoding="utf-8") as f:
        tickets = [json.loads(line) for line in f]
    values |= {m for t in tickets for field in ("subject", "body") for m in EMAIL.findall(t[field] or "")}
    return values


def _leaked(planted: set[str], text: str) -> list[str]:
    return sorted(v for v in planted if v in text)


def test_no_planted_pii_anywhere_downstream(catalog: Path, tmp_path: Path, hash_key: bytes) -> None:
    lake = tmp_path / "lake"
    planted = _planted(catalog)
    assert len(planted) > 5000

    result = CliRunner().invoke(
        app, ["run", "--catalog", str(catalog), "--lake", str(lake)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert _leaked(planted, result.output) == []

    curated = "\n".join(
        pl.read_parquet(path).cast(pl.String).write_csv()
        for path in sorted((lake / "curated").rglob("*.parquet"))
    )
    assert "[REDACTED]" in curated
    assert _leaked(planted, curated) == []
    birth = query(
        layout.warehouse_path(str(lake)), "SELECT DISTINCT strftime(birth_date, '%m-%d') FROM customers"
    )
    assert birth.to_series().drop_nulls().to_list() == ["01-01"]

    warehouse = layout.warehouse_path(str(lake))
    views = query(warehouse, "SELECT view_name FROM duckdb_views() WHERE NOT internal").to_series().to_list()
    assert sorted(views) == ["customers", "stores", "support_tickets"]
    dumped = "\n".join(query(warehouse, f"SELECT * FROM {v}").cast(pl.String).write_csv() for v in views)
    assert _leaked(planted, dumped) == []

    with get_client(sync_client=True) as client:
        [flow_run] = client.read_flow_runs(limit=1, sort="START_TIME_DESC")
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])))
        artifacts = client.read_artifacts()
    docs = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in (lake / "docs").rglob("*.html"))
    assert "Expectation" in docs
    assert _leaked(planted, docs) == []
    assert logs, "the run logged nothing?"
    assert _leaked(planted, "\n".join(log.message for log in logs)) == []
    assert _leaked(planted, "\n".join(str(a.data) for a in artifacts)) == []


def _contract(catalog: Path, name: str) -> Path:
    return catalog / "contracts" / f"{name}.yaml"


def test_undeclared_pii_stops_the_source_naming_column_and_kind(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    path = _contract(catalog, "customers")
    text = path.read_text(encoding="utf-8")
    # The owner forgets that the comment column carries personal data.
    text = text.replace("        pii: free_text\n        masking: redact_pii\n", "")
    path.write_text(text, encoding="utf-8")
    planted = _planted(catalog)

    result = CliRunner().invoke(
        app,
        ["run", "--catalog", str(catalog), "--lake", str(tmp_path / "lake"), "--source", "customers"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 1, result.output
    assert "pii: column comment holds personal data the contract does not declare (email in" in result.output
    assert _leaked(planted, result.output) == []
    assert not (tmp_path / "lake" / "curated" / "customers").exists()


def test_masking_that_leaves_pii_behind_is_a_stop_line(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    path = _contract(catalog, "customers")
    # Free-text redaction narrowed to e-mails: the phones and names in the comments survive masking.
    text = path.read_text(encoding="utf-8").replace(
        "masking: redact_pii", "masking: {rule: redact_pii, kinds: [email]}"
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(Exception, match="did not publish") as info:
        ingest(catalog=str(catalog), lake=str(tmp_path / "lake"), sources=["customers"])
    [customers] = info.value.run.sources
    assert customers.status is SourceStatus.STOPPED
    [finding] = customers.pii_findings
    assert finding.startswith("column comment still holds personal data after masking by redact_pii (")
    assert "phone in" in finding
    assert "email" not in finding
    assert not (tmp_path / "lake" / "curated" / "customers").exists()


def test_three_emails_in_two_hundred_thousand_rows_stop_the_line(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    """Every PII column is declared; a column declared without pii carries an e-mail in 3 rows of 200,000.

    A gate that reads a sample of 20,000 rows misses all three with probability 0.9³ ≈ 73%.
    """
    data = catalog / "data" / "stores.csv"
    header, *rows = data.read_text(encoding="cp1251").splitlines()
    fields = [row.split(";") for row in rows]
    lines = [header]
    for i in range(200_000):
        store = list(fields[i % len(fields)])
        store[0] = str(i + 1)
        if i in (17, 99_999, 199_998):
            store[1] = f"Магазин, пишите на manager{i}@example.com"
        lines.append(";".join(store))
    data.write_text("\n".join(lines) + "\n", encoding="cp1251")
    contract = _contract(catalog, "stores")
    contract.write_text(
        contract.read_text(encoding="utf-8").replace("max_value: 10000}", "max_value: 1000000}"),
        encoding="utf-8",
    )

    with pytest.raises(Exception, match="did not publish") as info:
        ingest(catalog=str(catalog), lake=str(tmp_path / "lake"), sources=["stores"])
    [stores] = info.value.run.sources
    assert stores.status is SourceStatus.STOPPED
    [finding] = stores.pii_findings
    assert finding.startswith(
        "column name holds personal data the contract does not declare (email in 3 of 200000 scanned rows"
    )
    assert not (tmp_path / "lake" / "curated" / "stores").exists()
