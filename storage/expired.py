"""What has outlived its retention: raw landings, and the per-run folders of quarantine and Data Docs.

Only the shapes :mod:`storage.layout` writes are judged; any other key is left alone, because an object
whose age cannot be told is never assumed old.

Age. A raw landing is as old as its manifest's ``landed_at``; a landing without a readable manifest (a
crashed run) by its day folder, counted from the *end* of that day, so it is never judged older than
it is. Quarantine and Data Docs folders are as old as the UTC stamp their run id starts with
(``flows.runs.new_run_id``), else as their newest object's modification time.

References. A later run may reuse an object an earlier run landed (``RawFile.reused_from``); its
manifest then lists the earlier run's key. An expired object that the manifest of a landing still
within retention lists is kept, and said so: the content was delivered again, recently, and that run
must stay readable. A manifest within retention that cannot be read could list anything, so then no
expired raw object of the source is removed.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import ValidationError

from storage import layout
from storage.base import StatsObjects
from storage.errors import ObjectNotFound
from storage.raw import RawIndexEntry, RawManifest, read_manifest

if TYPE_CHECKING:
    from collections.abc import Iterable

    from storage.base import ObjectStore

RUN_STAMP = "%Y%m%dT%H%M%SZ"
_STAMP_LENGTH = len("20260101T000000Z")


@dataclass(frozen=True)
class Kept:
    """An expired object that stays, and why."""

    key: str
    reason: str


@dataclass
class Expired:
    """One layer of one source: the objects to remove, and expired objects that must stay."""

    keys: list[str] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)


@dataclass(frozen=True)
class _Landing:
    """One raw run folder: its objects, its manifest when readable, and when it landed."""

    folder: str
    keys: list[str]
    landed_at: datetime | None
    manifest: RawManifest | None
    unreadable: str | None  # the manifest key, when there is one that cannot be read


def run_stamp(run_id: str) -> datetime | None:
    """The UTC time a run id starts with, or None for ids of another shape."""
    stamp, rest = run_id[:_STAMP_LENGTH], run_id[_STAMP_LENGTH:]
    if rest and not rest.startswith("-"):
        return None
    try:
        return datetime.strptime(stamp, RUN_STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def _day_end(day: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC) + timedelta(days=1)
    except ValueError:
        return None


def _landings(store: ObjectStore, source: str, keys: Iterable[str]) -> list[_Landing]:
    folders: dict[str, list[str]] = {}
    for key in keys:
        parts = key.split("/")  # raw/<source>/<day>/<run_id>/<file>
        if len(parts) == 5 and parts[2] != layout.INDEX_DIR:
            folders.setdefault(posixpath.dirname(key) + "/", []).append(key)
    landings = []
    for folder, members in sorted(folders.items()):
        manifest, unreadable = None, None
        manifest_key = folder + layout.MANIFEST_FILE
        if manifest_key in members:
            try:
                manifest = read_manifest(store, manifest_key)
            except ObjectNotFound:  # removed since the listing
                members.remove(manifest_key)
            except ValidationError:
                unreadable = manifest_key
        landed_at = manifest.landed_at if manifest is not None else _day_end(folder.split("/")[2])
        landings.append(_Landing(folder, members, landed_at, manifest, unreadable))
    return landings


def expired_raw(store: ObjectStore, source: str, cutoff: datetime) -> tuple[Expired, list[str]]:
    """The source's expired raw objects (manifests included) and the index entries naming them.

    Index entries are returned separately: they must go before the objects they name, so that no
    landing starts reusing an object on its way out.
    """
    listed = store.list(layout.source_raw_prefix(source))
    landings = _landings(store, source, listed)
    expired = [a for a in landings if a.landed_at is not None and a.landed_at < cutoff]
    fresh = [a for a in landings if a not in expired]
    result = Expired()
    blind = next((a.unreadable for a in fresh if a.unreadable), None)
    references = fresh_references(fresh)
    for landing in expired:
        for key in landing.keys:
            if blind is not None:
                result.kept.append(Kept(key, f"manifest {blind} (within retention) cannot be read"))
            elif key in references:
                result.kept.append(Kept(key, f"listed by run {references[key]} (within retention)"))
            else:
                result.keys.append(key)
    stays = set(listed) - set(result.keys)
    index = [k for k in listed if k.startswith(layout.raw_index_prefix(source))]
    return result, _index_entries_to_remove(store, index, set(result.keys), stays, cutoff)


def fresh_references(landings: Iterable[_Landing]) -> dict[str, str]:
    """Object key → the run id of a landing within retention whose manifest lists it."""
    return {f.key: a.manifest.run_id for a in landings if a.manifest is not None for f in a.manifest.files}


def references_now(store: ObjectStore, source: str, cutoff: datetime) -> dict[str, str]:
    """`fresh_references` read again: what landings within retention list at this moment."""
    landings = _landings(store, source, store.list(layout.source_raw_prefix(source)))
    return fresh_references(a for a in landings if a.landed_at is None or a.landed_at >= cutoff)


def _index_entries_to_remove(
    store: ObjectStore, index: list[str], removed: set[str], stays: set[str], cutoff: datetime
) -> list[str]:
    """Entries naming a removed object, or an object already gone that landed before the cutoff.

    An entry naming a missing object would only make the next landing of those bytes store them again
    and re-point it; removing it once its landing has expired keeps the index to what the lake holds.
    """
    found = []
    for key in index:
        entry = index_entry(store, key)
        if entry is None:
            continue
        if entry.key in removed or (entry.key not in stays and entry.landed_at < cutoff):
            found.append(key)
    return found


def index_entry(store: ObjectStore, key: str) -> RawIndexEntry | None:
    """An index entry, or None when it is gone or unreadable (left for ``lockgate lake check``)."""
    try:
        return RawIndexEntry.model_validate_json(store.get_bytes(key))
    except (ObjectNotFound, ValidationError):
        return None


def expired_runs(store: ObjectStore, prefix: str, cutoff: datetime) -> Expired:
    """Objects of the run folders under `prefix` (``quarantine/<source>/``, ``docs/<source>/``) whose run
    is older than the cutoff; a folder of unknown age stays."""
    folders: dict[str, list[str]] = {}
    for key in store.list(prefix):
        run_id, sep, _rest = key.removeprefix(prefix).partition("/")
        if sep:
            folders.setdefault(run_id, []).append(key)
    result = Expired()
    for run_id, keys in sorted(folders.items()):
        at = run_stamp(run_id) or _newest(store, keys)
        if at is not None and at < cutoff:
            result.keys.extend(keys)
    return result


def _newest(store: ObjectStore, keys: list[str]) -> datetime | None:
    if not isinstance(store, StatsObjects):
        return None
    times = []
    for key in keys:
        try:
            times.append(store.stat(key).modified)
        except ObjectNotFound:
            continue
    return max(times, default=None)


def object_bytes(store: ObjectStore, key: str) -> int:
    """An object's size: from its stat when the store has one, else by reading it; 0 once it is gone."""
    try:
        if isinstance(store, StatsObjects):
            return store.stat(key).size
        with store.open_read(key) as stream:
            return sum(len(chunk) for chunk in iter(lambda: stream.read(1024 * 1024), b""))
    except ObjectNotFound:
        return 0
