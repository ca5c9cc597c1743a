"""Safe YAML reading that remembers where every value came from.

Data owners write passports and contracts by hand, so each validation error must point at the
file, line and column. ruamel.yaml keeps positions and refuses duplicate keys; on top of it this
module refuses what a catalog never needs and an attacker might send: explicit tags (no object
construction), alias bombs and oversized files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from contracts.diagnostics import Problem
from contracts.errors import CatalogError

if TYPE_CHECKING:
    from pathlib import Path

MAX_FILE_BYTES = 1024 * 1024
MAX_EXPANDED_NODES = 100_000
_ALLOWED_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge")
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


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    return yaml


def _check_nodes(path: Path, root: Node | None) -> None:
    """Refuse explicit tags and documents whose aliases expand past a sane size."""
    if root is None:
        return
    expanded: dict[int, int] = {}

    def visit(node: Node) -> int:
        if id(node) in expanded:
            return expanded[id(node)]
        if node.tag not in _ALLOWED_TAGS:
            mark = node.start_mark
            raise CatalogError(
                [Problem(path, mark.line + 1, mark.column + 1, "", f"YAML tag '{node.tag}' is not allowed")]
            )
        expanded[id(node)] = 1  # guards against recursive aliases while counting
        size = 1
        if isinstance(node, MappingNode):
            size += sum(visit(k) + visit(v) for k, v in node.value)
        elif isinstance(node, SequenceNode):
            size += sum(visit(item) for item in node.value)
        expanded[id(node)] = size
        if size > MAX_EXPANDED_NODES:
            mark = node.start_mark
            raise CatalogError(
                [
                    Problem(
                        path,
                        mark.line + 1,
                        mark.column + 1,
                        "",
                        f"document expands to more than {MAX_EXPANDED_NODES} nodes (alias bomb?)",
                    )
                ]
            )
        return size

    visit(root)


def _to_plain(value: Any) -> Any:
    if isinstance(value, CommentedMap):
        return {str(k): _to_plain(v) for k, v in value.items()}
    if isinstance(value, CommentedSeq):
        return [_to_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def read_yaml(path: Path) -> YamlDocument:
    """Read one YAML file safely; every failure is a `CatalogError` naming file, line and column."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CatalogError([Problem(path, 0, 0, "", f"cannot read file: {exc.strerror}")]) from exc
    if size > MAX_FILE_BYTES:
        raise CatalogError(
            [Problem(path, 0, 0, "", f"file is {size} bytes; catalog files are limited to {MAX_FILE_BYTES}")]
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError([Problem(path, 0, 0, "", f"file is not UTF-8: {exc.reason}")]) from exc
    yaml = _yaml()
    try:
        _check_nodes(path, yaml.compose(text))
        root = _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        message = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise CatalogError([Problem(path, line, col, "", message)]) from exc
    return YamlDocument(path=path, data=_to_plain(root), _root=root)
