"""The lake's one Great Expectations Data Docs site, built from the validation records it keeps.

Each validation adds a record (:mod:`storage.docs`) and one page; the index is rebuilt from every
record the lake keeps, so the site accumulates runs, and retention prunes it by removing records and
pages and rebuilding the index. GX's run name on every page is Lockgate's run id.

GX's page templates load Bootstrap, jQuery, bootstrap-table, Font Awesome and Vega from CDNs, and its
logo from an S3 bucket: offline (the usual case here) the pages would render empty and unstyled. GX has
no setting for local assets, so each built page is rewritten: every CDN address GX 1.24 writes is
pointed at a vendored copy shipped in ``contracts/docs_assets/`` (see its README.md for versions,
sources and licences) and served from the site's ``static/lockgate/``; GX's favicon and logo come from
its own package; anything else external (the optional dark theme) is dropped with a warning, so a GX
upgrade that adds a CDN file shows up in the log and in the tests, not as a broken page.

Only what the pages use is uploaded: GX's own ``static/`` folder (3.4 MB of tutorial GIFs) is not.
Building needs GX, so it lives here; ``import great_expectations`` happens only when a site is built.
"""

from __future__ import annotations

import copy
import logging
import posixpath
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage import layout
from storage.docs import (
    DocsRecord,
    asset_tags,
    load_records,
    page_tags,
    save_record,
    site_pages,
    site_tags,
    upload_site_files,
)

if TYPE_CHECKING:
    from storage.base import ObjectStore

log = logging.getLogger(__name__)

ASSETS = Path(__file__).parent / "docs_assets"
STATIC = "static/lockgate/"  # where the site keeps the vendored files (and GX's two images)
INDEX = "index.html"
SITE_NAME = "lockgate"

# Every CDN address GX 1.24's templates write → the vendored file (under docs_assets/) that replaces it.
# Vega: GX's templates ask for vega@5, vega-lite@5 and vega-embed@6, but the only charts GX draws come
# from Altair 6, whose specs are Vega-Lite 6 (Altair's own VEGA_VERSION 6 / VEGALITE 6.4.1 / EMBED 7):
# the versions vendored are Altair's, so a chart's spec and the library drawing it agree.
_BT = "https://unpkg.com/bootstrap-table@"
_FC = "/dist/extensions/filter-control/bootstrap-table-filter-control"
_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs/"
_DATEPICKER = f"{_CDNJS}bootstrap-datepicker/1.9.0/"
_BS = "bootstrapcdn.com/bootstrap/4.3.1/"
CDN_FILES = {
    f"https://maxcdn.{_BS}css/bootstrap.min.css": "bootstrap-4.3.1/bootstrap.min.css",
    f"https://stackpath.{_BS}js/bootstrap.min.js": "bootstrap-4.3.1/bootstrap.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1/jquery.min.js",
    f"{_CDNJS}popper.js/1.12.9/umd/popper.min.js": "popper.js-1.12.9/popper.min.js",
    f"{_BT}1.19.1/dist/bootstrap-table.min.css": "bootstrap-table-1.19.1/bootstrap-table.min.css",
    f"{_BT}1.19.1/dist/bootstrap-table.min.js": "bootstrap-table-1.19.1/bootstrap-table.min.js",
    f"{_BT}1.19.0{_FC}.css": "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.css",
    f"{_BT}1.19.0{_FC}.min.css": "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.css",
    f"{_BT}1.19.1{_FC}.min.js": "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.js",
    f"{_DATEPICKER}css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.css"
    ),
    f"{_DATEPICKER}js/bootstrap-datepicker.min.js": "bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.js",
    f"{_CDNJS}font-awesome/6.6.0/css/all.min.css": "fontawesome-free-6.6.0/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega-6.4.0/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite-6.4.1/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed-7.3.0/vega-embed.min.js",
}
# GX's images the pages show (the navbar logo is linked from GX's S3 bucket), from GX's own package.
GX_IMAGES = ("favicon.ico", "logo-long.png")
GX_IMAGE_HOST = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"

# Left out on purpose: a dark theme for readers whose system prefers one; the pages work without it.
DROPPED = frozenset(
    {"https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css"}
)
_EXTERNAL = r"https?://[^\"'\s)]+"
_SCRIPT = re.compile(rf"<script\b[^>]*\bsrc=[\"']({_EXTERNAL})[\"'][^>]*>\s*</script>", re.IGNORECASE)
_LINK = re.compile(rf"<link\b[^>]*\bhref=[\"']({_EXTERNAL})[\"'][^>]*/?>", re.IGNORECASE)
_GX_STATIC_IMAGE = re.compile(r"([\"'])(?:\./|(?:\.\./)*)static/images/(favicon\.ico|logo-long\.png)\1")
_CSS_URL = re.compile(rf"url\(([\"']?)({_EXTERNAL})\1\)", re.IGNORECASE)
_IMG_SRC = re.compile(rf"(<img\b[^>]*\bsrc=)[\"']({_EXTERNAL})[\"']", re.IGNORECASE)

