"""The audit log on a local lake and on a real S3 server: entries chain, every kind of tampering is named by
the first broken entry, and concurrent writers lose nothing."""

from __future__ import annotations

import itertools
import json
import math
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import audit, layout
from storage.audit import GENESIS, AuditEntry, entry_hash
from storage.errors import AuditError
from storage.local import LocalStore
from storage.store import open_store

if TYPE_CHECKING:
    from collections.abc import Callable

    from storage.base import ObjectStore

KEY = layout.audit_key
# The chain's logic is the same on every backend: S3 runs only what depends on the store (create-if-absent,
# listing, tags, tampering through the server); the rest runs on a local lake (each S3 test costs ≈0.6 s).
LOCAL_ONLY = pytest.mark.parametrize("lake", ["local"], indirect=True)


def fill(store: ObjectStore, count: int) -> list[AuditEntry]:
    return [
        audit.append(
            store, actor=f"user{i}", action="retention.delete", source="stores", details={"files": i}
        )
        for i in range(1, count + 1)
    ]


def forge(store: ObjectStore, seq: int, prev_hash: str, **changes: Any) -> None:
    """Write an entry with a correct hash of its own, as someone who knows the format would."""
    fields: dict[str, Any] = {
        "seq": seq,
        "at": "2026-01-01T00:00:00Z",
        "actor": "mallory",
        "role": None,
        "action": "erasure",
        "source": None,
        "outcome": "ok",
        "details": {},
        "prev_hash": prev_hash,
        **changes,
    }
    fields["hash"] = entry_hash(fields)
    store.put_bytes(KEY(seq), json.dumps(fields).encode())


def test_appends_chain_from_genesis_and_verify(store: ObjectStore, lake: str) -> None:
    written = fill(store, 5)
    assert [e.seq for e in written] == [1, 2, 3, 4, 5]
    assert written[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(written))
    assert store.list(layout.audit_prefix()) == [KEY(i) for i in range(1, 6)]
    # One JSON line per object, so the objects concatenated are JSON lines.
    assert store.get_bytes(KEY(3)).count(b"\n") == 1
    assert audit.entries(open_store(lake)) == written
    check = audit.verify(store)
    assert check.model_dump() == {
        "ok": True,
        "entries": 5,
        "first_broken": None,
        "problem": None,
        "head": written[-1].hash,
    }


@LOCAL_ONLY
def test_an_empty_log_verifies(store: ObjectStore) -> None:
    assert audit.verify(store).model_dump() == {
        "ok": True,
        "entries": 0,
        "first_broken": None,
        "problem": None,
        "head": None,
    }
    assert audit.entries(store) == []


def test_a_tampered_detail_is_named(store: ObjectStore, overwrite: Callable[[str, bytes], None]) -> None:
    fill(store, 5)
    fields = json.loads(store.get_bytes(KEY(3)))
    fields["details"]["files"] = 0
    overwrite(KEY(3), json.dumps(fields).encode())
    check = audit.verify(store)
    assert (check.ok, check.first_broken, check.entries) == (False, 3, 5)
    assert "content no longer matches its hash" in str(check.problem)
    with pytest.raises(AuditError, match=r"000000000003\.json"):
        audit.entries(store)


def test_a_deleted_middle_entry_is_named(store: ObjectStore) -> None:
    fill(store, 5)
    store.delete(KEY(3))
    check = audit.verify(store)
    assert (check.ok, check.first_broken, check.entries) == (False, 3, 4)
    assert "entry 3 is missing" in str(check.problem)


def test_swapped_entries_are_named(store: ObjectStore, overwrite: Callable[[str, bytes], None]) -> None:
    fill(store, 5)
    second, third = store.get_bytes(KEY(2)), store.get_bytes(KEY(3))
    overwrite(KEY(2), third)
    overwrite(KEY(3), second)
    check = audit.verify(store)
    assert (check.ok, check.first_broken) == (False, 2)
    assert "holds entry 3" in str(check.problem)


