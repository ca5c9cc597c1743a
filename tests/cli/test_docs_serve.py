"""``lockgate docs serve``: the lake's Data Docs site over HTTP, read-only, nothing outside the site,
and pages that render styled in a browser that cannot reach the internet (local lake and S3)."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import polars as pl
import pytest

from contracts.data_docs import publish_validation
from contracts.model import Contract
from contracts.validation import validate
from storage.docs_server import docs_server, site_path
from storage.local import LocalStore
from storage.store import open_store

if TYPE_CHECKING:
    from collections.abc import Iterator

    from storage.base import ObjectStore

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
RUNS = ("20240301T080000Z-aaaa1111", "20240302T080000Z-bbbb2222")
SECRET_KEY = "raw/people/2024-03-01/x/people.csv"  # a lake object outside the site
ESCAPES = [
    "/../" + SECRET_KEY,
    "/%2e%2e/" + SECRET_KEY,
    "/%2E%2E%2F" + SECRET_KEY,
    "/validations/..%2f..%2f" + SECRET_KEY,
    "/%252e%252e/" + SECRET_KEY,
    "/..%5c" + SECRET_KEY,
    "/./index.html",
    "//" + SECRET_KEY,
    "/%00index.html",
    "/%ff",
]


def _contract() -> Contract:
    schema = {
        "name": "people",
        "properties": [{"name": "id", "logicalType": "integer", "required": True, "unique": True}],
        "quality": [{"expectation": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}}],
    }
    document = {"apiVersion": "v3.1.0", "kind": "DataContract", "id": "people", "version": "1.0.0"}
    return Contract.model_validate({**document, "schema": [schema]})


def _fill(store: ObjectStore) -> list[str]:
    """Two runs' validations in the site, and a raw object the server must never hand out."""
    store.put_bytes(SECRET_KEY, b"id\n1\n")
    pages = []
    for run_id in RUNS:
        report = validate(pl.DataFrame({"id": [1, 2, 2]}), _contract(), run_id=run_id)
        assert report.docs is not None
        pages.append(publish_validation(store, "people", run_id, report.docs))
    return pages


@pytest.fixture(scope="module")
def local_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("lake")
    return root, _fill(LocalStore(root))


@pytest.fixture(scope="module")
def served(local_lake: tuple[Path, list[str]]) -> Iterator[tuple[str, list[str]]]:
    """`lockgate docs serve` itself, on a free port; stopped (by its pid) at the end."""
    root, pages = local_lake
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    command = [sys.executable, "-m", "cli.app", "docs", "serve", "--lake", str(root), "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert found, line
        yield found.group(0), pages
    finally:
        process.terminate()
        process.wait(timeout=20)


def _get(base: str, path: str, method: str = "GET") -> tuple[int, bytes]:
    """A raw request: the path goes out exactly as written (no client-side normalising)."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_serves_the_site_and_refuses_every_escape(served: tuple[str, list[str]]) -> None:
    base, pages = served
    status, index = _get(base, "/")
    assert status == 200 and RUNS[0].encode() in index and RUNS[1].encode() in index
    assert _get(base, "/" + pages[0])[0] == 200
    for path in ESCAPES:
        status, body = _get(base, path)
        assert status in (400, 404), path
        assert b"id\n1\n" not in body, path
    assert _get(base, "/index.html", method="POST")[0] == 405
    assert _get(base, "/index.html", method="DELETE")[0] == 405


def test_site_paths_stay_inside_the_site() -> None:
    assert site_path("/") == "index.html"
    assert site_path("/validations/a%20b/x.html?q=1") == "validations/a b/x.html"
    assert all(site_path(path) is None for path in ESCAPES if not path.startswith("/%ff"))


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_pages_render_styled_in_a_browser_that_cannot_reach_the_internet(
    served: tuple[str, list[str]],
) -> None:
    from playwright.sync_api import Route, sync_playwright

    base, pages = served
    blocked: list[str] = []

    def only_loopback(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_loopback)
            failed: list[str] = []
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto(base, wait_until="networkidle")
            # bootstrap-table filled the index from its data: one row per run
            rows = page.locator("table[data-toggle='table'] tbody tr, .bootstrap-table tbody tr")
            assert rows.count() >= len(RUNS)
            assert RUNS[0] in page.content() and RUNS[1] in page.content()
            assert page.evaluate("getComputedStyle(document.querySelector('.navbar')).display") == "flex"

            page.goto(base + pages[1], wait_until="networkidle")
            table = page.locator("table.table").first
            assert table.is_visible()
            # Bootstrap's reboot and .table rules applied (a browser's own defaults differ on both)
            style = "getComputedStyle(document.querySelector('table.table'))"
            assert page.evaluate(f"{style}.borderCollapse") == "collapse"
            assert "apple-system" in page.evaluate("getComputedStyle(document.body).fontFamily")
            # the expectations table, as GX renders it: one row per rule with its outcome
            assert page.locator("text=values must never be null").count() >= 1
            assert page.locator("text=Must have greater than or equal to 1 rows").count() >= 1
            assert page.evaluate("document.fonts.check('900 16px \"Font Awesome 6 Free\"')")
            assert (
                page.evaluate("typeof vegaEmbed") == "function"
                and page.evaluate("typeof jQuery") == "function"
            )
            page.screenshot(path=str(Path(os.environ.get("DOCS_SCREENSHOT", "/tmp/lockgate-docs-page.png"))))
        finally:
            browser.close()
    assert blocked == [] and failed == []  # nothing left the machine, nothing failed to load


def test_an_s3_lake_is_served_through_the_object_store(aws_env: str, bucket: str) -> None:
    store = open_store(f"s3://{bucket}/lake")
    pages = _fill(store)
    server = docs_server(store, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        base = f"http://{host!s}:{port}/"
        status, index = _get(base, "/")
        assert status == 200 and all(run.encode() in index for run in RUNS)
        status, page = _get(base, "/" + pages[0])
        assert status == 200 and RUNS[0].encode() in page
        assert _get(base, "/static/lockgate/jquery-3.7.1/jquery.min.js")[0] == 200
        for path in ESCAPES:
            assert _get(base, path)[0] in (400, 404), path
    finally:
        server.shutdown()
        server.server_close()
