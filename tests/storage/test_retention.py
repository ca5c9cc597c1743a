"""Retention: each source's expired raw landings, quarantined rows, Data Docs and curated history go;
what is within retention, or still listed by a landing within it, stays; every removal is audited."""

from __future__ import annotations

import os
import stat
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import audit, layout
from storage.curated import delta_table, list_versions, publish, read_current
from storage.errors import StorageError
from storage.expired import index_entry, run_stamp
from storage.local import LocalStore
from storage.quarantine import write_quarantine
from storage.raw import RawFile, RawManifest, land_raw, raw_history, verify_raw, write_manifest
from storage.release import ReleaseParts
from storage.retention import AUDIT_ACTION, apply_retention, plan_retention

if TYPE_CHECKING:
    from storage.base import ObjectStore

NOW = datetime.now(UTC).replace(microsecond=0)
DAYS = 30
SOURCE = "customers"


def _run_id(at: datetime, suffix: str) -> str:
    return f"{at:%Y%m%dT%H%M%SZ}-{suffix}"


def _land(
    store: ObjectStore, folder: Path, age_days: float, suffix: str, files: dict[str, bytes]
) -> RawManifest:
    """A landing `age_days` before NOW, with its manifest, as the ingest flow writes it."""
    at = NOW - timedelta(days=age_days)
    run_id = _run_id(at, suffix)
    paths = []
    for name, content in files.items():
        path = folder / suffix / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        paths.append(path)
    (folder / "work").mkdir(exist_ok=True)
    landed = land_raw(store, SOURCE, run_id, at.date(), paths, workdir=folder / "work")
    manifest = RawManifest(source=SOURCE, run_id=run_id, landed_at=at, files=landed)
    write_manifest(store, manifest)
    return manifest


def _site(folder: Path, text: str) -> Path:
    site = folder / f"site-{text}"
    (site / "validations").mkdir(parents=True)
    (site / "index.html").write_text(f"<html>{text}</html>")
    (site / "validations" / "v.html").write_text(f"<html>{text} details</html>")
    return site


def publish_docs(store: ObjectStore, source: str, run_id: str, site: Path) -> None:
    """Data Docs as lakes kept them before the single site: a folder per source and run."""
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        store.put_file(layout.docs_prefix(source, run_id) + path.relative_to(site).as_posix(), path)


def _keys(store: ObjectStore) -> set[str]:
    return {k for k in store.list("") if not k.startswith(layout.audit_prefix())}


@pytest.fixture
def aged(store: ObjectStore, tmp_path: Path) -> dict[str, RawManifest]:
    """One expired landing (A, B), one fresh landing that reuses B and adds C, and per-run quarantine
    and Data Docs for both runs."""
    old = _land(store, tmp_path, 100, "old", {"a.csv": b"id\n1\n", "b.csv": b"id\n2\n"})
    new = _land(store, tmp_path, 1, "new", {"b.csv": b"id\n2\n", "c.csv": b"id\n3\n"})
    for manifest in (old, new):
        write_quarantine(store, SOURCE, manifest.run_id, pl.DataFrame({"id": [9]}))
        publish_docs(store, SOURCE, manifest.run_id, _site(tmp_path, manifest.run_id))
    return {"old": old, "new": new}


def _file(manifest: RawManifest, name: str) -> RawFile:
    return next(f for f in manifest.files if f.name == name)


def test_the_plan_lists_what_expired_and_keeps_a_reused_object(
    store: ObjectStore, aged: dict[str, RawManifest]
) -> None:
    old, new = aged["old"], aged["new"]
    assert _file(new, "b.csv").reused_from == old.run_id  # the fresh run points at the old run's object
    before = _keys(store)
    plan = plan_retention(store, {SOURCE: DAYS}, now=NOW)
    assert _keys(store) == before
    layers = {layer.layer: layer for layer in plan.layers}
    old_folder = layout.raw_prefix(SOURCE, old.landed_at.date(), old.run_id)
    a = _file(old, "a.csv")
    assert layers["raw"].removed == sorted(
        [a.key, old_folder + layout.MANIFEST_FILE, layout.raw_index_key(SOURCE, a.sha256)]
    )
    [kept] = layers["raw"].kept
    assert kept.key == _file(old, "b.csv").key and new.run_id in kept.reason
    assert layers["quarantine"].removed == [layout.quarantine_key(SOURCE, old.run_id)]
    docs = layout.docs_prefix(SOURCE, old.run_id)
    assert layers["docs"].removed == [docs + "index.html", docs + "validations/v.html"]
    assert layers["curated"].removed == []
    for layer in plan.layers:
        assert layer.bytes == sum(len(store.get_bytes(k)) for k in layer.removed)
        assert layer.cutoff == NOW - timedelta(days=DAYS)
    assert plan.objects == 6 and plan.ok


