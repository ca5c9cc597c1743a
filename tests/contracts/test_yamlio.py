"""Safe YAML reading: every refusal is a CatalogError pinned to file, line and column."""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.errors import CatalogError
from contracts.yamlio import MAX_FILE_BYTES, read_yaml


def _problem(path: Path, root: Path | None = None) -> str:
    with pytest.raises(CatalogError) as info:
        read_yaml(path, root=root)
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


def test_non_utf8_file_is_refused_at_the_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "cp.yaml"
    # UTF-8 up to the bad byte, two-byte letters included: the column counts characters, not bytes.
    path.write_bytes("name: x\ntitle: Ёж ".encode() + "Клиенты\n".encode("cp1251"))
    assert _problem(path) == f"{path}:2:11: file is not UTF-8 (invalid continuation byte): save it as UTF-8"


def test_syntax_error_points_at_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: a\nconnector:\n  kind: csv\n   path: x\n", encoding="utf-8")
    message = _problem(path)
    assert message.startswith(f"{path}:4:")


def test_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    assert "cannot read file" in _problem(tmp_path / "absent.yaml")


# --- messages name keys and positions, never values ---------------------------------------------------

SECRET = "s3cr3t-hunter2"


def test_duplicate_keys_name_the_key_and_both_lines_but_no_value(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(f"db:\n  db_password: {SECRET}\n  db_password: {SECRET}x\n", encoding="utf-8")
    assert _problem(path) == f"{path}:3:3: duplicate key 'db_password' (first written on line 2)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"a: @{SECRET}\n", "1:4: found character that cannot start any token"),
        (f'a: "{SECRET}\\q"\n', "1:20: found unknown escape character"),
        (f"a: *{SECRET}\n", "1:4: found undefined alias"),
        (f"a: !e!{SECRET} x\n", "1:4: found undefined tag handle"),
        (f'a: "{SECRET}\\xZZ"\n', "1:21: expected escape sequence of 2 hexdecimal numbers"),
        (f"a: {SECRET}\x07\n", "1:18: a control character is not allowed in YAML text"),
        (f"a: {{b: 1}}\n? [{SECRET}]\n: 1\n", "2:3: keys must be plain names, not lists or mappings"),
        ("a: 1\n01: x\n1: y\n", "3:1: duplicate key: a key is written twice in this mapping"),
        (f"a: !{SECRET} x\n", "1:4: explicit YAML tags (!something) are not allowed: write plain values"),
    ],
)
def test_syntax_errors_keep_their_position_but_not_what_was_found(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    assert _problem(path) == f"{path}:{expected}"


def test_a_tab_is_still_named(tmp_path: Path) -> None:
    path = tmp_path / "tab.yaml"
    path.write_text("a:\tx\n\tb: 1\n", encoding="utf-8")
    assert _problem(path) == f"{path}:1:3: found character '\\t' that cannot start any token"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2024-13-45", "cannot be read as a date"), ("1" + "0" * 5000, "cannot be read as an integer")],
)
def test_scalars_yaml_cannot_convert_are_problems_not_tracebacks(
    tmp_path: Path, value: str, expected: str
) -> None:
    path = tmp_path / "scalar.yaml"
    path.write_text(f"a: 1\nb: {value}\n", encoding="utf-8")
    assert _problem(path) == f"{path}:2:4: {expected}; quote it to keep it as text"


def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    assert "nested more than 64 levels deep" in _problem(path)


def test_reused_anchors_print_no_warning_quoting_the_document(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text(f"a: &x {SECRET}\nb: &x {SECRET}\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_yaml(path).data == {"a": SECRET, "b": SECRET}


keys = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True)
values = st.text(st.characters(blacklist_categories=("Cs",)), min_size=2, max_size=20).map(lambda t: "ʘ" + t)


@settings(max_examples=200, deadline=None)
@given(
    pairs=st.lists(st.tuples(keys, values), min_size=1, max_size=8),
    raw=st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_no_yaml_problem_contains_a_value_of_the_file(pairs: list[tuple[str, str]], raw: list[bool]) -> None:
    """Random values, some written as they are (so they break the syntax): keys may repeat."""
    text = "".join(
        f"{key}: {value if as_is else json.dumps(value)}\n"
        for (key, value), as_is in zip(pairs, raw, strict=False)
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            read_yaml(path)
        except CatalogError as exc:
            message = str(exc).replace(str(path), "")
            for _, value in pairs:
                assert value not in message, (value, message)


# --- the file itself ---------------------------------------------------------------------------------


@pytest.mark.timeout(60)  # a FIFO opened for reading blocks until a writer comes: fail, do not hang
def test_special_files_are_refused_without_being_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    assert (
        _problem(fifo)
        == f"{fifo}:0:0: is a FIFO (named pipe), not a file; catalog files must be regular files"
    )
    assert (
        _problem(folder) == f"{folder}:0:0: is a directory, not a file; catalog files must be regular files"
    )
    assert "is a character device" in _problem(Path("/dev/null"))


def test_with_a_root_files_resolving_outside_it_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    root.mkdir()
    outside = tmp_path / "secret.yaml"
    outside.write_text(f"db_password: {SECRET}\n", encoding="utf-8")
    link = root / "stores.yaml"
    link.symlink_to(outside)
    assert read_yaml(link).data == {"db_password": SECRET}  # no root: a file named on the command line
    message = _problem(link, root=root)
    assert (
        message
        == f"{link}:0:0: resolves to a file outside the catalog folder; catalog files must stay inside it"
    )
    (root / "real.yaml").write_text("a: 1\n", encoding="utf-8")
    (root / "ok.yaml").symlink_to("real.yaml")
    assert read_yaml(root / "ok.yaml", root=root).data == {"a": 1}
