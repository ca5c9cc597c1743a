"""The ``lockgate`` command: the root Typer app and where every command group is mounted.

Command modules import only Typer, Rich and each other at import time; the flows and libraries they
call (Prefect, Great Expectations, polars, DuckDB) load when a command runs, so ``lockgate --help``
stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli import agreement, catalog, erase, query, run, versions
from cli.access import access_app
from cli.access import commands as access_commands
from cli.audit import audit_app
from cli.bench import bench
from cli.config import config_app
from cli.contract import contract_app
from cli.docs import docs_app
from cli.label import label_app
from cli.lake import lake_app
from cli.pii import pii_app
from cli.release import release_app
from cli.retention import retention_app
from cli.status import commands as status_commands

app = typer.Typer(
    name="lockgate",
    help="Data pipeline with quality contracts and PII masking, orchestrated by Prefect.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from flows.release import code_version  # what release ids record as the code version

        typer.echo(f"lockgate {code_version()}")
        raise typer.Exit


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Data pipeline with quality contracts and PII masking, orchestrated by Prefect."""


# Groups without a name add their commands at the top level: `lockgate validate`, `lockgate run`, ...
app.add_typer(catalog.commands)
app.add_typer(run.commands)
app.add_typer(query.commands)
app.add_typer(access_commands)  # `lockgate query --as ROLE`
app.add_typer(versions.commands)
app.add_typer(erase.commands)
app.add_typer(agreement.commands)
app.add_typer(status_commands)  # lockgate status
app.add_typer(pii_app, name="pii")
app.add_typer(contract_app, name="contract")
app.add_typer(label_app, name="label")
app.add_typer(lake_app, name="lake")
app.add_typer(release_app, name="release")
app.add_typer(retention_app, name="retention")
app.add_typer(config_app, name="config")
app.add_typer(audit_app, name="audit")
app.add_typer(docs_app, name="docs")
app.add_typer(access_app, name="access")
# Through a group of its own so that the benchmark, a tool for developers, is listed last in --help.
tools = typer.Typer()
tools.command("bench")(bench)
app.add_typer(tools)


if __name__ == "__main__":
    app()