@LOCAL_ONLY
def test_renumbered_swap_breaks_the_chain(store: ObjectStore) -> None:
    """Swapping two entries and fixing their numbers and own hashes still cannot fake the chain."""
    written = fill(store, 4)
    forge(
        store, 2, written[0].hash, **written[2].model_dump(mode="json", exclude={"seq", "hash", "prev_hash"})
    )
    forge(
        store, 3, written[2].hash, **written[1].model_dump(mode="json", exclude={"seq", "hash", "prev_hash"})
    )
    check = audit.verify(store)
    assert (check.ok, check.first_broken) == (False, 3)
    assert "does not follow entry 2" in str(check.problem)


@LOCAL_ONLY
def test_a_forged_entry_with_a_wrong_prev_hash_is_named(store: ObjectStore) -> None:
    fill(store, 3)
    forge(store, 4, "f" * 64)
    check = audit.verify(store)
    assert (check.ok, check.first_broken, check.entries) == (False, 4, 4)
    assert "prev_hash differs" in str(check.problem)
    # An honest writer chains on after it; the break stays where it is.
    audit.append(store, actor="ann", action="erasure")
    assert audit.verify(store).first_broken == 4


@LOCAL_ONLY
def test_a_first_entry_that_does_not_start_the_chain_is_named(store: ObjectStore) -> None:
    forge(store, 1, "a" * 64)
    check = audit.verify(store)
    assert (check.ok, check.first_broken) == (False, 1)
    assert "does not follow the start of the log" in str(check.problem)


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\xffnot json", b"[1, 2]", b'{"seq": 2}', json.dumps({"seq": 2, "extra": 1}).encode()],
    ids=["bytes", "array", "missing-fields", "wrong-fields"],
)
@LOCAL_ONLY
def test_a_garbage_object_is_named(
    store: ObjectStore, overwrite: Callable[[str, bytes], None], garbage: bytes
) -> None:
    fill(store, 3)
    overwrite(KEY(2), garbage)
    check = audit.verify(store)
    assert (check.ok, check.first_broken) == (False, 2)
    assert "000000000002.json" in str(check.problem)


@LOCAL_ONLY
def test_a_retyped_field_is_an_edit(store: ObjectStore, overwrite: Callable[[str, bytes], None]) -> None:
    fill(store, 2)
    fields = json.loads(store.get_bytes(KEY(1)))
    overwrite(KEY(1), json.dumps({**fields, "seq": "1"}).encode())  # same value once coerced: still seen
    assert audit.verify(store).first_broken == 1


@LOCAL_ONLY
def test_an_object_that_is_not_an_entry_is_reported(store: ObjectStore) -> None:
    fill(store, 2)
    store.put_bytes("audit/notes.txt", b"hello")
    check = audit.verify(store)
    assert (check.ok, check.first_broken, check.entries) == (False, None, 2)
    assert "'audit/notes.txt' is not an audit entry name" in str(check.problem)
    assert len(audit.entries(store)) == 2  # listing still works: the entries themselves are intact


@LOCAL_ONLY
def test_append_refuses_to_chain_onto_an_unreadable_last_entry(
    store: ObjectStore, overwrite: Callable[[str, bytes], None]
) -> None:
    fill(store, 2)
    overwrite(KEY(2), b"garbage")
    with pytest.raises(AuditError, match=r"cannot append after audit entry 'audit/000000000002.json'"):
        audit.append(store, actor="ann", action="erasure")
    assert store.list(layout.audit_prefix()) == [KEY(1), KEY(2)]


@LOCAL_ONLY
def test_a_misplaced_copy_at_the_end_does_not_jam_appends(
    store: ObjectStore, overwrite: Callable[[str, bytes], None]
) -> None:
    """The next number comes from the last key, not from the entry inside it."""
    fill(store, 3)
    overwrite(KEY(9), store.get_bytes(KEY(1)))
    assert audit.append(store, actor="ann", action="erasure").seq == 10
    assert audit.verify(store).first_broken == 4


