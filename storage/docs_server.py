"""A read-only HTTP server for the lake's Data Docs site, for ``lockgate docs serve``.

Browsers do not open ``file://`` or ``s3://`` links from Prefect's UI, and an S3 lake has no folder to
open at all; so the site is served over HTTP, reading every file through the lake's `ObjectStore`
(the same code for a local folder and S3). Only GET and HEAD, only keys under ``docs/_site/``: a path
is decoded once, and any ``..``, ``.``, empty or backslash segment, NUL, or a second round of
percent-encoding is refused before a key is formed, so no request reaches another part of the lake.
"""

from __future__ import annotations

import mimetypes
import posixpath
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import unquote

from storage import layout
from storage.errors import InvalidKey, ObjectNotFound, StorageError

if TYPE_CHECKING:
    from storage.base import ObjectStore

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
INDEX = "index.html"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".woff2": "font/woff2", ".ico": "image/x-icon"}


def site_path(request_path: str) -> str | None:
    """The site file a request path names (``/`` is the index), or None when it is not a plain path
    inside the site."""
    raw = request_path.split("?", 1)[0].split("#", 1)[0]  # not urlsplit: it reads "//x/y" as host x
    path = unquote(raw, errors="strict")
    if "%" in path or "\\" in path or "\x00" in path or not path.startswith("/"):
        return None  # encoded twice, a Windows separator or NUL: never a file of the site
    path = path[1:] or INDEX
    if path.endswith("/"):
        path += INDEX
    parts = path.split("/")
    if any(part in {"", ".", ".."} for part in parts) or posixpath.normpath(path) != path:
        return None
    return path


class DocsRequestHandler(BaseHTTPRequestHandler):
    """Serves the site's files from the store set on the server class; read-only."""

    store: ClassVar[ObjectStore]
    server_version = "lockgate-docs"

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _refuse(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED, "the Data Docs server is read-only")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

    def _serve(self, *, body: bool) -> None:
        try:
            path = site_path(self.path)
        except UnicodeDecodeError:
            path = None
        if path is None:
            self.send_error(HTTPStatus.BAD_REQUEST, "not a path inside the Data Docs site")
            return
        try:
            data = self.store.get_bytes(layout.docs_site_key(path))
        except (ObjectNotFound, InvalidKey, ValueError):
            self.send_error(HTTPStatus.NOT_FOUND, "no such page in the Data Docs site")
            return
        except StorageError:
            self.send_error(HTTPStatus.BAD_GATEWAY, "the lake could not be read")
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", _content_type(path))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: request lines would only repeat page paths into the terminal."""


def _content_type(path: str) -> str:
    suffix = posixpath.splitext(path)[1].lower()
    kind = _TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind


def docs_server(
    store: ObjectStore, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
) -> ThreadingHTTPServer:
    """A server (not yet serving: call ``serve_forever``) for the site of the lake behind `store`;
    port 0 picks a free one (``server.server_address`` says which)."""
    handler = type("BoundDocsRequestHandler", (DocsRequestHandler,), {"store": store})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "DocsRequestHandler", "docs_server", "site_path"]
