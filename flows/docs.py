"""Data Docs for people: the link a run leaves to its validation page, and serving the lake's site.

A run's link points at ``lockgate docs serve`` (an HTTP address a browser opens from Prefect's UI),
not at a ``file://`` or ``s3://`` URI. Where that server is reached is the ``docs_url`` setting
(``LOCKGATE_DOCS_URL``); without it the link assumes the server's default address on this machine,
and the artifact says how to start it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.data_docs import page_url
from flows.settings import current_settings
from storage.docs_server import DEFAULT_HOST, DEFAULT_PORT, docs_server
from storage.store import open_store

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

DEFAULT_DOCS_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"


def docs_link(page: str) -> str:
    """The address of a page of the lake's Data Docs site, under the configured base URL."""
    return page_url(current_settings().docs_url or DEFAULT_DOCS_URL, page)


def docs_hint(lake: str) -> str:
    """What the run's link artifact says about opening the link."""
    if current_settings().docs_url:
        return "served at LOCKGATE_DOCS_URL"
    return f"start the server first: lockgate docs serve --lake {lake}"


def serve_docs(lake: str, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """A read-only server of the lake's Data Docs site (call ``serve_forever`` on it)."""
    return docs_server(open_store(lake), host=host, port=port)


__all__ = ["DEFAULT_DOCS_URL", "docs_hint", "docs_link", "serve_docs"]
