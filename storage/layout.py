"""Every key the lake uses, in one place, so that writers and readers can never disagree on a path."""

from __future__ import annotations

import re
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import date, datetime

WAREHOUSE_FILE = "warehouse.duckdb"
MANIFEST_FILE = "_manifest.json"
DATA_FILE = "data.parquet"
VERSION_FILE = "_version.json"
CURRENT_FILE = "_current.json"
INDEX_DIR = "_index"
EVENTS_DIR = "_events"
CLAIMS_DIR = "_claims"
VERIFIED_FILE = "_verified.json"
STATE_FILE = "state.json"
STATE_HISTORY_DIR = "history"
LOCAL_DIR = ".lockgate"  # Lockgate's own files beside (or inside) a lake: never objects, never listed
WORK_DIR = "work"

_VERSION_DIR = re.compile(r"^v(\d{6})$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# <UTC timestamp>-<version>-<action>.json; the fixed-width stamp makes key order time order.
_EVENT_FILE = re.compile(r"^(\d{8}T\d{6}\.\d{6}Z)-(\d{6})-([a-z]+)\.json$")
EVENT_STAMP = "%Y%m%dT%H%M%S.%fZ"


def is_s3(location: str) -> bool:
    """True for ``s3://`` locations; everything else is a local path."""
    return location.startswith("s3://")


def _segment(value: str, what: str) -> str:
    """One path segment: a name that cannot escape or split its directory."""
    if not value or value in {".", ".."} or "/" in value or "\\" in value or "\x00" in value:
        raise ValueError(f"invalid {what} for a lake key: {value!r}")
    return value


def raw_prefix(source: str, day: date, run_id: str) -> str:
    """Raw objects are grouped by source, landing day and run: one run's landing never mixes with another."""
    return f"raw/{_segment(source, 'source')}/{day.isoformat()}/{_segment(run_id, 'run id')}/"


def raw_key(source: str, day: date, run_id: str, filename: str) -> str:
    return raw_prefix(source, day, run_id) + _segment(filename, "file name")


def manifest_key(source: str, day: date, run_id: str) -> str:
    return raw_prefix(source, day, run_id) + MANIFEST_FILE


def source_raw_prefix(source: str) -> str:
    """All landings of one source, across days and runs."""
    return f"raw/{_segment(source, 'source')}/"


def raw_index_prefix(source: str) -> str:
    """The source's checksum index: one small object per distinct content ever landed."""
    return f"{source_raw_prefix(source)}{INDEX_DIR}/"


def raw_index_key(source: str, sha256: str) -> str:
    """Keyed by content, so 'have we seen these bytes?' is one read, not a scan of every manifest."""
    if not _SHA256.match(sha256):
        raise ValueError(f"invalid sha256 for a lake key: {sha256!r}")
    return f"{raw_index_prefix(source)}{sha256}.json"


def docs_prefix(source: str, run_id: str) -> str:
    """Great Expectations Data Docs (HTML) of one run's validation of one source."""
    return f"docs/{_segment(source, 'source')}/{_segment(run_id, 'run id')}/"


def quarantine_key(source: str, run_id: str) -> str:
    """Rows a run set aside because they broke quarantine rules."""
    return f"quarantine/{_segment(source, 'source')}/{_segment(run_id, 'run id')}/rows.parquet"


def curated_prefix(source: str) -> str:
    return f"curated/{_segment(source, 'source')}/"


def curated_version_prefix(source: str, version: int) -> str:
    """Zero-padded so that listing order is version order."""
    if not 1 <= version <= 999_999:
        raise ValueError(f"curated version out of range for {source!r}: {version}")
    return f"{curated_prefix(source)}v{version:06d}/"


def curated_data_key(source: str, version: int) -> str:
    return curated_version_prefix(source, version) + DATA_FILE


def curated_attachment_key(source: str, version: int, name: str) -> str:
    """A file published beside a version's data; its name must not collide with the layer's own files."""
    if name in {DATA_FILE, VERSION_FILE}:
        raise ValueError(f"attachment name {name!r} is reserved")
    return curated_version_prefix(source, version) + _segment(name, "attachment name")


def curated_meta_key(source: str, version: int) -> str:
    return curated_version_prefix(source, version) + VERSION_FILE


def current_pointer_key(source: str) -> str:
    return curated_prefix(source) + CURRENT_FILE


def events_prefix(source: str) -> str:
    """The source's append-only history of pointer moves, one immutable object per move."""
    return f"{curated_prefix(source)}{EVENTS_DIR}/"


def event_key(source: str, at: datetime, version: int, action: str) -> str:
    """``<UTC timestamp>-<version>-<action>.json``: listing order is time order, and the key alone says
    which version an event made current (see :func:`event_version`)."""
    if not 1 <= version <= 999_999:
        raise ValueError(f"curated version out of range for {source!r}: {version}")
    stamp = at.astimezone(UTC).strftime(EVENT_STAMP)
    return f"{events_prefix(source)}{stamp}-{version:06d}-{_segment(action, 'action')}.json"


def event_version(source: str, key: str) -> int | None:
    """The version an event key names as its target, or None for keys that are not events."""
    rest = key.removeprefix(events_prefix(source))
    match = _EVENT_FILE.match(rest) if rest != key else None
    return int(match.group(2)) if match else None


def claims_prefix(source: str) -> str:
    """One small object per version number ever claimed, kept when an orphan folder is removed."""
    return f"{curated_prefix(source)}{CLAIMS_DIR}/"


def claim_key(source: str, version: int) -> str:
    curated_version_prefix(source, version)  # the same range check
    return f"{claims_prefix(source)}v{version:06d}.json"


def claim_version(source: str, key: str) -> int | None:
    """The version number a claim key records, or None for other keys."""
    rest = key.removeprefix(claims_prefix(source))
    match = _VERSION_DIR.match(rest.removesuffix(".json")) if rest != key and rest.endswith(".json") else None
    return int(match.group(1)) if match else None


def verified_key(source: str) -> str:
    """Which of the source's data objects were last hashed intact, by size and modification stamp."""
    return curated_prefix(source) + VERIFIED_FILE


def state_prefix(source: str) -> str:
    return f"state/{_segment(source, 'source')}/"


def state_key(source: str) -> str:
    """The connector state the next run starts from; replaced whole on every commit."""
    return state_prefix(source) + STATE_FILE


def state_history_key(source: str, run_id: str) -> str:
    """One entry per run that committed a state, so an owner can see and restore any earlier one."""
    return f"{state_prefix(source)}{STATE_HISTORY_DIR}/{_segment(run_id, 'run id')}.json"


def version_of(source: str, key: str) -> int | None:
    """The version number a curated key belongs to, or None for keys outside a version directory."""
    rest = key.removeprefix(curated_prefix(source))
    if rest == key or "/" not in rest:
        return None
    match = _VERSION_DIR.match(rest.split("/", 1)[0])
    return int(match.group(1)) if match else None


def warehouse_path(lake: str, configured: str | Path | None = None) -> Path:
    """Where the DuckDB warehouse of a lake lives.

    A local lake keeps it beside its data (``<lake>/warehouse.duckdb``), so a lake directory is
    self-contained. An S3 lake has no local directory, and DuckDB needs a local file: it goes to
    `configured` when given (the ``LOCKGATE_WAREHOUSE`` setting), otherwise
    ``./.lockgate/<bucket>[-<prefix>].duckdb`` (one file per lake, so two lakes never overwrite each
    other's views). The warehouse only holds views, so losing it costs a re-register, never data.
    """
    if not is_s3(lake):
        return Path(lake) / WAREHOUSE_FILE
    if configured:
        return Path(configured)
    return Path.cwd() / LOCAL_DIR / f"{_lake_slug(lake)}.duckdb"


def _lake_slug(lake: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", lake.removeprefix("s3://").strip("/"))


def work_root(lake: str) -> Path:
    """Where a lake's runs keep their working files (see :mod:`storage.workdir`).

    A local lake keeps them inside itself, ``<lake>/.lockgate/work/``: the lake owns them, and a landed
    file moves into the raw layer by rename. An S3 lake has no local folder: they go under
    ``./.lockgate/work/<bucket>[-<prefix>]/``, one folder per lake, beside its warehouse file.
    """
    if not is_s3(lake):
        return Path(lake) / LOCAL_DIR / WORK_DIR
    return Path.cwd() / LOCAL_DIR / WORK_DIR / _lake_slug(lake)
