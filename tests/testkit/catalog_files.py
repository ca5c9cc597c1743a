"""A minimal valid catalog written to disk, which tests then break one field at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

PASSPORT = """\
name: people
title: People
owner: owner@example.com
steward: steward@example.com
purpose: Customer service and billing.
legal_basis: contract
update_frequency: daily
sensitivity: confidential
retention_days: 365
contract: contracts/people.yaml
connector:
  kind: csv
  path: data/people.csv
  delimiter: ","
"""

CONTRACT = """\
apiVersion: v3.1.0
kind: DataContract
id: people
version: 1.0.0
schema:
  - name: people
    properties:
      - name: person_id
        logicalType: integer
        required: true
        unique: true
      - name: email
        logicalType: string
        pii: email
        masking: hash
    quality:
      - expectation: expect_column_values_to_be_between
        kwargs: {column: person_id, min_value: 1}
        severity: error
"""

DATA = "person_id,email\n1,a@example.com\n2,b@example.com\n"


def write_catalog(
    root: Path, passport: str = PASSPORT, contract: str = CONTRACT, name: str = "people"
) -> Path:
    """Write a one-source catalog under `root` and return the catalog folder."""
    for folder in ("sources", "contracts", "data"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "sources" / f"{name}.yaml").write_text(passport, encoding="utf-8")
    (root / "contracts" / f"{name}.yaml").write_text(contract, encoding="utf-8")
    (root / "data" / f"{name}.csv").write_text(DATA, encoding="utf-8")
    return root
