"""The example catalog's customers delivered as several CSV files (a glob), for the partition tests."""

from __future__ import annotations

import csv
import hashlib
import json
from typing import TYPE_CHECKING, Any

import yaml

from flows.errors import RunFailed
from flows.pipeline import ingest
from flows.results import RunResult, SourceResult
from testkit.catalog_fixtures import read_customers

if TYPE_CHECKING:
    from pathlib import Path

    import polars as pl

UNIQUE_RULE = "unique_customer"
# What differs between two runs of the same data by construction: ids and keys that name the run.
RUN_SPECIFIC = {"run_id", "raw_keys", "quarantine_key", "docs_uri", "started_at", "finished_at"}


def run_customers(catalog: Path, lake: Path, **options: Any) -> tuple[RunResult, SourceResult]:
    """Ingest only the catalog's customers; the run and its one source's result, stopped or not."""
    state = ingest(catalog=str(catalog), lake=str(lake), sources=["customers"], return_state=True, **options)
    outcome = state.result(raise_on_failure=False)
    run = outcome.run if isinstance(outcome, RunFailed) else outcome
    assert isinstance(run, RunResult), run
    [customers] = run.sources
    return run, customers


def rows_checksum(frame: pl.DataFrame, by: str) -> str:
    """SHA-256 of the rows sorted by `by`, as JSON with the column names: equal checksums, equal data."""
    rows = json.dumps(frame.sort(by).to_dicts(), default=str, ensure_ascii=False)
    return hashlib.sha256(rows.encode()).hexdigest()


def split_customers(catalog: Path, files: int = 4, duplicate: tuple[int, int] | None = None) -> list[Path]:
    """Rewrite the catalog's customers as `files` CSV files of consecutive rows (``data/customers-N.csv``,
    read through the glob ``data/customers-*.csv``) and return them in order.

    The contract quarantines duplicate ids instead of blocking on them (rule ``unique_customer``), and
    redacts the passport number it encrypted: encryption draws a random nonce per value, so two runs of
    the same rows would never publish the same bytes. `duplicate` = (i, j): row j takes row i's id.
    """
    rows = read_customers(catalog)
    if duplicate is not None:
        first, second = duplicate
        rows[second]["customer_id"] = rows[first]["customer_id"]
    (catalog / "data" / "customers.csv").unlink()
    size = -(-len(rows) // files)
    paths = []
    for number in range(1, files + 1):
        path = catalog / "data" / f"customers-{number}.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows[(number - 1) * size : number * size])
        paths.append(path)
    _edit(catalog / "sources" / "customers.yaml", _glob)
    _edit(catalog / "contracts" / "customers.yaml", _quarantine_duplicates)
    return paths


def _edit(path: Path, change: Any) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _glob(passport: dict[str, Any]) -> None:
    passport["connector"]["path"] = "data/customers-*.csv"


def _quarantine_duplicates(contract: dict[str, Any]) -> None:
    [table] = contract["schema"]
    for prop in table["properties"]:
        if prop["name"] == "customer_id":
            prop.pop("unique", None)
            prop.pop("primaryKey", None)
        if prop["name"] == "passport_number":
            prop["masking"] = "redact"
    [unique] = [
        rule for rule in table["quality"] if rule["expectation"] == "expect_column_values_to_be_unique"
    ]
    unique.update(id=UNIQUE_RULE, action="quarantine")
