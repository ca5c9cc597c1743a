"""The lake's audit log: append-only and hash-chained, so that a changed, removed or reordered entry shows.

Each entry is one object, ``audit/<seq:012d>.json`` (one JSON line), written create-if-absent and never
replaced: on S3 a conditional put (``If-None-Match: *``), locally a hard link. Two writers racing for the
same number cannot both win, so concurrent writers lose no entry: the loser lists again, chains onto the
entry that is last now and tries the number after it. Listing order is entry order, so appending lists
the keys and reads only the last entry, however long the log is.

Every entry carries ``prev_hash``, the hash of the entry before it, and ``hash``, a sha256 over the
canonical JSON of all its other fields (:func:`entry_hash`). :func:`verify` walks the chain and names the
first entry that was edited (its own hash), deleted (a gap in numbers), reordered or forged (a key that
disagrees with the number inside, or a ``prev_hash`` that does not match), or that cannot be read.

A chain shows edits but not a rewrite of the whole tail with fresh hashes by someone who can write the
log: record :attr:`AuditCheck.head` elsewhere from time to time (a ticket, a second bucket) to anchor it,
and deny deletes on ``layer=audit`` objects in the bucket policy.

Callers pass the actor (the ``LOCKGATE_USER`` setting or the OS user) and must never put personal data
in ``details`` in clear: hash it first. Messages here name keys and entry numbers, never field values.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from storage import layout
from storage.errors import AuditError, ObjectNotFound
from storage.tags import access_tags

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from storage.base import ObjectStore

GENESIS = "0" * 64  # the prev_hash of entry 1
OUTCOMES = ("ok", "denied", "failed", "dry-run")
MAX_ATTEMPTS = 200  # writes tried by one append before giving up (each loss means another writer won)
_READERS = 16  # entries fetched at once when reading the whole log (S3 round trips dominate)
_BATCH = 1000  # entries held in memory at once while reading the log


class AuditEntry(BaseModel):
    """One thing that happened to the lake, who did it, and the hash that ties it to the entry before."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = Field(ge=1)  # 1, 2, 3 ... no gaps
    at: AwareDatetime  # UTC
    actor: str
    role: str | None
    action: str  # e.g. "retention.delete", "erasure", "rollback", "query", "query.denied"
    source: str | None
    outcome: str  # "ok" | "denied" | "failed" | "dry-run"
    details: dict[str, Any]  # JSON-able; never personal data in clear
    prev_hash: str
    hash: str


class AuditCheck(BaseModel):
    """What :func:`verify` found: ``ok``, or the first broken entry's number and why."""

    ok: bool
    entries: int  # entry objects in the log
    first_broken: int | None = None
    problem: str | None = None
    head: str | None = None  # hash of the last entry when the chain is intact: record it to anchor the log


