"""``lockgate bench``: read the options, run the benchmark of the source checkout, print its figures.

The benchmark (`lockgate_bench`, in ``tools/bench``) is a development tool, not part of the runtime
wheel: it is imported only when the command runs, so ``lockgate`` starts without it and an installed
Lockgate without the checkout's dev dependencies says so in one line instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from cli.options import FormatOption  # noqa: TC001 - typer resolves the annotation at run time
from cli.output import OutputFormat, err, write

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from rich.console import RenderableType

# The benchmark's own defaults (`lockgate_bench.runner`), repeated so that `lockgate --help` does not
# import it; a test keeps the two equal.
DEFAULT_ROWS = 5_000_000
DEFAULT_SOURCE_ROWS = 1_000  # each source's rows with --sources
DEFAULT_SEED = 7
DEFAULT_CACHE = Path(".lockgate") / "bench"
EXIT_FAILED = 1
EXIT_NOT_INSTALLED = 2
NOT_INSTALLED = (
    "lockgate bench: the benchmark ships with the source checkout (tools/bench) and is not installed here; "
    "install the dev dependency group from the checkout ('uv sync' or 'make install')."
)


def bench(
    rows: Annotated[
        int | None,
        typer.Option(
            "--rows",
            min=100,
            help=f"Rows in the reference table (default {DEFAULT_ROWS:,}); with --sources, each source's "
            f"(default {DEFAULT_SOURCE_ROWS:,}).",
        ),
    ] = None,
    output: FormatOption = OutputFormat.TEXT,
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir",
            help="Keep the run's catalogs, lakes and outputs here (default: a temp dir, removed).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = DEFAULT_SEED,
    cache_dir: Annotated[
        Path, typer.Option("--cache-dir", help="Where the generated CSV is cached between runs.")
    ] = DEFAULT_CACHE,
    scaling: Annotated[
        bool, typer.Option("--scaling", help="Also run the pipeline on rows/4 and report memory growth.")
    ] = False,
    sources: Annotated[
        int | None,
        typer.Option(
            "--sources",
            min=1,
            help="Instead of the paths: one ingest run of this many small sources (wall time, peak RSS).",
        ),
    ] = None,
) -> None:
    """Measure the pipeline against a polars floor and a hand-written pandas + GX script.

    Every path runs in its own process (its peak memory is its own); the figures are measured, never
    estimated. The naive path is slow on purpose: it is the baseline (skipped above 5,000,000 rows).
    With --sources N, one run of the ingest flow over N sources of --rows rows each instead. Needs the
    source checkout.
    """
    try:
        from lockgate_bench.errors import BenchDataError, BenchError
        from lockgate_bench.runner import run_benchmark, run_sources
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "lockgate_bench":
            raise
        err.print(Text(NOT_INSTALLED, style="red"))
        raise typer.Exit(EXIT_NOT_INSTALLED) from None

    def progress(line: str) -> None:
        err.print(Text(line, style="dim"))

    try:
        if sources is None:
            result = run_benchmark(
                rows or DEFAULT_ROWS,
                seed=seed,
                workdir=workdir,
                cache_dir=cache_dir,
                scaling=scaling,
                progress=progress,
            )
        else:
            if scaling:
                err.print(Text("--scaling does not apply to --sources: ignored", style="yellow"))
            result = run_sources(
                sources,
                rows or DEFAULT_SOURCE_ROWS,
                seed=seed,
                workdir=workdir,
                cache_dir=cache_dir,
                progress=progress,
            )
    except (BenchError, BenchDataError) as exc:
        # The message ends with a child's stderr, which may hold brackets: never read it as markup.
        err.print(Text(f"bench failed: {exc}", style="red"))
        raise typer.Exit(EXIT_FAILED) from exc
    write(result, _figures_for(sources is not None), output)  # csv: one row, nested figures as JSON


def _figures_for(many_sources: bool) -> Callable[[dict[str, Any]], Iterator[RenderableType]]:
    """The text rendering of a benchmark result: its tables, then the footnote saying how it was measured."""
    from lockgate_bench.report import footnote, tables
    from lockgate_bench.report_sources import sources_footnote, sources_tables

    def render(result: dict[str, Any]) -> Iterator[RenderableType]:
        yield from sources_tables(result) if many_sources else tables(result)
        yield Text(sources_footnote(result) if many_sources else footnote(result))

    return render