def test_a_writer_that_loses_the_race_chains_onto_the_winner(
    store: ObjectStore, inject_fault: Callable[[ObjectStore, str, Callable[[], None]], ObjectStore]
) -> None:
    fill(store, 2)
    winner: list[AuditEntry] = []
    racing = inject_fault(
        store, KEY(3), lambda: winner.append(audit.append(store, actor="bob", action="query"))
    )
    mine = audit.append(racing, actor="ann", action="erasure")
    assert (winner[0].seq, mine.seq) == (3, 4)
    assert mine.prev_hash == winner[0].hash
    assert audit.verify(store).ok


class Crowded:
    """A real store where another writer always takes the number an append is about to write."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def put_bytes_if_absent(self, key: str, data: bytes, *, tags: dict[str, str] | None = None) -> bool:
        audit.append(self.inner, actor="bob", action="query")
        return self.inner.put_bytes_if_absent(key, data, tags=tags)


@LOCAL_ONLY
def test_append_gives_up_after_bounded_attempts(store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "MAX_ATTEMPTS", 3)
    with pytest.raises(AuditError, match="after 3 attempts"):
        audit.append(Crowded(store), actor="ann", action="erasure")  # type: ignore[arg-type]
    check = audit.verify(store)
    assert (check.ok, check.entries) == (True, 3)  # the competitor's entries, none of ours, no hole


class CountingReads:
    """A real store that counts the objects read through it."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner, self.reads = inner, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get_bytes(self, key: str) -> bytes:
        self.reads += 1
        return self.inner.get_bytes(key)


def test_append_reads_only_the_last_entry(store: ObjectStore) -> None:
    fill(store, 12)
    counting = CountingReads(store)
    audit.append(counting, actor="ann", action="erasure")  # type: ignore[arg-type]
    assert counting.reads == 1


def test_concurrent_writers_lose_no_entry(lake: str) -> None:
    """Writers start at once, each with its own store, as separate processes or hosts would.

    Fewer on S3: every append lists, reads and writes through moto (≈5 ms a request, 15+ for a listing)
    and each lost race costs another listing; 8 x 25 there took 20-45 s, 4 x 6 takes ≈2.5 s.
    """
    threads, each = (4, 6) if lake.startswith("s3://") else (8, 25)
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []
    written: list[AuditEntry] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        try:
            store = open_store(lake)
            barrier.wait()
            for i in range(each):
                entry = audit.append(store, actor=f"w{n}", action="query", details={"i": i})
                with lock:
                    written.append(entry)
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    store = open_store(lake)
    check = audit.verify(store)
    assert (check.ok, check.entries) == (True, threads * each), check.problem
    stored = audit.entries(store)
    assert sorted(e.seq for e in written) == list(range(1, threads * each + 1))
    assert {(e.actor, e.details["i"]) for e in stored} == {
        (f"w{n}", i) for n in range(threads) for i in range(each)
    }
    assert sorted(stored, key=lambda e: e.seq) == sorted(written, key=lambda e: e.seq)


@LOCAL_ONLY
def test_entries_filter(store: ObjectStore) -> None:
    audit.append(store, actor="ann", action="retention.delete", source="stores", role="owner")
    audit.append(store, actor="bob", action="query.denied", role="analyst", outcome="denied")
    audit.append(store, actor="ann", action="retention", source="orders", role="owner", outcome="dry-run")
    audit.append(store, actor="cid", action="retentions", source="stores")

    def seqs(**filters: Any) -> list[int]:
        return [e.seq for e in audit.entries(store, **filters)]

    assert seqs(role="owner") == [1, 3]
    assert seqs(action="retention") == [1, 3]  # sub-actions, not mere prefixes
    assert seqs(action="query.denied") == [2]
    assert seqs(source="stores") == [1, 4]
    assert seqs(role="owner", source="orders") == [3]
    now = datetime.now(UTC)
    assert seqs(since=now + timedelta(minutes=1)) == []
    assert seqs(since=now - timedelta(minutes=1)) == [1, 2, 3, 4]
    assert seqs(since=(now - timedelta(minutes=1)).replace(tzinfo=None)) == [1, 2, 3, 4]  # naive is UTC


