"""Run reports as Markdown, for Prefect artifacts and for people reading them in the UI.

Only counts, column names and rule ids reach a report: it is published where many people can read
it, so it must never carry a data value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flows.results import SourceResult, SourceStatus

if TYPE_CHECKING:
    from flows.results import CollectResult, RunResult
    from labeling.agreement import AgreementReport

_STATUS_LINE = {
    SourceStatus.PUBLISHED: "✅ published curated version {version}",
    SourceStatus.UNCHANGED: "♻️ unchanged: curated version {version} is current; nothing new to publish",
    SourceStatus.STOPPED: "⛔ stop-line: {causes}, curated layer untouched",
    SourceStatus.FAILED: "❌ failed: {error}",
    SourceStatus.INTERRUPTED: "⏹ {error}: curated layer untouched",
}


# What stopped a source, as `stop_causes` names it, and as its report's headline says it.
_CAUSE_WORDS = {
    "schema": "blocking schema issues",
    "rules": "blocking rules failed",
    "PII": "personal data in clear",
    "drift": "blocking drift from the last published runs",
}


def stop_causes(result: SourceResult) -> list[str]:
    """Why a stopped source stopped (``schema``, ``drift``, ``rules``, ``PII``), read from what its result
    recorded: the run's table artifact, its final state's message and the report's headline name them.

    One stop-line can have several causes; none is listed for a source that did not stop on them.
    """
    causes: list[str] = []
    if result.schema_issues:  # columns that do not fit the contract, or malformed records that block
        causes.append("schema")
    if any(d.action == "block" for d in result.drift):  # the profile drifted beyond what the contract allows
        causes.append("drift")
    if result.failed_blocking:
        causes.append("rules")
    if result.pii_findings:
        causes.append("PII")
    return causes


def stop_headline(result: SourceResult) -> str:
    """The causes in words, e.g. ``personal data in clear``; ``no cause recorded`` when there is none."""
    words = [_CAUSE_WORDS.get(cause, cause) for cause in stop_causes(result)]
    return " and ".join(words) or "no cause recorded"


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def source_markdown(result: SourceResult) -> str:
    """One source's run: status, row counts, expectations and masking."""
    status = _STATUS_LINE[result.status].format(
        version=result.curated_version, error=result.error, causes=stop_headline(result)
    )
    lines = [
        f"# {result.source}",
        "",
        f"**{status}**",
        "",
        f"- run: `{result.run_id}`",
        f"- rows in: {_cell(result.rows_in)}; rows out: {_cell(result.rows_out)}",
        f"- raw objects: {len(result.raw_keys)} ({result.raw_reused} already landed earlier)",
    ]
    if result.note:
        lines.append(f"- extract: {_cell(result.note)}")
    if result.rows_quarantined:
        lines.append(f"- quarantined rows: {result.rows_quarantined} (`{result.quarantine_key}`)")
    if result.docs_uri:
        lines.append(f"- Data Docs: {result.docs_uri}")
    if result.pii_coverage:
        lines.append(f"- PII gate: {_cell(result.pii_coverage)}")
    if result.curated_key:
        lines.append(f"- curated: `{result.curated_key}`")
    if result.schema_issues:
        lines += ["", "## Schema", ""]
        lines += [f"- {_cell(issue)}" for issue in result.schema_issues]
    if result.read_notes:
        lines += ["", "## Reading", ""]
        lines += [f"- {_cell(note)}" for note in result.read_notes]
    if result.schema_notes:
        lines += ["", "## Schema drift (allowed by the contract)", ""]
        lines += [f"- {_cell(note)}" for note in result.schema_notes]
    if result.pii_findings:
        lines += ["", "## Personal data in clear", ""]
        lines += [f"- {_cell(finding)}" for finding in result.pii_findings]
    if result.drift:
        lines += ["", "## Drift from the last published runs", "", "| check | column | action | detail |"]
        lines.append("|---|---|---|---|")
        lines += [
            f"| {d.kind} | {_cell(d.column or '')} | {'**block**' if d.action == 'block' else d.action} "
            f"| {_cell(d.detail)} |"
            for d in result.drift
        ]
    if result.expectations:
        passed = sum(e.success for e in result.expectations)
        lines += [
            "",
            f"## Expectations: {passed}/{len(result.expectations)} passed",
            "",
            "| rule | severity | result | unexpected | of |",  # result: pass, FAIL, quarantine or warn
            "|---|---|---|---|---|",
        ]
        for e in result.expectations:
            verdict = "pass" if e.success else ("**FAIL**" if e.blocking else e.action)
            lines.append(
                f"| `{_cell(e.rule_id)}` | {e.severity} | {verdict} | {_cell(e.unexpected_count)} "
                f"| {_cell(e.element_count)} |"
            )
    if result.masked_columns:
        lines += ["", "## Masked columns", "", "| column | rule |", "|---|---|"]
        lines += [f"| `{col}` | {rule} |" for col, rule in sorted(result.masked_columns.items())]
    return "\n".join(lines) + "\n"


