"""Safe reading of catalog files, and of YAML that remembers where every value came from.

Data owners write passports, contracts and plans by hand, so each mistake must point at the file,
line and column. ruamel.yaml keeps positions; on top of it this module refuses what a catalog never
needs and an attacker might send: files outside the catalog folder, FIFOs and devices (which would
hang or have side effects when opened), explicit tags (no object construction), alias bombs, deep
nesting, duplicate keys and oversized files. Messages name keys and positions, never values: a
catalog file may hold a pasted secret, and error text ends up in logs and CI output.
"""

from __future__ import annotations

import os
import re
import stat
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from contracts.diagnostics import Problem
from contracts.errors import CatalogError

if TYPE_CHECKING:
    from pathlib import Path

MAX_FILE_BYTES = 1024 * 1024
MAX_EXPANDED_NODES = 100_000
MAX_DEPTH = 64
_TAG = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(
    f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge")
)
# Scalars whose text the constructor converts and may refuse (a 13th month, a 5000-digit number).
_CONVERTED_TAGS = {f"{_TAG}int": "an integer", f"{_TAG}float": "a number", f"{_TAG}timestamp": "a date"}
# ruamel quotes what it found (a character, an alias, a key and its values): all are removed but
# token names such as '<block end>' and a tab, which say what went wrong without showing any data.
_QUOTED = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""")
_KEPT_QUOTED = re.compile(r"""^'(?:<[a-z ]+>|\\t)'$""")
_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDocument:
    """Plain Python data from one YAML file plus a way to find where any part of it was written."""

    path: Path
    data: Any
    _root: Any

    def locate(self, loc: Loc) -> tuple[int, int, str]:
        """1-based (line, column) and dotted field path of the value at `loc`.

        Parts of `loc` that are not in the document (pydantic's union tags such as ``csv`` in
        ``connector.csv.delimiter``) are skipped; a missing key resolves to its parent. For a key
        that is present, the key's own position is returned: that is where an editor should put
        the cursor for "unknown field" and "bad value" alike.
        """
        node = self._root
        line, col = 1, 1
        matched: list[str] = []
        for part in loc:
            if isinstance(node, CommentedMap) and part in node:
                key_line, key_col = node.lc.key(part)
                line, col = key_line + 1, key_col + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                item_line, item_col = node.lc.item(part)
                line, col = item_line + 1, item_col + 1
                node = node[part]
            elif isinstance(node, CommentedMap) and _is_union_tag(node, part):
                continue
            else:
                matched.append(str(part))
                break
            matched.append(str(part))
        return line, col, ".".join(matched)

    def problem(self, loc: Loc, message: str) -> Problem:
        line, col, field = self.locate(loc)
        return Problem(self.path, line, col, field, message)


def _is_union_tag(mapping: CommentedMap, part: str | int) -> bool:
    """pydantic puts a discriminated union's tag (``csv`` in ``connector.csv.path``) in error
    locations; it is the value of the mapping's discriminator key, never a key itself."""
    return isinstance(part, str) and any(
        value == part for value in mapping.values() if isinstance(value, str)
    )


# --- the file itself -------------------------------------------------------------------------------


def _refuse(path: Path, message: str) -> CatalogError:
    return CatalogError([Problem(path, 0, 0, "", message)])


def _check_inside(path: Path, root: Path) -> None:
    """Refuse a file that resolves (through symlinks, its own or a folder's) outside `root`.

    os.path.realpath, unlike Path.resolve on Python 3.11, does not raise on a symlink loop: the loop
    is then reported by the stat that follows.
    """
    target = os.path.realpath(path)
    folder = os.path.realpath(root)
    if os.path.commonpath([folder, target]) != folder:
        raise _refuse(
            path, "resolves to a file outside the catalog folder; catalog files must stay inside it"
        )


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")


def read_catalog_file(path: Path, *, root: Path | None, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of one catalog file, or a `CatalogError` saying why not.

    With `root`, the file must resolve inside it. Only regular files are opened: a FIFO would block
    for ever and a device may act on open, so the type is checked with stat first, and again on the
    opened descriptor (non-blocking) in case the file was swapped in between.
    """
    if root is not None:
        _check_inside(path, root)
    try:
        before = path.stat()
    except OSError as exc:
        raise _refuse(path, f"cannot read file: {exc.strerror}") from exc
    kind = _kind(before.st_mode)
    if kind is not None:
        raise _refuse(path, f"is {kind}, not a file; catalog files must be regular files")
    if before.st_size > limit:
        raise _refuse(path, f"file is {before.st_size} bytes; catalog files are limited to {limit}")
    flags = (
        os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    )
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _refuse(path, f"cannot read file: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as file:
        opened = os.fstat(file.fileno())
        same = (opened.st_dev, opened.st_ino) == (before.st_dev, before.st_ino)
        if not same or not stat.S_ISREG(opened.st_mode):
            raise _refuse(path, "file was replaced while being read; try again")
        try:
            data = file.read(limit + 1)
        except OSError as exc:
            raise _refuse(path, f"cannot read file: {exc.strerror}") from exc
    if len(data) > limit:
        raise _refuse(path, f"file is over {limit} bytes; catalog files are limited to {limit}")
    return data


def _decode(path: Path, data: bytes) -> str:
    """UTF-8 text, or a problem at the line and column of the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[line_start : exc.start].decode("utf-8")) + 1  # valid: before the first bad byte
        raise CatalogError(
            [Problem(path, line, column, "", f"file is not UTF-8 ({exc.reason}): save it as UTF-8")]
        ) from exc


