"""``--format csv``: a list result is one row per item, nested values are JSON text, and any text survives
the round trip through a CSV reader."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from cli.output import OutputFormat, to_csv, write

if TYPE_CHECKING:
    import pytest


class Row(BaseModel):
    name: str
    count: int | None
    tags: list[str]
    ok: bool


def read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_a_list_of_models_is_one_row_each(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        Row(name='a, "b"', count=None, tags=["x", "y"], ok=True),
        Row(name="line\nbreak", count=2, tags=[], ok=False),
    ]
    write(rows, lambda r: [], OutputFormat.CSV)
    assert read(capsys.readouterr().out) == [
        {"name": 'a, "b"', "count": "", "tags": '["x", "y"]', "ok": "true"},
        {"name": "line\nbreak", "count": "2", "tags": "[]", "ok": "false"},
    ]


def test_a_single_result_is_one_row_and_columns_lead_the_header() -> None:
    assert to_csv({"b": {"k": 1}, "a": 1}, columns=("a", "c")) == 'a,c,b\r\n1,,"{""k"": 1}"\r\n'
    assert to_csv([1, "x"]) == "value\r\n1\r\nx\r\n"


def test_an_empty_list_prints_the_header_it_is_given() -> None:
    assert to_csv([], columns=("seq", "at")) == "seq,at\r\n"
    assert to_csv([]) == ""


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3), max_leaves=6)


@given(
    st.lists(
        st.dictionaries(st.text(min_size=1), JSON_VALUES, min_size=1, max_size=4), min_size=1, max_size=4
    )
)
def test_every_cell_reads_back(rows: list[dict[str, Any]]) -> None:
    parsed = read(to_csv(rows))
    assert len(parsed) == len(rows)
    for row, back in zip(rows, parsed, strict=True):
        for name, value in row.items():
            cell = back[name]
            if value is None:
                assert cell == ""
            elif isinstance(value, str):
                assert cell == value
            else:
                assert json.loads(cell) == value