def test_apply_removes_the_plan_keeps_fresh_runs_readable_and_audits(
    store: ObjectStore, aged: dict[str, RawManifest]
) -> None:
    old, new = aged["old"], aged["new"]
    plan = plan_retention(store, {SOURCE: DAYS}, now=NOW)
    before = _keys(store)
    done = apply_retention(store, {SOURCE: DAYS}, actor="retention-bot", now=NOW)
    assert [(x.layer, x.removed, x.bytes) for x in done.layers] == [
        (x.layer, x.removed, x.bytes) for x in plan.layers
    ]
    assert _keys(store) == before - {k for layer in plan.layers for k in layer.removed}
    for f in new.files:  # every file the fresh run lists, the reused one included, still verifies
        verify_raw(store, f)
    assert [m.run_id for m in raw_history(store, SOURCE)] == [new.run_id]
    assert store.exists(layout.quarantine_key(SOURCE, new.run_id))
    assert store.exists(layout.docs_prefix(SOURCE, new.run_id) + "index.html")

    logged = audit.entries(store, action="retention")
    assert [(e.action, e.source, e.actor, e.outcome) for e in logged] == [
        (AUDIT_ACTION, SOURCE, "retention-bot", "ok")
    ] * 3
    by_layer = {e.details["layer"]: e for e in logged}
    assert set(by_layer) == {"raw", "quarantine", "docs"}  # nothing expired in curated: no entry
    for layer in done.layers:
        if layer.removed:
            entry = by_layer[layer.layer]
            assert entry.seq == layer.audit_seq
            assert entry.details["keys"] == layer.removed and entry.details["bytes"] == layer.bytes
    assert by_layer["raw"].details["kept"] == [_file(old, "b.csv").key]
    assert audit.verify(store).ok

    again = apply_retention(store, {SOURCE: DAYS}, actor="retention-bot", now=NOW)
    assert again.objects == 0 and len(audit.entries(store)) == 3  # nothing left to remove, nothing logged


def test_a_removed_content_lands_again_as_new(
    store: ObjectStore, aged: dict[str, RawManifest], tmp_path: Path
) -> None:
    """Its index entry went with its object, so the next landing stores the bytes instead of pointing
    at a key that is gone."""
    apply_retention(store, {SOURCE: DAYS}, actor="ops", now=NOW)
    again = _land(store, tmp_path, 0, "again", {"a.csv": b"id\n1\n"})
    [a] = again.files
    assert a.reused_from is None and store.exists(a.key)
    verify_raw(store, a)


def test_dry_run_changes_nothing_reports_the_plan_and_is_audited_as_such(
    store: ObjectStore, aged: dict[str, RawManifest]
) -> None:
    plan = plan_retention(store, {SOURCE: DAYS}, now=NOW)
    before = _keys(store)
    dry = apply_retention(store, {SOURCE: DAYS}, actor="ops", now=NOW, dry_run=True)
    assert _keys(store) == before
    assert dry.dry_run and dry.model_dump(exclude={"layers": {"__all__": {"audit_seq"}}}) == plan.model_dump(
        exclude={"layers": {"__all__": {"audit_seq"}}}
    )
    assert {e.outcome for e in audit.entries(store)} == {"dry-run"}


def test_a_landing_without_manifest_is_aged_by_its_day_folder(store: ObjectStore, tmp_path: Path) -> None:
    """A crashed run leaves objects and no manifest: its day counts, from the end of that day."""
    (tmp_path / "work").mkdir()
    for age, name in ((40, "crashed-old"), (29, "crashed-new")):
        at = NOW - timedelta(days=age)
        (tmp_path / name).write_bytes(name.encode())
        land_raw(store, SOURCE, _run_id(at, name), at.date(), [tmp_path / name], workdir=tmp_path / "work")
    plan = plan_retention(store, {SOURCE: DAYS}, now=NOW)
    raw = plan.layers[0]
    assert [k.rsplit("/", 1)[1] for k in raw.removed if "/_index/" not in k] == ["crashed-old"]
    assert len([k for k in raw.removed if "/_index/" in k]) == 1


