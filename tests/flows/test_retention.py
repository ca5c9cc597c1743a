"""Retention end to end on the example catalog: ``lockgate retention apply`` on a lake one ingest run
filled, then the flow as the daily schedule runs it, aged past every passport's retention_days.

Storage's rules (what expires, what a fresh landing keeps) are tested in tests/storage/test_retention.py;
this is the wiring: the catalog's passports, the settings' user, the command's output and exit code.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from testkit.catalog_fixtures import HASH_KEY
from typer.testing import CliRunner

from cli.app import app
from flows.pipeline import ingest
from flows.results import SourceStatus
from flows.retention import retention
from sources.catalog import load_catalog
from storage import audit
from storage.curated import read_current
from storage.retention import AUDIT_ACTION, LAYERS
from storage.store import open_store

REPO = Path(__file__).resolve().parents[2]
EXPIRING = ("raw/", "quarantine/", "docs/")
# The Data Docs site's index and static files stay (the index is rebuilt); its runs' pages expire.
DOCS_SITE_SHARED = ("docs/_site/index.html", "docs/_site/static/")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, prefect_api: None) -> tuple[Path, Path]:
    """The example catalog ingested once into a local lake: (catalog, lake)."""
    root = tmp_path_factory.mktemp("retention")
    catalog = Path(shutil.copytree(REPO / "examples" / "catalog", root / "catalog"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LOCKGATE_HASH_KEY", HASH_KEY)
        run = ingest(catalog=str(catalog), lake=str(root / "lake"))
    assert {r.status for r in run.sources} == {SourceStatus.PUBLISHED}
    return catalog, root / "lake"


def _expiring(lake: Path) -> list[str]:
    keys = open_store(str(lake)).list("")
    return [k for k in keys if k.startswith(EXPIRING) and not k.startswith(DOCS_SITE_SHARED)]


def test_the_command_on_a_fresh_lake_frees_nothing_and_says_so(lake: tuple[Path, Path]) -> None:
    catalog, root = lake
    before = _expiring(root)
    args = ["retention", "apply", "--catalog", str(catalog), "--lake", str(root)]
    dry = CliRunner().invoke(app, [*args, "--dry-run"], env={"COLUMNS": "200"})
    assert dry.exit_code == 0, dry.output
    assert "Retention (dry run)" in dry.stdout and "would free 0 object(s), 0 B" in dry.stdout

    applied = CliRunner().invoke(app, [*args, "--format", "json"])
    assert applied.exit_code == 0, applied.output
    report = json.loads(applied.stdout)
    sources = load_catalog(catalog).sources
    assert [(x["source"], x["layer"], x["retention_days"]) for x in report["layers"]] == [
        (s.name, layer, s.passport.retention_days)
        for s in sorted(sources, key=lambda s: s.name)
        for layer in LAYERS
    ]
    assert (report["ok"], report["dry_run"], report["objects"], report["bytes"]) == (True, False, 0, 0)
    assert _expiring(root) == before and before  # everything landed within retention stays
    assert audit.entries(open_store(str(root)), action=AUDIT_ACTION) == []  # nothing removed, none recorded


def test_a_catalog_mistake_exits_2(lake: tuple[Path, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["retention", "apply", "--catalog", str(tmp_path / "nowhere"), "--lake", str(lake[1])]
    )
    assert result.exit_code == 2, result.output


def test_the_flow_aged_past_retention_removes_every_layer_but_the_current_data(
    lake: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs last in this module: it empties the shared lake's expiring layers."""
    catalog, root = lake
    monkeypatch.setenv("LOCKGATE_USER", "dpo@example.org")
    store = open_store(str(root))
    before = _expiring(root)
    longest = max(s.passport.retention_days for s in load_catalog(catalog).sources)
    later = datetime.now(UTC) + timedelta(days=longest + 1)

    report = retention(catalog=str(catalog), lake=str(root), now=later)

    assert report.ok and not report.dry_run
    assert sorted(k for x in report.layers for k in x.removed) == sorted(before)
    assert _expiring(root) == []
    assert ".html" not in (root / "docs" / "_site" / "index.html").read_text().replace("index.html", "")
    for source in ("customers", "stores", "support_tickets"):  # the current version is never touched
        assert read_current(store, source).height > 0
    logged = audit.entries(store, action=AUDIT_ACTION)
    assert {(e.actor, e.outcome) for e in logged} == {("dpo@example.org", "ok")}
    assert sorted((e.source, e.details["layer"]) for e in logged) == sorted(
        (x.source, x.layer) for x in report.layers if x.removed
    )
    assert audit.verify(store).ok