RUN_TABLE_COLUMNS = (
    "source",
    "status",
    "rows in",
    "rows out",
    "quarantined",
    "rules",
    "version",
    "release",
    "stop cause",
)


def run_table(run: RunResult) -> list[dict[str, str | int | None]]:
    """One row per source for the run's table artifact: counts, ids and causes, no data value.

    ``rules`` is passed/total (every expectation the source ran); ``stop cause`` lists `stop_causes`.
    """
    rows: list[dict[str, str | int | None]] = []
    for r in run.sources:
        passed = sum(e.success for e in r.expectations)
        values: tuple[str | int | None, ...] = (
            r.source,
            r.status.value,
            r.rows_in,
            r.rows_out,
            r.rows_quarantined,
            f"{passed}/{len(r.expectations)}" if r.expectations else None,
            r.curated_version,
            r.release_id,
            ", ".join(stop_causes(r)) if r.status is SourceStatus.STOPPED else None,
        )
        rows.append(dict(zip(RUN_TABLE_COLUMNS, values, strict=True)))
    return rows


def collect_markdown(result: CollectResult, report: AgreementReport) -> str:
    """A labeling plan's collection: the gate's verdict, agreement figures, per label and per annotator.

    Annotators are named by pseudonym (``annotator-<Label Studio user id>``); labels are the plan's own
    categories, never data values.
    """

    def number(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}"

    lines = [
        f"# Labels: {result.plan}",
        "",
        f"**verdict: {result.verdict}** (Krippendorff's α {number(result.krippendorff_alpha)})",
        "",
        f"- annotations: {result.annotations}; complete items: {report.items}; "
        f"annotators: {report.annotators}",
        "- items: " + ", ".join(f"{decision} {count}" for decision, count in result.items.items()),
        f"- Fleiss' κ: {number(report.fleiss_kappa)}; Cohen's κ: {number(report.cohen_kappa)}",
    ]
    if result.labels_version:
        state = "published" if result.published else "unchanged"
        lines.append(f"- labels: `{result.labels_dataset}` v{result.labels_version} ({state})")
    if result.review_created:
        lines.append(f"- sent to review: {result.review_created} item(s)")
    lines += [f"- note: {_cell(note)}" for note in result.notes]
    if report.per_label:
        lines += ["", "## Per label", "", "| label | annotations | majority items | specific agreement |"]
        lines.append("|---|---|---|---|")
        for label, stats in sorted(report.per_label.items()):
            lines.append(
                f"| {_cell(label)} | {stats.annotations} | {stats.majority_items} "
                f"| {number(stats.specific_agreement)} |"
            )
    if report.per_annotator:
        lines += ["", "## Per annotator", "", "| annotator | items | agreement with others | gold accuracy |"]
        lines.append("|---|---|---|---|")
        for annotator, annotator_stats in sorted(report.per_annotator.items()):
            gold = result.gold.get(annotator)
            accuracy = number(gold["accuracy"]) if gold else "–"
            lines.append(
                f"| {_cell(annotator)} | {annotator_stats.items} | {number(annotator_stats.agreement)} "
                f"| {accuracy} |"
            )
    return "\n".join(lines) + "\n"
