"""Profile drift through the real ingest flow: a second delivery whose volume drops, whose nulls jump
and which brings a new category is published with warnings, or stopped when the contract says block.

Nothing is mocked: Prefect runs the flow, polars profiles the batch, profiles and curated Delta tables
land in a lake on disk, and `lockgate run` prints the result.
"""

from __future__ import annotations

import csv
import json
from typing import TYPE_CHECKING

import pytest
from testkit.catalog_files import PASSPORT, write_catalog
from testkit.prefect_reads import latest_artifact
from typer.testing import CliRunner

from cli.app import app
from flows.errors import RunFailed
from flows.pipeline import ingest
from flows.results import SourceStatus
from storage import layout
from storage.curated import list_versions, read_current
from storage.store import open_store

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("prefect_api", "hash_key")

CONTRACT = """\
apiVersion: v3.1.0
kind: DataContract
id: visits
version: 1.0.0
schema:
  - name: visits
    properties:
      - name: visit_id
        logicalType: integer
        required: true
        unique: true
      - name: email
        logicalType: string
        pii: email
        masking: hash
      - name: channel
        logicalType: string
        classification: internal
      - name: amount
        logicalType: number
    drift:
      volume: {{maxChange: 0.5, action: {action}}}
      nullRate: {{maxIncrease: 10, action: {action}}}
      newCategories: {{columns: [channel], action: {action}}}
"""


def deliver(catalog: Path, first_id: int, rows: int, *, null_every: int, channels: tuple[str, ...]) -> None:
    """Write the source's CSV: `rows` visits, every `null_every`-th amount empty, channels in turn."""
    with (catalog / "data" / "visits.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["visit_id", "email", "channel", "amount"])
        for i in range(rows):
            amount = "" if i % null_every == 0 else f"{(i % 90) * 1.5 + 10:.2f}"
            writer.writerow(
                [first_id + i, f"visitor{first_id + i}@example.org", channels[i % len(channels)], amount]
            )


def make_catalog(tmp_path: Path, action: str) -> Path:
    passport = PASSPORT.replace("name: people", "name: visits").replace("people.", "visits.")
    catalog = write_catalog(tmp_path / "catalog", passport, CONTRACT.format(action=action), name="visits")
    deliver(catalog, 1, 200, null_every=25, channels=("web", "shop"))
    return catalog


def drifted(catalog: Path) -> None:
    """70% fewer rows, half the amounts missing, and a channel never seen before."""
    deliver(catalog, 1001, 60, null_every=2, channels=("web", "shop", "phone"))


def emails(catalog: Path) -> set[str]:
    with (catalog / "data" / "visits.csv").open(encoding="utf-8", newline="") as f:
        return {row["email"] for row in csv.DictReader(f)}


def test_warn_publishes_and_reports_every_drift(tmp_path: Path) -> None:
    catalog, lake = make_catalog(tmp_path, "warn"), tmp_path / "lake"
    [first] = ingest(catalog=str(catalog), lake=str(lake)).sources
    assert first.status is SourceStatus.PUBLISHED and first.drift == []  # no history, nothing to compare

    drifted(catalog)
    args = ["run", "--catalog", str(catalog), "--lake", str(lake)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "⚠ visits: drift volume (warn): 60 row(s) against a median of 200 over the last 1 published" in (
        result.output
    )
    assert "⚠ visits: drift null_rate amount (warn): 50.0% null against a median of 4.0%" in result.output
    assert (
        "⚠ visits: drift new_categories channel (warn): 1 value(s) that none of the last 1" in result.output
    )
    assert "phone" not in result.output

    store = open_store(str(lake))
    versions = list_versions(store, "visits")
    assert len(versions) == 2 and versions[-1].rows == 60
    second_run = versions[-1].run_id
    assert second_run is not None
    markdown = latest_artifact("lockgate-visits")
    assert "## Drift from the last published runs" in markdown
    assert "| volume |  | warn | 60 row(s) against a median of 200" in markdown
    assert "| new_categories | channel | warn |" in markdown

    # One profile per run; the personal column keeps counts only, the categorical one its value set.
    keys = store.list(layout.profiles_prefix("visits"))
    assert keys == sorted(layout.profile_key("visits", run) for run in (first.run_id, second_run))
    stored = json.loads(store.get_bytes(layout.profile_key("visits", second_run)))
    columns = {c["name"]: c for c in stored["columns"]}
    assert stored["rows"] == 60 and columns["amount"]["null_rate"] == 0.5
    assert columns["email"]["withheld"] and columns["email"]["categories"] is None
    assert columns["channel"]["categories"] == ["phone", "shop", "web"]
    text = store.get_bytes(layout.profile_key("visits", second_run)).decode()
    assert not [e for e in emails(catalog) if e in text or e in markdown or e in result.output]


def test_block_stops_the_line_and_keeps_the_blocked_batch_out_of_the_history(tmp_path: Path) -> None:
    catalog, lake = make_catalog(tmp_path, "block"), tmp_path / "lake"
    ingest(catalog=str(catalog), lake=str(lake))
    store = open_store(str(lake))
    before = read_current(store, "visits")

    drifted(catalog)
    with pytest.raises(RunFailed) as info:
        ingest(catalog=str(catalog), lake=str(lake))
    [stopped] = info.value.run.sources
    assert stopped.status is SourceStatus.STOPPED
    assert sorted((d.kind, d.column, d.action) for d in stopped.drift) == [
        ("new_categories", "channel", "block"),
        ("null_rate", "amount", "block"),
        ("volume", None, "block"),
    ]
    assert (
        stopped.error is not None
        and "blocking drift: volume, null_rate amount, new_categories channel" in (stopped.error)
    )
    assert len(list_versions(store, "visits")) == 1  # curated untouched
    assert read_current(store, "visits").equals(before)
    assert store.exists(layout.profile_key("visits", stopped.run_id))  # kept, to show what was stopped
    markdown = latest_artifact("lockgate-visits")
    assert "| volume |  | **block** |" in markdown

    # The next delivery looks like the first: it is compared with the published run only, not with the
    # stopped one, so it passes.
    deliver(catalog, 2001, 190, null_every=25, channels=("shop", "web"))
    [published] = ingest(catalog=str(catalog), lake=str(lake)).sources
    assert published.status is SourceStatus.PUBLISHED
    assert published.drift == []


def test_cli_shows_blocking_drift_under_the_stop_line(tmp_path: Path) -> None:
    catalog, lake = make_catalog(tmp_path, "block"), tmp_path / "lake"
    ingest(catalog=str(catalog), lake=str(lake))
    drifted(catalog)
    result = CliRunner().invoke(
        app, ["run", "--catalog", str(catalog), "--lake", str(lake)], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 1, result.output
    assert "⛔ visits: stop-line — curated layer untouched" in result.output
    assert "   drift volume (block): 60 row(s) against a median of 200" in result.output
    assert "   drift new_categories channel (block): 1 value(s)" in result.output
    assert "Traceback" not in result.output
