"""Great Expectations' verdict on each rule, remembered on disk, so ``lockgate validate`` skips GX.

Building a rule's expectation is the only way to know whether GX accepts its arguments, and importing
GX to do it takes seconds (≈10 s on a laptop, most of ``lockgate validate``). A verdict depends only on
the rule, the GX version and our compile code (``contracts/expectations.py``), so each is stored under
a hash of those three; a rule seen before is judged from the file, and GX loads only when some rule is
new. The file holds hashes and GX's messages, never a rule's arguments.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from contracts.errors import RuleError
from contracts.expectations import compile_rule

if TYPE_CHECKING:
    from collections.abc import Iterator

    from contracts.model import QualityRule

CACHE_FILE = "rule-verdicts.json"
MAX_VERDICTS = 10_000  # the oldest go first; a catalog has hundreds of rules at most
_COMPILER = Path(__file__).with_name("expectations.py")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/lockgate`` (``~/.cache/lockgate`` when unset), where per-user caches belong."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lockgate"


def _judge_version() -> str:
    """What a verdict depends on besides the rule: the GX version and the code that compiles rules."""
    try:
        gx = version("great_expectations")
    except PackageNotFoundError:  # pragma: no cover - GX is a dependency
        gx = "?"
    return f"gx {gx}; {hashlib.sha256(_COMPILER.read_bytes()).hexdigest()[:16]}"


def _rule_key(rule: QualityRule) -> str:
    """Everything `compile_rule` reads from a rule, hashed: two rules with one key get one verdict."""
    fields = {
        "expectation": rule.expectation,
        "kwargs": rule.kwargs,
        "rule_id": rule.rule_id,
        "severity": rule.severity.value,
        "description": rule.description,
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


class RuleVerdicts:
    """GX's verdicts by rule hash, loaded from and saved to one JSON file in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / CACHE_FILE
        self.judge = _judge_version()
        self._verdicts: dict[str, list[str] | None] = {}
        self._changed = False
        with contextlib.suppress(OSError, ValueError, TypeError):  # missing or damaged: start afresh
            stored = json.loads(self.path.read_text(encoding="utf-8"))
            if stored.get("judge") == self.judge:
                self._verdicts = dict(stored["verdicts"])

    def check(self, rule: QualityRule) -> None:
        """Raise the `RuleError` GX gives for `rule` (from the file when known), or return when it builds."""
        key = _rule_key(rule)
        if key not in self._verdicts:
            try:
                compile_rule(rule)
                self._verdicts[key] = None
            except RuleError as exc:
                self._verdicts[key] = [exc.field, str(exc)]
            self._changed = True
        verdict = self._verdicts[key]
        if verdict is not None:
            raise RuleError(verdict[0], verdict[1])

    def save(self) -> None:
        """Write the verdicts back when some are new; a cache that cannot be written is only slower."""
        if not self._changed:
            return
        kept = dict(list(self._verdicts.items())[-MAX_VERDICTS:])
        text = json.dumps({"judge": self.judge, "verdicts": kept})
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".rule-verdicts-", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(text)
                Path(tmp).replace(self.path)  # readers see the old file or the new one, not half
            finally:
                Path(tmp).unlink(missing_ok=True)
        self._changed = False


@contextlib.contextmanager
def remembered_verdicts(folder: Path | None) -> Iterator[RuleVerdicts | None]:
    """Verdicts from `folder`'s cache for the block, saved after it; None (always ask GX) without one."""
    if folder is None:
        yield None
        return
    verdicts = RuleVerdicts(folder)
    try:
        yield verdicts
    finally:
        verdicts.save()
