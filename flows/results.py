"""What one run did to each source, in a shape the CLI, the Prefect artifacts and tests all read.

Results carry counts, names and ids only — never data values — so they are safe to print, log and
publish as Prefect artifacts.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class SourceStatus(StrEnum):
    PUBLISHED = "published"  # a new curated version is current
    UNCHANGED = "unchanged"  # nothing new at the source, or same input and contract as the current version
    STOPPED = "stopped"  # a blocking rule failed: curated layer untouched
    FAILED = "failed"  # an error outside the contract (unreadable file, storage down, ...)
    INTERRUPTED = "interrupted"  # SIGINT or SIGTERM came first: later steps never started


class ExpectationLine(BaseModel):
    rule_id: str
    expectation: str
    column: str | None
    severity: str
    action: str = "block"  # block, quarantine or warn
    blocking: bool = False
    success: bool
    unexpected_count: int | None = None
    element_count: int | None = None
    note: str | None = None


class DriftLine(BaseModel):
    """A drift of the batch's profile from the last published runs' (`contracts.drift`): names and
    numbers only."""

    kind: str  # volume, null_rate or new_categories
    column: str | None = None
    detail: str
    action: str  # warn or block

    def __str__(self) -> str:
        where = f" {self.column}" if self.column else ""
        return f"{self.kind}{where} ({self.action}): {self.detail}"


class SourceResult(BaseModel):
    source: str
    status: SourceStatus
    run_id: str
    rows_in: int | None = None
    rows_out: int | None = None
    rows_quarantined: int = 0
    rows_suppressed: int = 0  # rows of erased subjects left out before curated (the suppression list)
    quarantine_key: str | None = None
    raw_keys: list[str] = Field(default_factory=list)
    raw_reused: int = 0  # raw files whose bytes were already landed by an earlier run
    note: str | None = None  # what the connector extracted, e.g. "no new rows since watermark"
    schema_issues: list[str] = Field(default_factory=list)
    schema_notes: list[str] = Field(default_factory=list)  # schema drift the contract allows
    read_notes: list[str] = Field(default_factory=list)  # files without data rows, malformed records
    docs_uri: str | None = None  # Great Expectations Data Docs of this run
    pii_findings: list[str] = Field(default_factory=list)  # column and kind of PII found in clear
    pii_coverage: str | None = None  # what the PII gate read (rows, columns, NER samples) when it passed
    expectations: list[ExpectationLine] = Field(default_factory=list)
    masked_columns: dict[str, str] = Field(default_factory=dict)
    drift: list[DriftLine] = Field(default_factory=list)  # profile drift found by the profile step
    curated_version: int | None = None
    curated_key: str | None = None  # the curated table
    release_id: str | None = None  # the current version's release
    error: str | None = None
    started_at: datetime | None = None  # when the run started this source's steps (UTC)
    finished_at: datetime | None = None  # when its last step ended (the run history keeps both)

    @property
    def ok(self) -> bool:
        return self.status in (SourceStatus.PUBLISHED, SourceStatus.UNCHANGED)

    @property
    def failed_blocking(self) -> list[ExpectationLine]:
        return [e for e in self.expectations if e.blocking]

    @property
    def warnings(self) -> list[ExpectationLine]:
        return [e for e in self.expectations if not e.success and e.action == "warn"]


class RunResult(BaseModel):
    run_id: str
    lake: str
    warehouse: str | None = None
    sources: list[SourceResult]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.sources)


class DispatchResult(BaseModel):
    """What one labeling plan sent to Label Studio."""

    plan: str
    dataset: str
    project_id: int
    project_url: str
    curated_version: int
    sampled: int
    created: int
    skipped: int
    gold_included: int = 0
    gold_missing: list[str] = Field(default_factory=list)
    strata: dict[str, int] = Field(default_factory=dict)


class CollectResult(BaseModel):
    """What collecting one plan's annotations decided and published."""

    plan: str
    dataset: str
    project_id: int
    annotations: int
    verdict: str
    krippendorff_alpha: float | None
    items: dict[str, int]  # decision → items
    labels_dataset: str
    labels_version: int | None = None
    published: bool = False
    review_created: int = 0
    gold: dict[str, dict[str, Any]] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


class PlanStatus(BaseModel):
    """Progress of one labeling plan in Label Studio."""

    plan: str
    project_id: int | None
    overlap: int
    tasks: int = 0
    started: int = 0
    complete: int = 0
    annotations: int = 0
    labels_dataset: str
    labels_version: int | None = None
