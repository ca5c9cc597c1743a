"""Errors of the flows layer: a source's stop-line, a run that did not publish every source or was
interrupted.

All derive from `storage.errors.LockgateError` and cross process boundaries (Prefect task runners),
so they carry plain data and pickle through the root's ``__reduce__``.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from storage.errors import LockgateError

if TYPE_CHECKING:
    from contracts.drift import DriftFinding
    from contracts.validation import ValidationReport
    from flows.results import RunResult
    from storage.retention import RetentionReport


class StopLine(LockgateError):  # noqa: N818 - the name is the domain term
    """A blocking contract rule failed: nothing of this source may reach the curated layer."""

    def __init__(
        self,
        source: str,
        schema_issues: list[str],
        report: ValidationReport | None,
        pii_findings: list[str] | None = None,
        drift_findings: list[DriftFinding] | None = None,  # all of the batch's, warnings too
    ) -> None:
        self.source = source
        self.schema_issues = schema_issues
        self.report = report
        self.pii_findings = pii_findings or []
        self.drift_findings = drift_findings or []
        failed = [o.rule_id for o in report.blocking_failures] if report else []
        parts = [f"{len(schema_issues)} blocking schema issue(s)"] if schema_issues else []
        if failed:
            parts.append(f"failed blocking rules: {', '.join(failed)}")
        if self.pii_findings:
            parts.append(f"{len(self.pii_findings)} column(s) with personal data in clear")
        drifted = [f"{f.kind} {f.column}" if f.column else f.kind for f in self.drift_findings if f.blocking]
        if drifted:
            parts.append(f"blocking drift: {', '.join(drifted)}")
        super().__init__(f"stop-line for '{source}': {'; '.join(parts)}")


class SettingsError(LockgateError, ValueError):
    """A ``LOCKGATE_*`` variable holds a value its setting cannot take; the message names the variable."""


class LabelingNotReady(LockgateError, RuntimeError):  # noqa: N818 - reads as the plan's state
    """A labeling step came before its prerequisite: no curated data yet, or nothing dispatched."""


class RunFailed(LockgateError):  # noqa: N818 - reads as what happened to the run
    """Some source did not publish; carries the whole run's result for the command line and callers."""

    def __init__(self, run: RunResult) -> None:
        self.run = run
        bad = ", ".join(f"{r.source} ({r.status.value})" for r in run.sources if not r.ok)
        super().__init__(f"run {run.run_id} did not publish every source: {bad}")


class Interrupted(LockgateError):  # noqa: N818 - reads as what happened to the run
    """SIGINT or SIGTERM stopped the run at a step boundary; carries the run so far and the signal, whose
    number the command line adds to 128 for its exit code."""

    def __init__(self, run: RunResult, signum: int) -> None:
        from flows.results import SourceStatus  # a runtime need of this class only

        self.run = run
        self.signum = signum
        left = ", ".join(r.source for r in run.sources if r.status is SourceStatus.INTERRUPTED)
        super().__init__(
            f"run {run.run_id} stopped by {signal.Signals(signum).name}"
            + (f" before finishing: {left}" if left else " after its last step")
        )


class RetentionIncomplete(LockgateError):  # noqa: N818 - reads as what happened to the pass
    """A retention pass could not read or remove every expired object of some layer; carries the report
    (what was removed is in it and in the audit log), and names each failed layer."""

    def __init__(self, report: RetentionReport) -> None:
        self.report = report
        failed = "; ".join(f"{x.source}/{x.layer}: {x.error}" for x in report.layers if x.error)
        super().__init__(f"retention incomplete: {failed}")


class ErasureError(LockgateError, ValueError):
    """An erasure request that cannot be carried out as given (no such column, no ``COLUMN=VALUE``);
    names the source and column, never the value."""


class SubjectNotFound(LockgateError):  # noqa: N818 - reads as what was found
    """An erasure found the subject nowhere: no row in raw, quarantine or curated, no Label Studio task."""


class WorkPoolError(LockgateError, LookupError):
    """The Prefect work pool named for ``lockgate deploy`` is missing or cannot be looked up; the
    message names it and says how to create it."""


class DaskUnavailable(LockgateError):  # noqa: N818 - reads as what the run found
    """``--task-runner dask`` could not get its workers: the scheduler the setting names does not answer,
    or a local cluster could not start; the message names the address."""
