"""``lockgate status`` after a real ingest run: text, JSON and CSV, and the --plot page, which must load
nothing from the network and render its figures in headless Chromium."""

from __future__ import annotations

import csv
import io
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import sync_playwright
from testkit.catalog_fixtures import HASH_KEY
from typer.testing import CliRunner

from cli.app import app
from flows.pipeline import ingest
from flows.status_page import plot_id

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, prefect_api: None) -> Iterator[tuple[Path, Path]]:
    """The example catalog with one source (stores) ingested once."""
    root = tmp_path_factory.mktemp("status-cli")
    catalog = Path(shutil.copytree(REPO / "examples" / "catalog", root / "catalog"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCKGATE_HASH_KEY", HASH_KEY)
        ingest(catalog=str(catalog), lake=str(root / "lake"), sources=["stores"])
    yield catalog, root / "lake"


def _status(lake: tuple[Path, Path], *args: str) -> tuple[int, str, str]:
    catalog, root = lake
    result = CliRunner().invoke(
        app, ["status", "--catalog", str(catalog), "--lake", str(root), *args], env={"COLUMNS": "220"}
    )
    return result.exit_code, result.stdout, result.stderr


def test_json_lists_every_source(lake: tuple[Path, Path]) -> None:
    code, out, _ = _status(lake, "--format", "json")
    assert code == 0
    rows = {row["source"]: row for row in json.loads(out)}
    assert list(rows) == ["customers", "stores", "support_tickets"]
    stores = rows["stores"]
    assert (stores["owner"], stores["last_state"], stores["freshness"]) == (
        "realestate-owner@example.com",
        "published",
        "fresh",
    )
    assert stores["curated_version"] == 0 and stores["release_id"].startswith("rel-")
    assert stores["quality"] == 1.0 and stores["quality_trend"] == "n/a"
    [run] = stores["runs"]
    assert run["rows_in"] == run["rows_out"] == 50 and run["run_id"] == stores["last_run_id"]
    assert rows["customers"]["freshness"] == "never run" and rows["customers"]["last_run_id"] is None


def test_csv_is_one_row_per_source(lake: tuple[Path, Path]) -> None:
    code, out, _ = _status(lake, "--format", "csv", "--source", "stores", "--source", "customers")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["source"] for r in rows] == ["stores", "customers"]
    assert rows[0]["freshness"] == "fresh" and rows[1]["freshness"] == "never run"
    assert rows[0]["curated_version"] == "0" and rows[1]["curated_version"] == ""


def test_text_is_a_table_for_people(lake: tuple[Path, Path]) -> None:
    code, out, _ = _status(lake)
    assert code == 0
    assert "Sources (times in UTC)" in out
    stores = next(line for line in out.splitlines() if "stores" in line)
    assert "realestate-owner@example.com" in stores and "published" in stores and "fresh" in stores


class _External(HTMLParser):
    """Script sources and link targets that point at the network."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if (
                name in ("src", "href")
                and value
                and value.strip().lower().startswith(("http:", "https:", "//"))
            ):
                self.found.append(f"<{tag} {name}={value}>")


def test_the_plot_is_self_contained_and_renders_offline(lake: tuple[Path, Path], tmp_path: Path) -> None:
    page_file = tmp_path / "out" / "status.html"
    code, out, err = _status(lake, "--plot", str(page_file), "--format", "json")
    assert code == 0 and json.loads(out)  # the page does not disturb the JSON on stdout
    assert f"wrote {page_file}" in err
    html = page_file.read_text(encoding="utf-8")
    parser = _External()
    parser.feed(html)
    assert parser.found == []
    assert f'id="{plot_id("stores")}"' in html and plot_id("customers") not in html  # only sources with runs

    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_file.as_uri())
            figure = page.locator(f"#{plot_id('stores')} .main-svg").first
            figure.wait_for(state="visible", timeout=30_000)
            assert page.evaluate("typeof window.Plotly") == "object"
            traces = page.evaluate(f"document.getElementById('{plot_id('stores')}').data.length")
            assert traces == 4  # quality, rows in, rows out, quarantined
            assert page.locator("table td", has_text="realestate-owner@example.com").count() == 1
        finally:
            browser.close()
    assert [url for url in requests if not url.startswith("file:")] == []


def test_plot_without_a_file_writes_the_default_page(
    lake: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _status(lake, "--plot")
    assert code == 0 and "wrote lockgate-status.html" in err
    assert (tmp_path / "lockgate-status.html").stat().st_size > 1_000_000  # plotly.js is inline


def test_mistakes_exit_with_a_message(lake: tuple[Path, Path], tmp_path: Path) -> None:
    code, _, err = _status(lake, str(tmp_path / "page.html"))
    assert code == 2 and "add --plot" in err
    catalog, _ = lake
    result = CliRunner().invoke(app, ["status", "-c", str(catalog), "-l", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "no lake at" in result.stderr
    result = CliRunner().invoke(app, ["status", "-c", str(tmp_path / "no-catalog"), "-l", str(lake[1])])
    assert result.exit_code == 2
    code, _, err = _status(lake, "--source", "nope")
    assert code == 1 and "unknown source(s): nope" in err
