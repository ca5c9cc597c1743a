"""Safe YAML reading: every refusal is a CatalogError pinned to file, line and column."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from contracts.errors import CatalogError
from contracts.yamlio import MAX_FILE_BYTES, read_yaml

if TYPE_CHECKING:
    from pathlib import Path


def _problem(path: Path) -> str:
    with pytest.raises(CatalogError) as info:
        read_yaml(path)
    assert len(info.value.problems) == 1
    return str(info.value.problems[0])


def test_reads_plain_data_and_locates_nested_fields(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        "name: x\nconnector:\n  kind: csv\n  path: data.csv\nlist:\n  - a\n  - b\n", encoding="utf-8"
    )
    doc = read_yaml(path)
    assert doc.data == {"name": "x", "connector": {"kind": "csv", "path": "data.csv"}, "list": ["a", "b"]}
    assert doc.locate(("connector", "path")) == (4, 3, "connector.path")
    assert doc.locate(("list", 1)) == (7, 5, "list.1")
    # pydantic's discriminated-union tag ('csv') is not a key of the document: it is skipped.
    assert doc.locate(("connector", "csv", "path")) == (4, 3, "connector.path")
    # A key that is not written resolves to its parent's position, and is still named.
    assert doc.locate(("connector", "delimiter")) == (2, 1, "connector.delimiter")


def test_duplicate_keys_are_refused_with_position(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("name: a\ntitle: t\nname: b\n", encoding="utf-8")
    message = _problem(path)
    assert message.startswith(f"{path}:3:1:")
    assert "duplicate" in message


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system ['echo hacked']\n",
        "a: !custom 3\n",
        "a: !!binary aGVsbG8=\n",
    ],
)
def test_explicit_tags_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "tag.yaml"
    path.write_text(text, encoding="utf-8")
    message = _problem(path)
    assert f"{path}:1:" in message
    assert "tag" in message
    assert "not allowed" in message


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert "alias bomb" in _problem(path)


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * MAX_FILE_BYTES + "\n", encoding="utf-8")
    assert "limited to" in _problem(path)


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cp.yaml"
    path.write_bytes("title: Клиенты\n".encode("cp1251"))
    assert "not UTF-8" in _problem(path)


def test_syntax_error_points_at_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: a\nconnector:\n  kind: csv\n   path: x\n", encoding="utf-8")
    message = _problem(path)
    assert message.startswith(f"{path}:4:")


def test_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    assert "cannot read file" in _problem(tmp_path / "absent.yaml")
