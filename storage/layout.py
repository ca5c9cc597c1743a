"""Every key the lake uses, in one place, so that writers and readers can never disagree on a path."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import date

WAREHOUSE_FILE = "warehouse.duckdb"
MANIFEST_FILE = "_manifest.json"
INDEX_DIR = "_index"
LOCKGATE_DIR = "_lockgate"  # Lockgate's files inside a Delta table's folder
VERIFIED_FILE = "_verified.json"
STATE_FILE = "state.json"
STATE_HISTORY_DIR = "history"
AUDIT_DIR = "audit"
ERASURE_DIR = "erasure"
SUPPRESSION_DIR = "suppression"
LOCAL_DIR = ".lockgate"  # Lockgate's own files beside (or inside) a lake: never objects, never listed
WORK_DIR = "work"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_AUDIT_FILE = re.compile(r"^(\d{12})\.json$")
AUDIT_MAX_SEQ = 999_999_999_999


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


def lineage_key(day: date, run_id: str, job: str, event_type: str) -> str:
    """One OpenLineage event of one run, filed by the run's day so a day's lineage is one listing."""
    return (
        f"lineage/{day:%Y/%m/%d}/"
        f"{_segment(run_id, 'run id')}-{_segment(job, 'job name')}-{_segment(event_type, 'event type')}.json"
    )


def quarantine_source_prefix(source: str) -> str:
    """Every run's quarantined rows of one source."""
    return f"quarantine/{_segment(source, 'source')}/"


def docs_source_prefix(source: str) -> str:
    """Every run's Data Docs of one source, as lakes kept them before the single site (still pruned)."""
    return f"docs/{_segment(source, 'source')}/"


# Source names are slugs starting with a letter, so these two can never be a source's docs folder.
DOCS_SITE_PREFIX = "docs/_site/"
DOCS_RESULTS_PREFIX = "docs/_results/"


def docs_site_key(path: str) -> str:
    """A file of the lake's one Data Docs site, by its path inside the site (``index.html``, ...)."""
    return DOCS_SITE_PREFIX + "/".join(_segment(part, "docs site path") for part in path.split("/"))


def docs_results_prefix(source: str) -> str:
    """The validation results of one source that the Data Docs site is built from, one folder per run."""
    return f"{DOCS_RESULTS_PREFIX}{_segment(source, 'source')}/"


def docs_result_key(source: str, run_id: str) -> str:
    return f"{docs_results_prefix(source)}{_segment(run_id, 'run id')}/validation.json"


def profiles_prefix(source: str) -> str:
    """Every run's profile of one source (:mod:`storage.profiles`)."""
    return f"profiles/{_segment(source, 'source')}/"


def profile_key(source: str, run_id: str) -> str:
    """The statistics of the batch one run profiled; run ids start with their UTC time, so key order is
    run order."""
    return f"{profiles_prefix(source)}{_segment(run_id, 'run id')}.json"


def curated_prefix(source: str) -> str:
    return f"curated/{_segment(source, 'source')}/"


def curated_attachment_key(source: str, sha256: str, name: str) -> str:
    """A file published beside a version's data (a labels dataset's agreement report), stored by content
    in the table's ``_lockgate/`` folder, which Delta Lake's VACUUM leaves alone."""
    if not _SHA256.match(sha256):
        raise ValueError(f"invalid sha256 for a lake key: {sha256!r}")
    return f"{curated_prefix(source)}{LOCKGATE_DIR}/attachments/{sha256}/{_segment(name, 'attachment name')}"


def state_prefix(source: str) -> str:
    return f"state/{_segment(source, 'source')}/"


def state_key(source: str) -> str:
    """The connector state the next run starts from; replaced whole on every commit."""
    return state_prefix(source) + STATE_FILE


def state_history_key(source: str, run_id: str) -> str:
    """One entry per run that committed a state, so an owner can see and restore any earlier one."""
    return f"{state_prefix(source)}{STATE_HISTORY_DIR}/{_segment(run_id, 'run id')}.json"


RUNS_DIR = "runs"
LATE_DIR = "late"


