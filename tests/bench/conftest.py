"""What the bench tests share: `lockgate bench` registered on a Typer app of its own."""

from __future__ import annotations

import pytest
import typer

from cli.bench import bench


@pytest.fixture(scope="session")
def bench_app() -> typer.Typer:
    """A stand-in for the lockgate app: the command registered exactly as the lead will register it."""
    app = typer.Typer()
    app.command("bench")(bench)

    @app.callback()
    def main() -> None:
        """Keep `bench` a subcommand, as in the real app."""

    return app
