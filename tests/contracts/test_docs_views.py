"""The Data Docs views share compiled templates across GX's per-view Jinja environments."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import DictLoader, Environment

from contracts.docs_views import CachedJinjaIndexPageView, CachedJinjaPageView, _MemoryBytecodeCache


def _no_compile(*args: Any, **kwargs: Any) -> Any:
    pytest.fail("the template was compiled again instead of loaded from the shared cache")


@pytest.mark.parametrize("view", [CachedJinjaPageView, CachedJinjaIndexPageView])
def test_a_second_view_loads_gx_templates_without_compiling_them(view: type[Any]) -> None:
    first, second = view(), view()
    assert first.env is not second.env  # GX makes an environment per view
    template = first.env.get_template("page.j2")
    second.env.compile = _no_compile  # an instance attribute: Jinja's loader calls it on a cache miss
    again = second.env.get_template("page.j2")
    assert again.name == template.name == "page.j2"


def test_a_changed_template_source_is_compiled_afresh() -> None:
    cache = _MemoryBytecodeCache()
    old = Environment(loader=DictLoader({"t.j2": "{{ a }}"}), bytecode_cache=cache)
    assert old.get_template("t.j2").render(a=1) == "1"
    new = Environment(loader=DictLoader({"t.j2": "<{{ a }}>"}), bytecode_cache=cache)
    assert new.get_template("t.j2").render(a=1) == "<1>"  # same name, new source: not the cached code
    same = Environment(loader=DictLoader({"t.j2": "<{{ a }}>"}), bytecode_cache=cache)
    same.compile = _no_compile  # type: ignore[method-assign]
    assert same.get_template("t.j2").render(a=2) == "<2>"