# One site build at a time in this process: the sources of a run validate in parallel threads, and
# two index builds racing could upload an index missing the other's run.
_BUILD_LOCK = threading.Lock()


def publish_validation(
    store: ObjectStore,
    source: str,
    run_id: str,
    result: dict[str, Any],
    *,
    sensitivity: str | None = None,
    work: Path | None = None,
    index: bool = True,
) -> str:
    """Add one validation to the lake's site: its record, its page and (with `index`) a rebuilt index.

    Returns the page's path inside the site. `work` is where to build (default a temporary folder).
    The record is stored first, so a page in the site always has a record naming it. A run of many
    sources passes ``index=False`` and calls `rebuild_index` once after them: the index is built from
    every record the lake keeps, so rebuilding it per page cost each page O(records) under the lock.
    """
    record = DocsRecord(source=source, run_id=run_id, sensitivity=sensitivity, result=_named(result, source))
    with _BUILD_LOCK, _folder(work) as folder:
        records = (
            [r for r in load_records(store) if (r.source, r.run_id) != (source, run_id)] if index else []
        )
        page = _build(folder, [*records, record], new=record)
        record.pages = [page]
        save_record(store, record)
        upload_site_files(store, folder, [page], page_tags(record))
        _upload_static(store, folder)
        if index:
            upload_site_files(store, folder, [INDEX], site_tags([*records, record]))
    return page


def rebuild_index(store: ObjectStore, *, work: Path | None = None) -> int:
    """Rebuild the site's index from the records the lake keeps now (after retention removed some),
    and remove pages no record names (left by a build that failed part-way). Returns the pages listed."""
    with _BUILD_LOCK, _folder(work) as folder:
        records = load_records(store)
        _build(folder, records, new=None)
        _publish_shared(store, folder, records)
        named = {page for record in records for page in record.pages}
        for path in site_pages(store):
            if path not in named:
                store.delete(layout.docs_site_key(path))
    return len(records)


def _publish_shared(store: ObjectStore, folder: Path, records: list[DocsRecord]) -> None:
    """The static files the site lacks, then the index (last: it links to everything else)."""
    _upload_static(store, folder)
    upload_site_files(store, folder, [INDEX], site_tags(records))


def _upload_static(store: ObjectStore, folder: Path) -> None:
    static = sorted(p.relative_to(folder).as_posix() for p in (folder / STATIC).rglob("*") if p.is_file())
    upload_site_files(store, folder, static, asset_tags(), only_missing=True)


class _folder:  # noqa: N801 - used like a function: `with _folder(work) as folder`
    """A fresh build folder inside `work` (or the system's temporary folder), removed afterwards."""

    def __init__(self, work: Path | None) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="data-docs-", dir=work))

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _build(folder: Path, records: list[DocsRecord], *, new: DocsRecord | None) -> str:
    """Render the index of `records` (and the page of `new`) into `folder` with GX, made offline.

    Returns the new record's page path inside the site ("" without one).
    """
    from contracts.validation import _new_context

    context = _new_context()
    store = context.validation_results_store
    keys = {}
    for record in records:
        try:
            result = store.deserialize(record.result)
        except Exception as exc:  # GX's schema refuses it (written by hand, or by another GX version)
            if record is new:
                raise
            # Left out like a record that is not JSON (`storage.docs.load_records`); only its name is
            # logged, as GX's message may quote what the record holds.
            log.warning(
                "Data Docs: record %s/%s not listed (%s)", record.source, record.run_id, type(exc).__name__
            )
            continue
        key = _result_key(result, record.source)
        store.set(key, result)
        keys[record.source, record.run_id] = key
    site = folder / "gx"
    context.add_data_docs_site(
        SITE_NAME,
        {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site)},
            # GX's views, with their templates compiled once per process (`contracts.docs_views`)
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "view": _view("CachedJinjaIndexPageView"),
            },
            "show_how_to_buttons": False,
            "site_section_builders": {
                "expectations": "0",
                "profiling": "0",
                "validations": {"view": _view("CachedJinjaPageView")},
            },
        },
    )
    # GX's index lists the pages its site folder holds: earlier runs' pages stand there as empty files
    for record in records:
        for page in record.pages if (record.source, record.run_id) in keys else []:
            (site / page).parent.mkdir(parents=True, exist_ok=True)
            (site / page).touch()
    built = [keys[new.source, new.run_id]] if new is not None else []
    # an empty list would rebuild every page; the index alone is built from a key GX knows no page for
    context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=built or [_no_page()])
    page = ""
    if new is not None:
        [url] = context.get_docs_sites_urls(resource_identifier=built[0], site_name=SITE_NAME)
        page = Path(str(url["site_url"]).removeprefix("file://")).relative_to(site).as_posix()
        _offline(site, folder, page)
    _offline(site, folder, INDEX)
    _copy_assets(folder / STATIC)
    return page


