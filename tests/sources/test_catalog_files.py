"""Catalog files that are not what they seem: wrong codecs, FIFOs, folders, unreadable or non-UTF-8
files, symlinks out of the catalog, and values that must never reach an error message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testkit.catalog_files import CONTRACT, PASSPORT, write_catalog
from typer.testing import CliRunner

from cli.app import app
from contracts.errors import CatalogError
from labeling.catalog import check_catalog
from sources.catalog import load_catalog

if TYPE_CHECKING:
    from collections.abc import Iterator

LOCKGATE = Path(sys.executable).parent / "lockgate"


def _problems(root: Path) -> list[str]:
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    return [str(p) for p in info.value.problems]


def _catalog_problems(root: Path) -> list[str]:
    with pytest.raises(CatalogError) as info:
        check_catalog(root)
    return [str(p) for p in info.value.problems]


def _with_encoding(name: str) -> str:
    return PASSPORT.replace('  delimiter: ","\n', f'  delimiter: ","\n  encoding: {name}\n')


@contextmanager
def _unblocking(fifo: Path, after: float = 10.0) -> Iterator[None]:
    """Should the code under test open `fifo` and wait, connect a writer after `after` seconds and
    close it, so the reader gets end-of-file: a regression fails the test instead of hanging it."""
    stop = threading.Event()

    def unblock() -> None:
        while not stop.wait(after):
            with suppress(OSError):  # no reader is waiting: nothing to unblock
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    thread = threading.Thread(target=unblock, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# --- encodings -------------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["zlib_codec", "rot13", "base64", "hex", "undefined"])
def test_codecs_that_are_not_text_encodings_are_refused_at_the_field(tmp_path: Path, codec: str) -> None:
    write_catalog(tmp_path, _with_encoding(codec))
    assert _problems(tmp_path) == [
        f"{tmp_path / 'sources' / 'people.yaml'}:15:3: connector.encoding: "
        "not a text encoding (a binary or text transform): use one such as utf-8 or cp1251"
    ]


@pytest.mark.parametrize(
    ("written", "normalised"), [("UTF8", "utf-8"), ("Latin-1", "iso8859-1"), ("cp1251", "cp1251")]
)
def test_text_encoding_names_are_normalised(tmp_path: Path, written: str, normalised: str) -> None:
    [source] = load_catalog(write_catalog(tmp_path, _with_encoding(written))).sources
    assert getattr(source.passport.connector, "encoding", None) == normalised


def test_validate_refuses_rot13_naming_file_line_and_field(tmp_path: Path) -> None:
    write_catalog(tmp_path, _with_encoding("rot13"))
    result = CliRunner().invoke(app, ["validate", "--catalog", str(tmp_path)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(
        f"{tmp_path / 'sources' / 'people.yaml'}:15:3: connector.encoding: not a text encoding"
    )
    assert lines[1:] == ["1 problem(s) found"]
    assert "Traceback" not in result.output


# --- files that are not regular files ---------------------------------------------------------------


def test_a_fifo_among_the_passports_is_refused_without_being_opened(tmp_path: Path) -> None:
    write_catalog(tmp_path)
    fifo = tmp_path / "sources" / "pipe.yaml"
    os.mkfifo(fifo)
    with _unblocking(fifo):
        problems = _problems(tmp_path)
    assert problems == [
        f"{fifo}:0:0: is a FIFO (named pipe), not a file; catalog files must be regular files"
    ]


def test_a_fifo_as_contract_is_refused(tmp_path: Path) -> None:
    contract = write_catalog(tmp_path) / "contracts" / "people.yaml"
    contract.unlink()
    os.mkfifo(contract)
    with _unblocking(contract):
        problems = _problems(tmp_path)
    assert problems == [
        f"{contract}:0:0: is a FIFO (named pipe), not a file; catalog files must be regular files"
    ]


def test_validate_does_not_hang_on_a_fifo(tmp_path: Path) -> None:
    """Through the command, in a real process: before the fix it never returned."""
    write_catalog(tmp_path)
    fifo = tmp_path / "sources" / "pipe.yaml"
    os.mkfifo(fifo)
    done = subprocess.run(
        [str(LOCKGATE), "validate", "--catalog", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert f"{fifo}:0:0: is a FIFO (named pipe)" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_directory_named_like_a_passport_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    folder = write_catalog(tmp_path) / "sources" / "old.yaml"
    folder.mkdir()
    assert _problems(tmp_path) == [
        f"{folder}:0:0: is a directory, not a file; catalog files must be regular files"
    ]


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads a chmod 000 file: nothing is unreadable"
)
def test_an_unreadable_passport_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    passport = write_catalog(tmp_path) / "sources" / "people.yaml"
    passport.chmod(0)
    try:
        assert _problems(tmp_path) == [f"{passport}:0:0: cannot read file: Permission denied"]
    finally:
        passport.chmod(0o644)


def test_a_contract_that_cannot_be_resolved_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    """A symlink loop cannot be read by anyone, root included (it raised RuntimeError before)."""
    contract = write_catalog(tmp_path) / "contracts" / "people.yaml"
    contract.unlink()
    contract.symlink_to(contract.name)
    assert _problems(tmp_path) == [f"{contract}:0:0: cannot read file: Too many levels of symbolic links"]


def test_non_utf8_yaml_is_pinned_to_the_first_bad_byte(tmp_path: Path) -> None:
    passport = PASSPORT.replace("title: People", "title: Люди").encode("cp1251")
    write_catalog(tmp_path)
    path = tmp_path / "sources" / "people.yaml"
    path.write_bytes(passport)
    [problem] = _problems(tmp_path)
    assert problem.startswith(f"{path}:2:8: file is not UTF-8 (invalid")


# --- containment ------------------------------------------------------------------------------------

SECRET = "db_password: s3cr3t-hunter2\n"


def _outside(tmp_path: Path, text: str, name: str = "elsewhere.yaml") -> Path:
    folder = tmp_path / "outside"
    folder.mkdir(exist_ok=True)
    target = folder / name
    target.write_text(text, encoding="utf-8")
    return target


def _link(path: Path, target: Path) -> None:
    path.unlink()
    path.symlink_to(target)


OUTSIDE = "resolves to a file outside the catalog folder; catalog files must stay inside it"


@pytest.mark.parametrize("kind", ["sources", "contracts"])
def test_passport_or_contract_symlinked_outside_the_catalog_is_refused(tmp_path: Path, kind: str) -> None:
    """The target is a valid file, so before the fix the catalog loaded from outside without a word."""
    root = write_catalog(tmp_path / "catalog")
    inside = root / kind / "people.yaml"
    _link(inside, _outside(tmp_path, inside.read_text(encoding="utf-8") + f"# {SECRET}"))
    assert _problems(root) == [f"{inside}:0:0: {OUTSIDE}"]


def test_a_catalog_folder_symlinked_outside_is_refused(tmp_path: Path) -> None:
    root = write_catalog(tmp_path / "catalog")
    outside = tmp_path / "outside-contracts"
    (root / "contracts").rename(outside)
    (root / "contracts").symlink_to(outside)
    assert _problems(root) == [f"{root / 'contracts' / 'people.yaml'}:0:0: {OUTSIDE}"]


def test_labeling_plan_and_gold_file_symlinked_outside_are_refused(catalog: Path, tmp_path: Path) -> None:
    plan = catalog / "labeling" / "support_topics.yaml"
    gold = catalog / "labeling" / "support_topics_gold.csv"
    _link(gold, _outside(tmp_path, gold.read_text(encoding="utf-8"), "gold.csv"))
    assert _catalog_problems(catalog) == [f"{gold}:0:0: {OUTSIDE}"]
    _link(plan, _outside(tmp_path, plan.read_text(encoding="utf-8")))
    assert _catalog_problems(catalog) == [f"{plan}:0:0: {OUTSIDE}"]


def test_symlinks_inside_the_catalog_stay_allowed(tmp_path: Path) -> None:
    root = write_catalog(tmp_path)
    shared = root / "contracts" / "shared"
    shared.mkdir()
    contract = root / "contracts" / "people.yaml"
    contract.rename(shared / "people.yaml")
    contract.symlink_to(Path("shared") / "people.yaml")
    [source] = load_catalog(root).sources
    assert source.contract_path == (shared / "people.yaml").resolve()


# --- values never reach a message -------------------------------------------------------------------


def test_duplicate_keys_are_named_without_their_values(tmp_path: Path) -> None:
    contract = CONTRACT.replace("id: people\n", f"id: people\n{SECRET}{SECRET.replace('hunter2', 'hunter3')}")
    write_catalog(tmp_path, contract=contract)
    [problem] = _problems(tmp_path)
    assert problem == (
        f"{tmp_path / 'contracts' / 'people.yaml'}:5:1: duplicate key 'db_password' (first written on line 4)"
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("masking: hash", "masking: s3cr3t-hunter2", "unknown masking rule: use one of"),
        ("logicalType: integer", "logicalType: s3cr3t-hunter2", "Input should be 'string'"),
        ("kwargs: {column: person_id, min_value: 1}", "kwargs: {column: person_id, s3cr3t-hunter2]", ""),
    ],
)
def test_contract_messages_never_quote_the_value(tmp_path: Path, old: str, new: str, message: str) -> None:
    write_catalog(tmp_path, contract=CONTRACT.replace(old, new))
    [problem] = _problems(tmp_path)
    assert message in problem
    assert "s3cr3t" not in problem and "hunter2" not in problem


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("name: people", "name: S3cr3t Hunter2"),
        ("kind: csv", "kind: s3cr3t-hunter2"),
        ("update_frequency: daily", "update_frequency: s3cr3t-hunter2"),
        ("owner: owner@example.com", "owner: s3cr3t-hunter2!@example!.com"),
        ("  path: data/people.csv", "  path: data/people.csv\n  encoding: s3cr3t-hunter2"),
    ],
)
def test_passport_messages_never_quote_the_value(tmp_path: Path, old: str, new: str) -> None:
    write_catalog(tmp_path, PASSPORT.replace(old, new))
    [problem] = _problems(tmp_path)
    assert "3cr3t" not in problem and "unter2" not in problem, problem


# Every top-level field but `contract`: a path that is not found is named, as messages name files.
FIELDS = [line.split(":")[0] for line in PASSPORT.splitlines() if not line.startswith((" ", "contract"))]
MARK = "ʘ"  # starts every random string, so an echo cannot be a coincidence with message text

texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=3, max_size=24).map(lambda t: MARK + t)
scalars = st.one_of(texts, st.integers(10**9, 10**15), st.dates().map(lambda d: d.isoformat() + MARK))
BREAKERS = [
    None,  # the value well quoted
    "{}",  # the value written as it is
    "@{}",  # a character that cannot start a token, then the value
    '"{}',  # an unterminated string
    '"\\q{}"',  # an unknown escape
    "*{}",  # an undefined alias named after the value
    "!{} x",  # a tag named after the value
    "&{} {{a: 1, a: 2}}",  # an anchor named after the value, on a mapping with a duplicate key
    "{}: nested: deeper",  # mapping values where none are allowed
]


def _yaml_scalar(value: str | int) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    replaced=st.dictionaries(st.sampled_from(FIELDS), scalars, min_size=1, max_size=5),
    duplicate=st.one_of(st.none(), st.tuples(st.sampled_from(FIELDS), scalars)),
    breaker=st.sampled_from(BREAKERS),
    broken_field=st.sampled_from(FIELDS),
)
def test_no_message_contains_a_value_of_the_file(
    replaced: dict[str, str | int],
    duplicate: tuple[str, str | int] | None,
    breaker: str | None,
    broken_field: str,
) -> None:
    values = [str(v) for v in replaced.values()]
    lines = []
    for line in PASSPORT.splitlines():
        field = line.split(":")[0]
        if field in replaced:
            value = _yaml_scalar(replaced[field])
            if field == broken_field and breaker is not None:
                value = breaker.format(replaced[field])
            line = f"{field}: {value}"
        lines.append(line)
    if duplicate is not None:
        lines.append(f"{duplicate[0]}: {_yaml_scalar(duplicate[1])}")
        values.append(str(duplicate[1]))
    with tempfile.TemporaryDirectory() as folder:
        root = write_catalog(Path(folder), "\n".join(lines) + "\n")
        try:
            load_catalog(root)
        except CatalogError as exc:
            messages = [f"{p.field}: {p.message}" for p in exc.problems]
        else:
            messages = []
    for value in values:
        for message in messages:
            assert value not in message, (value, message)
