"""The bench catalogs: one source, its passport and its contract, written around the reference CSV.

The contract is the example catalog's customers contract grown to every masking rule a contract can use
except drop and encrypt, with ten expectations (one of them warn-level, which the generated data fails on
purpose). The pipeline path ingests this catalog; the naive path writes the same rules by hand.
``lockgate bench --sources N`` ingests `write_sources_catalog`'s: N such sources, each with its own
passport, contract and slice of one reference CSV.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from lockgate_bench.errors import BenchDataError

if TYPE_CHECKING:
    from pathlib import Path

SOURCE_NAME = "bench_customers"
# Column → masking rule, as written in the contract below.
PII_COLUMNS: dict[str, str] = {
    "full_name": "hash",
    "email": "hash",
    "phone": "partial",
    "snils": "redact",
    "inn": "redact",
    "card_number": "partial",
    "birth_date": "generalize",
    "comment": "redact_pii",
}

PASSPORT_YAML = """\
name: {name}
title: Benchmark customers
description: >-
  Generated reference table for lockgate bench: customers shaped like the example catalog's, fake and
  seeded (seed {seed}).
owner: bench-owner@example.com
steward: bench-steward@example.com
purpose: Measure the pipeline's throughput and memory against hand-written and minimal baselines.
legal_basis: legitimate_interests
update_frequency: daily
sensitivity: restricted
retention_days: 30
contract: contracts/{name}.yaml
connector:
  kind: csv
  path: data/{name}.csv
  delimiter: ","
  header: true
  encoding: utf-8
  null_values: [""]
tags: [bench, pii]
"""

# Ten rules in all: the primary key implies not-null and unique, and eight are written out.
CONTRACT_YAML = r"""
apiVersion: v3.1.0
kind: DataContract
id: {name}
name: Benchmark customers
version: 1.0.0
status: active
description:
  purpose: Reference table for lockgate bench, one row per customer.
schema:
  - name: {name}
    physicalName: {name}.csv
    properties:
      - {{name: customer_id, logicalType: integer, primaryKey: true, classification: internal}}
      - name: full_name
        logicalType: string
        classification: restricted
        pii: person_name
        masking: hash
      - name: email
        logicalType: string
        classification: restricted
        pii: email
        masking: {{rule: hash, key: default}}
      - name: phone
        logicalType: string
        classification: restricted
        pii: phone
        masking: {{rule: partial, keep_last: 2}}
      - {{name: snils, logicalType: string, classification: restricted, pii: snils, masking: redact}}
      - {{name: inn, logicalType: string, classification: restricted, pii: inn, masking: redact}}
      - name: card_number
        logicalType: string
        classification: restricted
        pii: card
        masking: {{rule: partial, keep_last: 4}}
      - name: birth_date
        logicalType: date
        classification: restricted
        pii: birth_date
        masking: {{rule: generalize, to: year}}
      - {{name: city, logicalType: string, classification: internal}}
      - {{name: signup_date, logicalType: date, classification: internal}}
      - {{name: last_order_date, logicalType: date, classification: internal}}
      - {{name: segment, logicalType: string, classification: internal}}
      - {{name: lifetime_value, logicalType: number, classification: confidential}}
      - {{name: orders_count, logicalType: integer, classification: internal}}
      - {{name: acquisition_channel, logicalType: string, classification: internal}}
      - {{name: is_active, logicalType: boolean, classification: internal}}
      - name: comment
        logicalType: string
        classification: restricted
        pii: free_text
        masking: redact_pii
    quality:
      - id: row_count
        expectation: expect_table_row_count_to_be_between
        kwargs: {{min_value: 1}}
        severity: error
      - expectation: expect_column_values_to_not_be_null
        kwargs: {{column: email}}
        severity: error
      - expectation: expect_column_values_to_not_be_null
        kwargs: {{column: signup_date}}
        severity: error
      - expectation: expect_column_values_to_be_between
        kwargs: {{column: lifetime_value, min_value: 0}}
        severity: error
      - expectation: expect_column_values_to_be_in_set
        kwargs: {{column: segment, value_set: [retail, smb, enterprise]}}
        severity: error
      - expectation: expect_column_value_lengths_to_equal
        kwargs: {{column: inn, value: 12}}
        severity: error
      - expectation: expect_column_values_to_match_regex
        kwargs: {{column: snils, regex: '^\d{{3}}-\d{{3}}-\d{{3}} \d{{2}}$'}}
        severity: error
      - id: email_format
        expectation: expect_column_values_to_match_regex
        kwargs: {{column: email, regex: '^[^@\s]+@[^@\s]+\.[A-Za-z]{{2,}}$'}}
        severity: warn
"""


def _write_source(root: Path, name: str, seed: int) -> Path:
    """One source's passport and contract under `root`; where its data file goes."""
    for folder in ("sources", "contracts", "data"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "sources" / f"{name}.yaml").write_text(
        PASSPORT_YAML.format(name=name, seed=seed), encoding="utf-8"
    )
    (root / "contracts" / f"{name}.yaml").write_text(
        CONTRACT_YAML.format(name=name).lstrip(), encoding="utf-8"
    )
    return root / "data" / f"{name}.csv"


def source_names(count: int) -> list[str]:
    """The sources of a `write_sources_catalog` of `count`: bench_customers_000, _001, ..."""
    width = max(3, len(str(count - 1)))
    return [f"{SOURCE_NAME}_{i:0{width}d}" for i in range(count)]


def write_sources_catalog(root: Path, csv_path: Path, seed: int, count: int, rows: int) -> Path:
    """A catalog of `count` sources under `root`, each the customers contract over `rows` rows of its own.

    Source i's file is rows ``i*rows`` to ``(i+1)*rows`` of `csv_path` (which must hold ``count*rows``),
    read and written back as text, so every source has distinct customers and distinct bytes (no raw
    object is shared between sources) drawn from the same reference data.
    """
    import polars as pl

    frame = pl.read_csv(csv_path, infer_schema=False)
    if frame.height < count * rows:
        raise BenchDataError(f"{csv_path} holds {frame.height:,} rows, not {count:,} × {rows:,}")
    for i, name in enumerate(source_names(count)):
        data = _write_source(root, name, seed)
        frame.slice(i * rows, rows).write_csv(data)
    return root


def write_catalog(root: Path, csv_path: Path, seed: int) -> Path:
    """A one-source catalog under `root` whose data file is `csv_path` (hard-linked, else copied).

    `seed` is the one the CSV was generated with; the passport's description names it.

    The connector refuses symlinks that leave the catalog, so the cached CSV is hard-linked in: no
    copy of gigabytes when the cache and the work folder share a file system.
    """
    data = _write_source(root, SOURCE_NAME, seed)
    data.unlink(missing_ok=True)
    try:
        data.hardlink_to(csv_path)
    except OSError:  # another file system, or links not allowed
        shutil.copyfile(csv_path, data)
    return root
