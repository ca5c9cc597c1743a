"""``lockgate audit [filters]`` lists the lake's audit log; ``lockgate audit verify`` checks its hash chain.

Both only read: a lake folder that does not exist is an error, never created.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.errors import EXIT_FAILED, exit_on_failure
from cli.options import DEFAULT_LAKE, FormatOption, LakeOption
from cli.output import OutputFormat, write

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import RenderableType

    from storage.audit import AuditCheck, AuditEntry

audit_app = typer.Typer(invoke_without_command=True)

# The CSV header of an empty listing; the same fields as storage.audit.AuditEntry, which loads lazily.
ENTRY_FIELDS = (
    "seq",
    "at",
    "actor",
    "role",
    "action",
    "source",
    "outcome",
    "details",
    "prev_hash",
    "hash",
)
_DETAILS_WIDTH = 60


@audit_app.callback()
def audit(
    ctx: typer.Context,
    lake: LakeOption = DEFAULT_LAKE,
    since: Annotated[
        str | None, typer.Option(help="Only entries at or after this UTC date or time (YYYY-MM-DD or ISO).")
    ] = None,
    role: Annotated[str | None, typer.Option(help="Only entries made under this role.")] = None,
    action: Annotated[
        str | None, typer.Option(help="Only this action and its sub-actions (retention: retention.delete).")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only entries about this dataset.")] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """The lake's audit log: deletions, erasures, rollbacks and queries, who made them and when.

    Without a command, lists the entries oldest first; `lockgate audit verify` checks that none was
    changed, removed or reordered.
    """
    if ctx.invoked_subcommand is not None:
        # `lockgate audit --lake x verify` would otherwise verify the default lake, not x.
        given = [name for name in ctx.params if _on_command_line(ctx, name)]
        if given:
            names = ", ".join(f"--{name}".replace("--output", "--format") for name in given)
            raise typer.BadParameter(f"give {names} after `{ctx.invoked_subcommand}`, not before it")
        return
    from storage import audit as audit_log
    from storage.integrity import open_existing

    start = _parse_since(since) if since is not None else None
    with exit_on_failure():
        found = audit_log.entries(open_existing(lake), since=start, role=role, action=action, source=source)
    filtered = any(value is not None for value in (since, role, action, source))
    write(found, lambda rows: _entries_text(rows, filtered), output, columns=ENTRY_FIELDS)


@audit_app.command()
def verify(lake: LakeOption = DEFAULT_LAKE, output: FormatOption = OutputFormat.TEXT) -> None:
    """Check the audit log's hash chain; name the first broken entry and exit 1 if there is one."""
    from storage import audit as audit_log
    from storage.integrity import open_existing

    with exit_on_failure():
        check = audit_log.verify(open_existing(lake))
    write(check, _check_text, output)
    if not check.ok:
        raise typer.Exit(EXIT_FAILED)


def _on_command_line(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def _parse_since(value: str) -> datetime:
    """A date (midnight UTC) or an ISO time; a time without an offset is UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            "expected a date (2026-03-01) or an ISO time (2026-03-01T12:00:00Z)", param_hint="--since"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _entries_text(found: list[AuditEntry], filtered: bool) -> Iterator[RenderableType]:
    if not found:
        yield "no audit entries match the filters" if filtered else "the audit log is empty"
        return
    table = Table()
    for column in ("seq", "at (UTC)", "actor", "role", "action", "source", "outcome"):
        table.add_column(column, no_wrap=column in {"seq", "at (UTC)", "action", "outcome"})
    table.add_column("details")
    for entry in found:
        table.add_row(
            str(entry.seq),
            entry.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            Text(entry.actor),
            Text(entry.role or ""),
            Text(entry.action),
            Text(entry.source or ""),
            Text(entry.outcome, style="green" if entry.outcome == "ok" else "yellow"),
            Text(_short_details(entry)),
        )
    yield table
    yield f"{len(found)} entr{'y' if len(found) == 1 else 'ies'}"


def _short_details(entry: AuditEntry) -> str:
    """``key=value`` pairs, cut to one table cell (``--format json`` shows them whole)."""
    text = ", ".join(
        f"{name}={value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
        for name, value in entry.details.items()
    )
    return text if len(text) <= _DETAILS_WIDTH else text[: _DETAILS_WIDTH - 1] + "…"


def _check_text(check: AuditCheck) -> Iterator[RenderableType]:
    if check.ok:
        if check.entries == 0:
            yield Text("audit log is empty: nothing to verify", style="green")
        else:
            yield Text(f"audit log intact: {check.entries} entries chained", style="green")
            yield f"head hash {check.head} (record it elsewhere to detect a rewritten tail later)"
        return
    where = f"broken at entry {check.first_broken}" if check.first_broken is not None else "not clean"
    yield Text(f"audit log {where}: {check.problem}", style="red")
