"""The lake's one Data Docs site: runs accumulate in it under their run ids, its pages load nothing
from the internet, it holds no data values, and retention prunes it (index included)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import polars as pl
import pytest

from contracts.data_docs import CDN_FILES, offline_html, publish_validation, rebuild_index
from contracts.validation import validate
from storage import layout
from storage.docs import DocsRecord, load_records, save_record
from storage.local import LocalStore
from storage.retention import apply_retention

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from contracts.model import Contract

    MakeContract = Callable[..., Contract]

OLD_RUN = "20240101T080000Z-aaaa1111"
NEW_RUN = "20240301T080000Z-bbbb2222"
SECRET = "zz-secret-value-777"  # a value that breaks a rule: it must appear in no record or page


class _References(HTMLParser):
    """Every address a page makes the browser load: scripts, stylesheets, icons and images."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("script", "img") and found.get("src"):
            self.loaded.append(str(found["src"]))
        if tag == "link" and found.get("href"):
            self.loaded.append(str(found["href"]))


def references(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    return parser.loaded


def _contract(make_contract: MakeContract) -> Contract:
    return make_contract(
        [
            {"name": "id", "logicalType": "integer", "required": True, "unique": True},
            {"name": "code", "logicalType": "string"},
        ],
        quality=[
            {
                "expectation": "expect_column_values_to_match_regex",
                "kwargs": {"column": "code", "regex": r"^[A-Z]{3}$"},
                "severity": "warn",
            }
        ],
    )


def _frame() -> pl.DataFrame:
    return pl.DataFrame({"id": [1, 2, 3], "code": ["ABC", SECRET, "XYZ"]})


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, make_contract: MakeContract
) -> tuple[LocalStore, dict[str, str]]:
    """A local lake whose site holds two runs of one source."""
    store = LocalStore(tmp_path_factory.mktemp("lake"))
    pages = {}
    for run_id in (OLD_RUN, NEW_RUN):
        report = validate(_frame(), _contract(make_contract), run_id=run_id)
        assert report.docs is not None
        pages[run_id] = publish_validation(store, "people", run_id, report.docs, sensitivity="internal")
    return store, pages


def _text(store: LocalStore, path: str) -> str:
    return store.get_bytes(layout.docs_site_key(path)).decode()


def test_two_runs_accumulate_in_one_site_named_by_run_id(site: tuple[LocalStore, dict[str, str]]) -> None:
    store, pages = site
    index = _text(store, "index.html")
    for run_id, page in pages.items():
        assert f"/{run_id}/" in page and page.endswith("/people.html")
        assert store.exists(layout.docs_site_key(page))
        assert run_id in index
        run_name = re.search(r"Run Name</div></td><td[^>]*><div[^>]*>([^<]+)<", _text(store, page))
        assert run_name is not None and run_name.group(1) == run_id
    assert "__none__" not in index
    assert not any("__none__" in _text(store, page) for page in pages.values())
    assert [(r.source, r.run_id) for r in load_records(store)] == [("people", OLD_RUN), ("people", NEW_RUN)]
    # one copy of the static files for the whole site, not one per run
    scripts = [k for k in store.list(layout.DOCS_SITE_PREFIX) if k.endswith(".js")]
    assert len(scripts) == len({v for v in CDN_FILES.values() if v.endswith(".js")})


def test_pages_load_no_file_from_the_internet(site: tuple[LocalStore, dict[str, str]]) -> None:
    store, pages = site
    for path in ["index.html", *pages.values()]:
        html = _text(store, path)
        loaded = references(html)
        assert loaded, path
        assert not [url for url in loaded if url.startswith(("http:", "https:", "//"))], path
        assert "url('http" not in html and 'url("http' not in html
        for url in loaded:  # every file a page loads is in the site
            target = layout.docs_site_key(_resolve(path, url))
            assert store.exists(target), (path, url)


def _resolve(page: str, url: str) -> str:
    import posixpath

    return posixpath.normpath(posixpath.join(posixpath.dirname(page), url))