def run_history_prefix(source: str) -> str:
    """One source's run history (:mod:`storage.run_history`); listing it is listing its runs."""
    return f"{RUNS_DIR}/{_segment(source, 'source')}/"


def run_history_key(source: str, run_id: str) -> str:
    """What one run did to one source; run ids start with their UTC time, so key order is run order."""
    return f"{run_history_prefix(source)}{_segment(run_id, 'run id')}.json"


def late_notice_key(source: str, due: str) -> str:
    """The mark that a source's missed due time (``YYYYMMDDTHHMMSSZ``) was announced, so once only."""
    return f"{run_history_prefix(source)}{LATE_DIR}/{_segment(due, 'due time')}.json"


def audit_prefix() -> str:
    """The lake's audit log: one immutable object per entry, for the whole lake (not per source)."""
    return f"{AUDIT_DIR}/"


def audit_key(seq: int) -> str:
    """Zero-padded to 12 digits, so that listing order is entry order."""
    if not 1 <= seq <= AUDIT_MAX_SEQ:
        raise ValueError(f"audit entry number out of range: {seq}")
    return f"{audit_prefix()}{seq:012d}.json"


def audit_seq(key: str) -> int | None:
    """The entry number an audit key names, or None for keys that are not audit entries."""
    rest = key.removeprefix(audit_prefix())
    match = _AUDIT_FILE.match(rest) if rest != key else None
    return int(match.group(1)) if match and int(match.group(1)) >= 1 else None


def erasure_key(erasure_id: str) -> str:
    """The receipt of one erasure: every object it touched, never the erased subject's value."""
    return f"{ERASURE_DIR}/{_segment(erasure_id, 'erasure id')}.json"


def suppression_prefix(source: str) -> str:
    """The source's suppression list: one object per erased subject, so concurrent erasures lose none."""
    return f"{SUPPRESSION_DIR}/{_segment(source, 'source')}/"


def suppression_key(source: str, column: str, digest: str) -> str:
    """Keyed by the subject's keyed hash, so adding the same subject twice is one create-if-absent."""
    if not _SHA256.match(digest):
        raise ValueError(f"invalid keyed hash for a lake key: {digest!r}")
    return f"{suppression_prefix(source)}{_segment(column, 'column')}/{digest}.json"


def erased_raw_key(old_key: str, name: str, erasure_id: str) -> str:
    """Where an erasure writes a raw object again without the erased records: beside the old object,
    named after the landed file and the erasure (``customers.erased-<id>.csv``), so it never collides
    with the object it replaces or with the run's other files."""
    folder, _, _ = old_key.rpartition("/")
    original = PurePosixPath(_segment(name, "file name"))
    renamed = f"{original.stem}.erased-{_segment(erasure_id, 'erasure id')}{original.suffix}"
    return f"{folder}/{renamed}" if folder else renamed


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


ROLES_DIR = "roles"
ROLE_MANIFEST_FILE = "_access.json"


def role_prefix(role: str) -> str:
    """Everything one role may read, and nothing else: S3 policies grant a role its own prefix only."""
    return f"{ROLES_DIR}/{_segment(role, 'role')}/"


def role_dataset_prefix(role: str, dataset: str) -> str:
    return f"{role_prefix(role)}{_segment(dataset, 'dataset')}/"


def role_manifest_key(role: str) -> str:
    """What the role's output holds and who holds the role (:mod:`storage.roles`)."""
    return role_prefix(role) + ROLE_MANIFEST_FILE


def catalog_hashes_key() -> str:
    """The content hashes of the catalog files the last ingest run saw, to record what changed since."""
    return "catalog/hashes.json"


def role_database_path(lake: str, role: str, configured: str | Path | None = None) -> Path:
    """A role's DuckDB file: ``<lake>/.lockgate/roles/<role>.duckdb`` for a local lake, else beside
    the warehouse file (``<warehouse>.roles/<role>.duckdb``)."""
    if not is_s3(lake):
        return Path(lake) / LOCAL_DIR / ROLES_DIR / f"{_segment(role, 'role')}.duckdb"
    warehouse = warehouse_path(lake, configured)
    return warehouse.parent / f"{warehouse.stem}.{ROLES_DIR}" / f"{_segment(role, 'role')}.duckdb"