def test_each_source_has_its_own_retention(store: ObjectStore, tmp_path: Path) -> None:
    (tmp_path / "q").mkdir()
    for source in ("short", "long"):
        for age in (10, 100):
            write_quarantine(store, source, _run_id(NOW - timedelta(days=age), "r"), pl.DataFrame({"x": [1]}))
    plan = plan_retention(store, {"short": 5, "long": 50}, now=NOW)
    quarantine = {x.source: len(x.removed) for x in plan.layers if x.layer == "quarantine"}
    assert quarantine == {"short": 2, "long": 1}


def test_a_docs_folder_without_a_stamped_run_id_is_aged_by_its_objects(
    store: ObjectStore, tmp_path: Path
) -> None:
    publish_docs(store, SOURCE, "manual-check", _site(tmp_path, "manual"))
    assert plan_retention(store, {SOURCE: DAYS}, now=NOW).objects == 0  # written just now
    later = plan_retention(store, {SOURCE: DAYS}, now=NOW + timedelta(days=DAYS + 1))
    assert sorted(k for x in later.layers for k in x.removed) == [
        "docs/customers/manual-check/index.html",
        "docs/customers/manual-check/validations/v.html",
    ]


class _FailingDelete:
    """A real store whose delete of one key fails as a storage outage would (every other call is real)."""

    def __init__(self, inner: ObjectStore, key: str) -> None:
        self.inner, self.key = inner, key

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def delete(self, key: str) -> None:
        if key == self.key:
            raise StorageError(f"could not delete {key!r}: service unavailable")
        self.inner.delete(key)

    def open_read(self, key: str) -> IO[bytes]:
        return self.inner.open_read(key)


def test_a_failed_removal_is_audited_as_failed_and_the_other_layers_go_on(
    store: ObjectStore, aged: dict[str, RawManifest]
) -> None:
    docs = layout.docs_prefix(SOURCE, aged["old"].run_id)
    failing = _FailingDelete(store, docs + "validations/v.html")
    done = apply_retention(failing, {SOURCE: DAYS}, actor="ops", now=NOW)  # type: ignore[arg-type]
    assert not done.ok
    layers = {x.layer: x for x in done.layers}
    assert layers["docs"].removed == [docs + "index.html"] and "service unavailable" in (
        layers["docs"].error or ""
    )
    assert layers["quarantine"].removed and layers["raw"].removed  # removed all the same
    [failed] = audit.entries(store, action=AUDIT_ACTION, source=SOURCE)[-1:]
    assert failed.outcome == "failed" and failed.details["keys"] == [docs + "index.html"]


