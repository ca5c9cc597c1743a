"""Prefect events for what happens to a source, so automations can notify owners or start other work.

Every source outcome of an ingest run is one event, ``lockgate.source.<status>`` (``published``,
``unchanged``, ``stopped``, ``failed``, ``interrupted``), and the freshness check adds
``lockgate.source.late``. The event's resource is the source: ``lockgate.source.<name>``, with labels
``lockgate.owner``, ``lockgate.steward``, ``lockgate.sensitivity`` and ``lockgate.run-id``, so a trigger
can match one source, one owner or every restricted source. The payload holds counts, names and ids
(rows, rules, versions, release ids, times), never a data value and never an error's text, which can
quote one. Inside a flow run, Prefect relates the event to that flow run on its own.

Event ids derive from what they announce (run and source, or source and missed due time), so sending
one again is recognisably the same event.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from prefect.events import emit_event

if TYPE_CHECKING:
    from datetime import datetime

    from prefect.events import Event

    from flows.results import SourceResult
    from sources.passport import Passport

EVENT_PREFIX = "lockgate.source"
LATE = f"{EVENT_PREFIX}.late"
_NAMESPACE = uuid.UUID("8c9f6a1e-2b7d-4f0e-9a51-3d6c2e7b4f10")  # Lockgate's event ids


def source_resource_id(source: str) -> str:
    return f"{EVENT_PREFIX}.{source}"


def source_resource(passport: Passport, run_id: str) -> dict[str, str]:
    """The source as a Prefect resource: who owns it and how sensitive it is, for triggers to match."""
    return {
        "prefect.resource.id": source_resource_id(passport.name),
        "prefect.resource.name": passport.name,
        "lockgate.owner": str(passport.owner),
        "lockgate.steward": str(passport.steward),
        "lockgate.sensitivity": passport.sensitivity.value,
        "lockgate.run-id": run_id,
    }


def outcome_event(result: SourceResult) -> str:
    """``lockgate.source.published``, ``…stopped`` and so on: the source's status in the run."""
    return f"{EVENT_PREFIX}.{result.status.value}"


def outcome_payload(result: SourceResult) -> dict[str, Any]:
    """What the run did, in counts and ids: enough for a notification to say what to look at."""
    failed = [e for e in result.expectations if not e.success]
    return {
        "status": result.status.value,
        "rows_in": result.rows_in,
        "rows_out": result.rows_out,
        "rows_quarantined": result.rows_quarantined,
        "rows_suppressed": result.rows_suppressed,
        "raw_files": len(result.raw_keys),
        "raw_reused": result.raw_reused,
        "rules_checked": len(result.expectations),
        "rules_failed": len(failed),
        "blocking_rules_failed": sorted({e.rule_id for e in result.failed_blocking}),
        "warnings": len(result.warnings),
        "schema_issues": len(result.schema_issues),
        "pii_findings": len(result.pii_findings),
        "curated_version": result.curated_version,
        "release_id": result.release_id,
        "started_at": result.started_at.isoformat() if result.started_at else None,
        "finished_at": result.finished_at.isoformat() if result.finished_at else None,
    }


def emit_source_outcome(passport: Passport, result: SourceResult) -> Event | None:
    """Announce one source's outcome in a run; None when no Prefect API is there to receive it."""
    name = outcome_event(result)
    return emit_event(
        name,
        resource=source_resource(passport, result.run_id),
        payload=outcome_payload(result),
        occurred=result.finished_at,
        id=uuid.uuid5(_NAMESPACE, f"{name}/{passport.name}/{result.run_id}"),
    )


def emit_source_late(
    passport: Passport,
    *,
    check_run_id: str,
    missed_due: datetime,
    due_at: datetime | None,
    last_run_id: str | None,
    last_success_at: datetime | None,
) -> Event | None:
    """Announce that a source missed a due time; `missed_due` names which one (one event per time)."""
    return emit_event(
        LATE,
        resource=source_resource(passport, check_run_id),
        payload={
            "update_frequency": passport.update_frequency,
            "missed_due": missed_due.isoformat(),
            "due_at": due_at.isoformat() if due_at else None,
            "last_run_id": last_run_id,
            "last_success_at": last_success_at.isoformat() if last_success_at else None,
        },
        id=uuid.uuid5(_NAMESPACE, f"{LATE}/{passport.name}/{missed_due.isoformat()}"),
    )