def entry_hash(fields: Mapping[str, Any]) -> str:
    """sha256 over the canonical JSON (sorted keys, no spaces, UTF-8) of every field except ``hash``."""
    body = {name: value for name, value in fields.items() if name != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(
    store: ObjectStore,
    *,
    actor: str,
    action: str,
    source: str | None = None,
    role: str | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry after the current last one and return it as written.

    Raises `AuditError` for an entry that could not be read back the same (details that are not plain
    JSON), when the last entry is unreadable (the log was tampered with: run ``lockgate audit verify``),
    or when `MAX_ATTEMPTS` numbers in a row were taken by other writers.
    """
    details = {} if details is None else details
    texts = {"actor": actor, "action": action, "role": role, "source": source}
    _check_fields(actor=actor, action=action, outcome=outcome, details=details, texts=texts)
    tags = access_tags("audit", source or "")
    seq, prev_hash = _tail(store)
    for lost in range(MAX_ATTEMPTS):
        fields = AuditEntry.model_construct(
            seq=seq,
            at=datetime.now(UTC),
            actor=actor,
            role=role,
            action=action,
            source=source,
            outcome=outcome,
            details=details,
            prev_hash=prev_hash,
            hash="",
        ).model_dump(mode="json")
        fields["hash"] = entry_hash(fields)
        data = (json.dumps(fields, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        key = layout.audit_key(seq)
        if store.put_bytes_if_absent(key, data, tags=tags):
            return AuditEntry.model_validate(fields)
        # Another writer took this number: chain onto whatever is last now. Jumping to the end, rather
        # than stepping to the next number, keeps a loser from falling ever further behind a busy log.
        seq, prev_hash = _tail(store)
        if lost >= 2:  # spread out writers that keep colliding
            time.sleep(random.uniform(0, 0.002 * min(lost, 20)))  # noqa: S311 - jitter, not a secret
    raise AuditError(
        f"audit log: could not append {action!r} after {MAX_ATTEMPTS} attempts; "
        "every number tried was taken by another writer"
    )


def entries(
    store: ObjectStore,
    *,
    since: datetime | None = None,
    role: str | None = None,
    action: str | None = None,
    source: str | None = None,
) -> list[AuditEntry]:
    """The log's entries in order, filtered; `action` also matches its sub-actions (``retention`` matches
    ``retention.delete``); a naive `since` is taken as UTC.

    Raises `AuditError` when an entry cannot be read (``lockgate audit verify`` says which and why).
    """
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    found = []
    for key, data in _fetch(store, [key for _, key in _numbered(store)]):
        if data is None:
            raise AuditError(f"audit entry {key!r} disappeared while the log was read")
        entry = _parse(key, data)
        if isinstance(entry, str):
            raise AuditError(f"audit entry {key!r} {entry}; run `lockgate audit verify`")
        if (
            (since is None or entry.at >= since)
            and (role is None or entry.role == role)
            and (action is None or entry.action == action or entry.action.startswith(f"{action}."))
            and (source is None or entry.source == source)
        ):
            found.append(entry)
    return found


def verify(store: ObjectStore) -> AuditCheck:
    """Walk the chain from entry 1 and name the first entry that is missing, unreadable, edited, out of
    place or not chained to the one before; then any object in the log that is not an entry."""
    keys = store.list(layout.audit_prefix())
    numbered = _numbered(store, keys)
    expected, prev_hash = 1, GENESIS
    for (seq, key), (_, data) in zip(numbered, _fetch(store, [key for _, key in numbered]), strict=True):
        problem = _check(key, seq, expected, prev_hash, data)
        if isinstance(problem, str):
            return AuditCheck(ok=False, entries=len(numbered), first_broken=expected, problem=problem)
        expected, prev_hash = seq + 1, problem.hash
    strays = sorted(set(keys) - {key for _, key in numbered})
    if strays:
        return AuditCheck(
            ok=False,
            entries=len(numbered),
            problem=f"{strays[0]!r} is not an audit entry name ({len(strays)} such object(s) in the log)",
        )
    return AuditCheck(ok=True, entries=len(numbered), head=prev_hash if numbered else None)


def _check(key: str, seq: int, expected: int, prev_hash: str, data: bytes | None) -> AuditEntry | str:
    """The entry at `key` if it is the intact successor of `prev_hash`, else what is wrong with it."""
    if seq != expected:
        return f"entry {expected} is missing (deleted?): the next object is {key!r}"
    if data is None:
        return f"{key!r} disappeared while the log was read"
    entry = _parse(key, data)
    if isinstance(entry, str):
        return f"{key!r} {entry}"
    if entry.seq != seq:
        return f"{key!r} holds entry {entry.seq} (moved or reordered)"
    if entry.prev_hash != prev_hash:
        previous = f"entry {seq - 1}" if seq > 1 else "the start of the log"
        return f"{key!r} does not follow {previous}: its prev_hash differs (reordered, inserted or forged)"
    return entry


def _parse(key: str, data: bytes) -> AuditEntry | str:
    """An entry whose stored hash matches its content, or why not; pydantic's own message quotes values,
    so only the number of problems is told."""
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        return "is not valid JSON (unreadable or overwritten)"
    if not isinstance(raw, dict):
        return "is not a JSON object (overwritten)"
    try:
        entry = AuditEntry.model_validate(raw)
    except ValidationError as exc:
        return f"is not a valid audit entry ({exc.error_count()} problem(s))"
    try:
        actual = entry_hash(raw)  # over the stored fields, so no coercion can hide an edit
    except (UnicodeEncodeError, ValueError):
        actual = ""
    if actual != entry.hash:
        return "was changed after it was written: its content no longer matches its hash"
    return entry


def _check_fields(
    *, actor: str, action: str, outcome: str, details: dict[str, Any], texts: dict[str, str | None]
) -> None:
    """Refuse an entry that could not be read back the same; messages name types, never values."""
    if not actor.strip() or not action.strip():
        raise AuditError("audit entry needs an actor and an action")
    for name, value in texts.items():
        try:
            (value or "").encode("utf-8")
        except UnicodeEncodeError:
            raise AuditError(f"audit entry's {name} is not valid Unicode text") from None
    if outcome not in OUTCOMES:
        raise AuditError(f"audit outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    if not isinstance(details, dict):
        raise AuditError(f"audit details of {action!r} must be a dict, not {type(details).__name__}")
    try:
        text = json.dumps(details, ensure_ascii=False, allow_nan=False)
        same = json.loads(text) == details
        text.encode("utf-8")
        problem = "it would not read back the same (tuples or non-string keys?)"
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        same, problem = False, type(exc).__name__
    if not same:
        raise AuditError(
            f"audit details of {action!r} are not plain JSON: {problem}; use str, int, float, bool, None, "
            "lists and dicts with string keys"
        )


def _numbered(store: ObjectStore, keys: Sequence[str] | None = None) -> list[tuple[int, str]]:
    """The log's entry objects by number, in order (other objects under the prefix left out)."""
    listed = store.list(layout.audit_prefix()) if keys is None else keys
    return sorted((seq, key) for key in listed if (seq := layout.audit_seq(key)) is not None)


def _tail(store: ObjectStore) -> tuple[int, str]:
    """The number the next entry should take and the hash it chains onto: read only the last entry.

    The number comes from the key, not from inside the object, so a misplaced copy at the end cannot make
    appends collide with existing entries forever.
    """
    numbered = _numbered(store)
    if not numbered:
        return 1, GENESIS
    seq, key = numbered[-1]
    return seq + 1, _read_entry(store, key).hash


def _read_entry(store: ObjectStore, key: str) -> AuditEntry:
    try:
        entry = _parse(key, store.get_bytes(key))
    except ObjectNotFound:
        raise AuditError(f"audit entry {key!r} disappeared while appending") from None
    if isinstance(entry, str):
        raise AuditError(f"cannot append after audit entry {key!r}: it {entry}; run `lockgate audit verify`")
    return entry


def _fetch(store: ObjectStore, keys: list[str]) -> Iterator[tuple[str, bytes | None]]:
    """Every key's bytes in order (None when it vanished since listing), read `_READERS` at a time and a
    batch at a time, so a long log is neither read one round trip after another nor held whole.

    Other storage failures (an unreachable endpoint) propagate: an outage never reads as a broken chain.
    """

    def read(key: str) -> tuple[str, bytes | None]:
        try:
            return key, store.get_bytes(key)
        except ObjectNotFound:
            return key, None

    if len(keys) <= 1:
        yield from (read(key) for key in keys)
        return
    with ThreadPoolExecutor(max_workers=min(_READERS, len(keys))) as pool:
        for start in range(0, len(keys), _BATCH):
            yield from pool.map(read, keys[start : start + _BATCH])


__all__ = ["GENESIS", "OUTCOMES", "AuditCheck", "AuditEntry", "append", "entries", "entry_hash", "verify"]