@pytest.mark.parametrize(
    ("run_id", "expected"),
    [
        ("20260102T030405Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("20260102T030405Z-1a2b3c4d", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("20260102T030405Zx", None),
        ("manual-check", None),
        ("20261302T030405Z", None),
    ],
)
def test_run_stamps(run_id: str, expected: datetime | None) -> None:
    assert run_stamp(run_id) == expected


# --- curated history --------------------------------------------------------------------------------


def _release(n: int) -> ReleaseParts:
    return ReleaseParts(
        inputs=[f"{n:064x}"],
        contract_id=SOURCE,
        contract_version="1.0.0",
        contract_sha256="0" * 64,
        code_version="test",
    )


def test_curated_history_is_vacuumed_but_never_the_current_version(store: ObjectStore) -> None:
    for n in (1, 2, 3):
        frame = pl.DataFrame({"id": list(range(n)), "email": [f"h{i}" for i in range(n)]})
        publish(store, SOURCE, frame, release=_release(n), run_id=f"r{n}", masked_columns={"email": "hash"})
    table = delta_table(store, SOURCE)
    assert table is not None
    current_files = set(table.file_uris())
    assert plan_retention(store, {SOURCE: DAYS}, now=NOW).objects == 0  # history is minutes old

    later = NOW + timedelta(days=DAYS + 1)
    plan = plan_retention(store, {SOURCE: DAYS}, now=later)
    [curated] = [x for x in plan.layers if x.layer == "curated"]
    assert len(curated.removed) == 2 and curated.bytes > 0  # the data files of versions 1 and 2
    done = apply_retention(store, {SOURCE: DAYS}, actor="ops", now=later)
    [vacuumed] = [x for x in done.layers if x.layer == "curated"]
    assert vacuumed.removed == curated.removed and vacuumed.bytes == curated.bytes
    assert not any(store.exists(k) for k in vacuumed.removed)
    assert read_current(store, SOURCE)["id"].to_list() == [0, 1, 2]
    table = delta_table(store, SOURCE)
    assert table is not None and set(table.file_uris()) == current_files
    versions = list_versions(store, SOURCE, check_restorable=True)
    assert versions[-1].restorable and not any(v.restorable for v in versions if v.version < 2)
    [entry] = audit.entries(store, action=AUDIT_ACTION)
    assert entry.details["layer"] == "curated" and entry.details["keys"] == vacuumed.removed


# --- owner-only modes on a local lake ---------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def test_raw_and_quarantine_objects_are_owner_only_on_a_local_lake(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "lake")
    manifest = _land(store, tmp_path, 0, "r", {"a.csv": b"id\n1\n"})
    quarantine = write_quarantine(store, SOURCE, manifest.run_id, pl.DataFrame({"id": [1]}))
    publish_docs(store, SOURCE, manifest.run_id, _site(tmp_path, "x"))
    root = Path(store.uri("raw")).parent
    usual, folders = 0o666 & ~_umask(), 0o777 & ~_umask()
    [a] = manifest.files
    manifest_key = a.key.rsplit("/", 1)[0] + "/" + layout.MANIFEST_FILE
    assert _mode(root / a.key) == 0o600  # moved into place from the landing's snapshot
    assert _mode(root / manifest_key) == 0o600
    assert _mode(root / quarantine) == 0o600
    assert _mode(root / layout.raw_index_key(SOURCE, a.sha256)) == usual  # meta: no data values
    assert _mode(root / layout.docs_prefix(SOURCE, manifest.run_id) / "index.html") == usual
    assert _mode((root / a.key).parent) == folders  # folders keep their usual mode
    for put in (store.put_bytes, store.put_bytes_if_absent):
        put("raw/x/one.bin", b"1", tags={"layer": "raw"})
        assert _mode(root / "raw/x/one.bin") == 0o600
        store.delete("raw/x/one.bin")
    (tmp_path / "f.bin").write_bytes(b"2")
    store.put_file("quarantine/x/f.bin", tmp_path / "f.bin", tags={"layer": "quarantine"})
    store.put_file("curated/x/f.bin", tmp_path / "f.bin", tags={"layer": "curated"})
    assert (_mode(root / "quarantine/x/f.bin"), _mode(root / "curated/x/f.bin")) == (0o600, usual)


# --- property: nothing a fresh landing lists is ever removed -----------------------------------------

CONTENTS = [f"id\n{i}\n".encode() for i in range(4)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.sets(st.integers(0, len(CONTENTS) - 1), min_size=1, max_size=3)),
        min_size=1,
        max_size=5,
    ),
    st.integers(1, 60),
)
def test_no_object_a_fresh_landing_lists_is_removed(landings: list[tuple[int, set[int]]], days: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        store = LocalStore(base / "lake")
        manifests = [
            _land(store, base, age + 0.5, f"r{n}", {f"f{c}.csv": CONTENTS[c] for c in sorted(chosen)})
            for n, (age, chosen) in enumerate(sorted(landings, key=lambda x: -x[0]))
        ]
        apply_retention(store, {SOURCE: days}, actor="ops", now=NOW)
        cutoff = NOW - timedelta(days=days)
        fresh = [m for m in manifests if m.landed_at >= cutoff]
        for manifest in fresh:
            for f in manifest.files:
                verify_raw(store, f)
        listed = {f.key for m in fresh for f in m.files}
        left = {k for k in store.list(layout.source_raw_prefix(SOURCE)) if "/_index/" not in k}
        for manifest in manifests:
            if manifest.landed_at < cutoff:
                own = {f.key for f in manifest.files if f.reused_from is None}
                assert own & left <= listed
        assert {m.run_id for m in raw_history(store, SOURCE)} == {m.run_id for m in fresh}
        for key in store.list(layout.raw_index_prefix(SOURCE)):  # every index entry names an object
            entry = index_entry(store, key)
            assert entry is not None and store.exists(entry.key)