def test_no_value_of_the_data_reaches_records_or_pages(site: tuple[LocalStore, dict[str, str]]) -> None:
    store, pages = site
    assert all(SECRET not in store.get_bytes(key).decode() for key in store.list(layout.DOCS_RESULTS_PREFIX))
    assert all(SECRET not in _text(store, page) for page in [*pages.values(), "index.html"])
    [record, _] = load_records(store)
    regex = next(r for r in record.result["results"] if "regex" in r["expectation_config"]["type"])
    assert regex["result"]["unexpected_count"] == 1 and "partial_unexpected_list" not in regex["result"]


def test_an_unknown_cdn_reference_is_dropped_and_known_ones_point_home() -> None:
    known = next(iter(CDN_FILES))
    html = (
        f'<link rel="stylesheet" href="{known}"/>'
        '<script src="https://cdn.example.org/new-lib.js" integrity="sha384-x"></script>'
    )
    rewritten = offline_html(html, "../../")
    assert references(rewritten) == [f"../../static/lockgate/{CDN_FILES[known]}"]


def test_retention_prunes_an_old_run_and_the_index_forgets_it(
    tmp_path: Path, make_contract: MakeContract
) -> None:
    store = LocalStore(tmp_path / "lake")
    pages = {}
    for run_id in (OLD_RUN, NEW_RUN):
        report = validate(_frame(), _contract(make_contract), run_id=run_id)
        assert report.docs is not None
        pages[run_id] = publish_validation(store, "people", run_id, report.docs, work=tmp_path)
    now = datetime(2024, 3, 10, tzinfo=UTC)  # OLD_RUN is 69 days old then, NEW_RUN 9

    done = apply_retention(store, {"people": 30}, actor="test", now=now)
    [docs] = [layer for layer in done.layers if layer.layer == "docs"]
    assert docs.removed == sorted(
        [layout.docs_result_key("people", OLD_RUN), layout.docs_site_key(pages[OLD_RUN])]
    )
    assert rebuild_index(store, work=tmp_path) == 1
    index = _text(store, "index.html")
    assert OLD_RUN not in index and NEW_RUN in index
    assert store.exists(layout.docs_site_key(pages[NEW_RUN]))
    assert json.loads(store.get_bytes(layout.docs_result_key("people", NEW_RUN)))["run_id"] == NEW_RUN
    assert list(tmp_path.glob("data-docs-*")) == []  # build folders do not stay behind


def test_pages_published_without_the_index_are_listed_by_one_rebuild(
    tmp_path: Path, make_contract: MakeContract
) -> None:
    """What a run of many sources does: each source's page alone, then one index for all of them."""
    store = LocalStore(tmp_path / "lake")
    pages = {}
    for source in ("people", "stores", "orders"):
        report = validate(_frame(), _contract(make_contract), run_id=NEW_RUN)
        assert report.docs is not None
        pages[source] = publish_validation(store, source, NEW_RUN, report.docs, work=tmp_path, index=False)
        assert store.exists(layout.docs_site_key(pages[source]))
        assert not store.exists(layout.docs_site_key("index.html"))  # no index rebuilt per page
    page_html = _text(store, pages["people"])
    assert all(ref.startswith("../") for ref in references(page_html) if "://" not in ref)  # assets found

    assert rebuild_index(store, work=tmp_path) == 3
    index = _text(store, "index.html")
    for source, page in pages.items():
        assert page.endswith(f"/{source}.html") and page in index, source
    assert SECRET not in index and SECRET not in page_html


def test_a_record_gx_cannot_read_is_left_out_of_the_index(
    tmp_path: Path, make_contract: MakeContract, caplog: pytest.LogCaptureFixture
) -> None:
    """A record that is JSON but not a GX result (edited by hand, another GX version) costs its own
    listing, not the whole site: pages still publish and the index still rebuilds."""
    store = LocalStore(tmp_path / "lake")
    broken = DocsRecord(source="orders", run_id=OLD_RUN, result={"results": SECRET})
    save_record(store, broken)
    report = validate(_frame(), _contract(make_contract), run_id=NEW_RUN)
    assert report.docs is not None
    page = publish_validation(store, "people", NEW_RUN, report.docs, work=tmp_path)

    index = _text(store, "index.html")
    assert page in index and OLD_RUN not in index
    assert rebuild_index(store, work=tmp_path) == 2  # records the lake keeps: the broken one is still there
    assert OLD_RUN not in _text(store, "index.html")
    assert f"record orders/{OLD_RUN} not listed" in caplog.text and SECRET not in caplog.text