def _view(class_name: str) -> dict[str, str]:
    return {"module_name": "contracts.docs_views", "class_name": class_name}


def _named(result: dict[str, Any], source: str) -> dict[str, Any]:
    """The result with its batch named after the source: validation names its GX data source and batch
    uniquely (``lockgate-<contract>-<uuid>``), which means nothing to a reader of the site."""
    named = copy.deepcopy(result)
    meta = named.setdefault("meta", {})
    for part in ("batch_spec", "active_batch_definition"):
        if isinstance(meta.get(part), dict):
            meta[part]["data_asset_name"] = source
    if isinstance(meta.get("active_batch_definition"), dict):
        meta["active_batch_definition"]["datasource_name"] = source
    for item in named.get("results", []):
        kwargs = (item.get("expectation_config") or {}).get("kwargs") or {}
        if "batch_id" in kwargs:
            kwargs["batch_id"] = source
    return named


def _result_key(result: Any, source: str) -> Any:
    """The key GX's checkpoint would store a result under (suite, run, batch), the batch named after
    the source, so its page lands at ``validations/<suite>/<run id>/<time>/<source>.html``."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    run = result.meta.get("run_id")
    return ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=result.suite_name),
        run_id=run if isinstance(run, RunIdentifier) else RunIdentifier(**(run or {})),
        batch_identifier=source,
    )


def _no_page() -> Any:
    """A resource identifier no section renders: lets GX build only the index."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    return ExpectationSuiteIdentifier(name="lockgate-index-only")


def _offline(built: Path, folder: Path, page: str) -> None:
    """Write a built page into the build folder with every external stylesheet, script and image
    pointed at the site's copy."""
    html = (built / page).read_text(encoding="utf-8")
    target = folder / page
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(offline_html(html, "../" * page.count("/")), encoding="utf-8")


def offline_html(html: str, root: str) -> str:
    """`html` with CDN references replaced by the vendored files under `root` (the relative path from
    the page to the site's root, "" or "../../"), unknown external ones removed, integrity and
    crossorigin attributes dropped (they belong to the CDN's copy)."""
    static = root + STATIC

    def script(match: re.Match[str]) -> str:
        local = CDN_FILES.get(match.group(1))
        return f'<script src="{static}{local}"></script>' if local else _dropped(match.group(1))

    def link(match: re.Match[str]) -> str:
        local = CDN_FILES.get(match.group(1))
        return f'<link rel="stylesheet" href="{static}{local}">' if local else _dropped(match.group(1))

    def image(match: re.Match[str]) -> str:
        url = match.group(2)
        name = url.removeprefix(GX_IMAGE_HOST).split("?")[0]
        if url.startswith(GX_IMAGE_HOST) and name in GX_IMAGES:
            return f'{match.group(1)}"{static}{name}"'
        log.warning("Data Docs: removed an external image the site has no copy of: %s", url)
        return f'{match.group(1)}""'

    html = _GX_STATIC_IMAGE.sub(lambda m: f"{m.group(1)}{static}{m.group(2)}{m.group(1)}", html)

    def css_url(match: re.Match[str]) -> str:
        # GX's dark-mode navbar logo; the light one stands in for it
        if match.group(2).startswith(GX_IMAGE_HOST):
            return f'url("{static}logo-long.png")'
        log.warning("Data Docs: removed an external stylesheet image: %s", match.group(2))
        return "none"

    html = _SCRIPT.sub(script, html)
    html = _LINK.sub(link, html)
    html = _CSS_URL.sub(css_url, html)
    return _IMG_SRC.sub(image, html)


def _dropped(url: str) -> str:
    if url in DROPPED:
        return ""
    log.warning("Data Docs: removed a reference to %s (no local copy; the page works without it)", url)
    return ""


def _copy_assets(target: Path) -> None:
    """The vendored files and GX's two images into the build's ``static/lockgate/``."""
    import great_expectations

    for local in sorted(set(CDN_FILES.values())):
        _copy(ASSETS / local, target / local)
    for font in (ASSETS / "fontawesome-free-6.6.0" / "webfonts").iterdir():
        _copy(font, target / "fontawesome-free-6.6.0" / "webfonts" / font.name)
    for licence in ASSETS.glob("*/LICENSE*"):
        _copy(licence, target / licence.relative_to(ASSETS))
    images = Path(great_expectations.__file__).parent / "render" / "view" / "static" / "images"
    for name in GX_IMAGES:
        _copy(images / name, target / name)


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def page_url(base: str, page: str) -> str:
    """The address of a site page under a server's base URL (``http://127.0.0.1:8765``)."""
    from urllib.parse import quote

    return posixpath.join(base.rstrip("/") + "/", quote(page))


__all__ = ["CDN_FILES", "offline_html", "page_url", "publish_validation", "rebuild_index"]