# --- the YAML ---------------------------------------------------------------------------------------


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    yaml.max_depth = MAX_DEPTH
    return yaml


def _at(path: Path, node: Node, field: str, message: str) -> CatalogError:
    mark = node.start_mark
    return CatalogError([Problem(path, mark.line + 1, mark.column + 1, field, message)])


def _check_mapping(path: Path, node: MappingNode) -> None:
    """Keys are plain scalars, each written once: named in the message, their values never."""
    seen: dict[tuple[str | None, str], Node] = {}
    for key, _ in node.value:
        if key.tag == f"{_TAG}merge":
            continue
        if not isinstance(key, ScalarNode):
            raise _at(path, key, "", "keys must be plain names, not lists or mappings")
        first = seen.setdefault((key.tag, key.value), key)
        if first is not key:
            raise _at(
                path,
                key,
                "",
                f"duplicate key '{key.value}' (first written on line {first.start_mark.line + 1})",
            )


def _check_nodes(path: Path, yaml: YAML, root: Node | None) -> None:
    """Refuse explicit tags, complex or duplicate keys, unreadable scalars and alias bombs."""
    if root is None:
        return
    expanded: dict[int, int] = {}

    def visit(node: Node) -> int:
        if id(node) in expanded:
            return expanded[id(node)]
        if node.tag not in _ALLOWED_TAGS:
            # Not quoted: a tag is the author's text, and catalog files need none.
            raise _at(path, node, "", "explicit YAML tags (!something) are not allowed: write plain values")
        expanded[id(node)] = 1  # guards against recursive aliases while counting
        size = 1
        if isinstance(node, MappingNode):
            _check_mapping(path, node)
            size += sum(visit(k) + visit(v) for k, v in node.value)
        elif isinstance(node, SequenceNode):
            size += sum(visit(item) for item in node.value)
        elif node.tag in _CONVERTED_TAGS:
            try:
                yaml.constructor.construct_object(node, deep=True)
            except (ValueError, OverflowError) as exc:
                raise _at(
                    path,
                    node,
                    "",
                    f"cannot be read as {_CONVERTED_TAGS[node.tag]}; quote it to keep it as text",
                ) from exc
        expanded[id(node)] = size
        if size > MAX_EXPANDED_NODES:
            raise _at(
                path, node, "", f"document expands to more than {MAX_EXPANDED_NODES} nodes (alias bomb?)"
            )
        return size

    visit(root)


def _without_values(text: str) -> str:
    """ruamel's message with every quoted thing it found taken out (see `_QUOTED`)."""
    kept = _QUOTED.sub(lambda m: m.group(0) if _KEPT_QUOTED.match(m.group(0)) else "", text)
    kept = re.sub(r",?\s*but found\s*$", "", " ".join(kept.split()))
    return kept.replace(" ,", ",").strip() or "invalid YAML"


def _syntax_problem(path: Path, text: str, exc: YAMLError) -> Problem:
    if isinstance(exc, ReaderError):
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        return Problem(path, line, col, "", "a control character is not allowed in YAML text")
    if not isinstance(exc, MarkedYAMLError):
        return Problem(path, 0, 0, "", "invalid YAML")
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    if isinstance(exc, MaxDepthExceededError):
        message = f"nested more than {MAX_DEPTH} levels deep"
    elif isinstance(exc, DuplicateKeyError):
        message = "duplicate key: a key is written twice in this mapping"
    else:
        message = _without_values(str(exc.problem or exc.context or ""))
    return Problem(path, line, col, "", message)


def _to_plain(value: Any) -> Any:
    if isinstance(value, CommentedMap):
        return {str(k): _to_plain(v) for k, v in value.items()}
    if isinstance(value, CommentedSeq):
        return [_to_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def read_yaml(path: Path, *, root: Path | None = None) -> YamlDocument:
    """Read one YAML file safely; every failure is a `CatalogError` naming file, line and column.

    With `root`, the file must resolve inside that catalog folder (see `read_catalog_file`).
    """
    text = _decode(path, read_catalog_file(path, root=root))
    yaml = _yaml()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ruamel warns of reused anchors, quoting the document
            _check_nodes(path, yaml, yaml.compose(text))
            data = _yaml().load(text)
    except YAMLError as exc:
        raise CatalogError([_syntax_problem(path, text, exc)]) from exc
    return YamlDocument(path=path, data=_to_plain(data), _root=data)