def test_entries_are_tagged_as_the_audit_layer(
    store: ObjectStore, lake: str, object_tags: Callable[[str], dict[str, str]]
) -> None:
    audit.append(store, actor="ann", action="erasure", source="stores")
    audit.append(store, actor="ann", action="catalog.change")
    expected = {"layer": "audit", "sensitivity": "restricted", "pii": "true"}
    on_s3 = lake.startswith("s3://")
    assert object_tags(KEY(1)) == ({**expected, "source": "stores"} if on_s3 else {})
    assert object_tags(KEY(2)) == ({**expected, "source": ""} if on_s3 else {})


SECRET_VALUE = "ivanov-4510-secret"


@pytest.mark.parametrize(
    "details",
    [
        {"when": datetime(2026, 1, 1, tzinfo=UTC)},
        {"pair": (SECRET_VALUE, 1)},
        {"ratio": math.nan},
        {1: SECRET_VALUE},
        {"name": "\ud800" + SECRET_VALUE},
        [SECRET_VALUE],
    ],
    ids=["datetime", "tuple", "nan", "int-key", "surrogate", "not-a-dict"],
)
@LOCAL_ONLY
def test_details_that_would_not_read_back_the_same_are_refused(store: ObjectStore, details: Any) -> None:
    with pytest.raises(AuditError, match="audit details of 'erasure'") as info:
        audit.append(store, actor="ann", action="erasure", details=details)
    assert SECRET_VALUE not in str(info.value)
    assert store.list(layout.audit_prefix()) == []


@LOCAL_ONLY
def test_bad_outcomes_and_empty_actors_are_refused(store: ObjectStore) -> None:
    with pytest.raises(AuditError, match="outcome 'maybe'"):
        audit.append(store, actor="ann", action="erasure", outcome="maybe")
    with pytest.raises(AuditError, match="needs an actor"):
        audit.append(store, actor=" ", action="erasure")
    assert store.list(layout.audit_prefix()) == []


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def log_store(tmp_path_factory: pytest.TempPathFactory) -> ObjectStore:
    """One local log for every generated example: each appends to it and the whole chain must verify."""
    return LocalStore(tmp_path_factory.mktemp("audit-round-trip"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    details=st.dictionaries(st.text(), JSON_VALUES, max_size=5), actor=st.text(min_size=1).filter(str.strip)
)
def test_any_json_details_round_trip_and_verify(
    log_store: ObjectStore, details: dict[str, Any], actor: str
) -> None:
    entry = audit.append(log_store, actor=actor, action="erasure", details=details)
    stored = audit.entries(log_store, since=entry.at)[-1]
    assert stored == entry
    assert stored.details == details
    assert entry_hash(stored.model_dump(mode="json")) == stored.hash
    assert json.loads(log_store.get_bytes(KEY(entry.seq)))["hash"] == entry.hash
    assert audit.verify(log_store).ok


def test_audit_keys_sort_in_entry_order_and_parse_back() -> None:
    assert KEY(1) == "audit/000000000001.json"
    assert sorted([KEY(10), KEY(9), KEY(100)]) == [KEY(9), KEY(10), KEY(100)]
    assert [layout.audit_seq(KEY(n)) for n in (1, 42, layout.AUDIT_MAX_SEQ)] == [1, 42, layout.AUDIT_MAX_SEQ]
    for other in ("audit/notes.txt", "audit/000000000000.json", "audit/1.json", "raw/000000000001.json"):
        assert layout.audit_seq(other) is None
    for bad in (0, layout.AUDIT_MAX_SEQ + 1):
        with pytest.raises(ValueError, match="out of range"):
            KEY(bad)
