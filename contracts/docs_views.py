"""Great Expectations' Data Docs views with their Jinja templates compiled once per process.

GX builds a new Jinja environment for every view it instantiates, and a site build instantiates its
views afresh: every run's page compiled GX's ≈30 templates again, ≈0.24 s of the ≈0.4 s a page took at
1,000 rows (measured), held under the GIL while other sources' steps wait. These subclasses give those
environments one shared in-memory bytecode cache (Jinja's `BytecodeCache`), keyed by template and
checked against each template's source, so a page renders the same and only compiles once.
The site configuration names them (`contracts.data_docs`), GX's documented way to choose a view class.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from great_expectations.render.view.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import BytecodeCache

if TYPE_CHECKING:
    from jinja2.bccache import Bucket


class _MemoryBytecodeCache(BytecodeCache):
    """Compiled templates kept in memory for the process's lifetime (GX's templates: a few MB at most)."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket: Bucket) -> None:
        with self._lock:
            code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)  # Jinja drops it if the template's source changed

    def dump_bytecode(self, bucket: Bucket) -> None:
        code = bucket.bytecode_to_string()
        with self._lock:
            self._code[bucket.key] = code


TEMPLATES = _MemoryBytecodeCache()


class CachedJinjaPageView(DefaultJinjaPageView):
    """GX's page view (a validation result's page), its templates compiled once per process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = TEMPLATES


class CachedJinjaIndexPageView(DefaultJinjaIndexPageView):
    """GX's index page view, its templates compiled once per process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = TEMPLATES
