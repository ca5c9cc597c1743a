"""Quality and volume over time per source: a self-contained HTML page, and the same figures as markdown.

The page carries plotly.js inline (about 4.6 MB), so it opens anywhere, offline, and loads nothing from a
CDN when viewed. Prefect's UI renders markdown artifacts but runs no scripts in them, so the ingest run
publishes the figures as markdown instead: a sparkline and a table of the recent runs per source.
Counts, names and ids only, like the status rows they are drawn from.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from flows.status import RunPoint, SourceStatusRow

_BARS = "▁▂▃▄▅▆▇█"
PLOT_HEIGHT = "520px"


def plot_id(source: str) -> str:
    """The HTML id of a source's figure, so a page (and a test) can find it."""
    return f"lockgate-plot-{source}"


def _figure_html(row: SourceStatusRow) -> str:
    # plotly ships no type information (pyproject's mypy overrides do not list it yet).
    import plotly.graph_objects as go  # type: ignore[import-untyped]
    from plotly.subplots import make_subplots  # type: ignore[import-untyped]

    times = [p.finished_at for p in row.runs]
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=("quality (share of checks passed)", "volume (rows)"),
    )
    figure.add_trace(
        go.Scatter(
            x=times,
            y=[p.quality for p in row.runs],
            mode="lines+markers",
            name="quality",
            text=[f"{p.run_id}: {p.status}" for p in row.runs],
            connectgaps=False,
        ),
        row=1,
        col=1,
    )
    for name, values in (
        ("rows in", [p.rows_in for p in row.runs]),
        ("rows out", [p.rows_out for p in row.runs]),
        ("quarantined", [p.rows_quarantined for p in row.runs]),
    ):
        figure.add_trace(go.Bar(x=times, y=values, name=name), row=2, col=1)
    figure.update_yaxes(range=[0, 1.05], tickformat=".0%", row=1, col=1)
    figure.update_layout(title=f"{row.source}: last {len(row.runs)} run(s)", barmode="group")
    return str(
        figure.to_html(
            full_html=False, include_plotlyjs=False, div_id=plot_id(row.source), default_height=PLOT_HEIGHT
        )
    )


def status_html(rows: list[SourceStatusRow], *, title: str = "Lockgate status") -> str:
    """The whole page: a summary table, then one figure per source that has runs."""
    from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

    cells = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(value))}</td>"
            for value in (
                row.source,
                row.owner,
                row.last_state or "-",
                row.last_run_at.strftime("%Y-%m-%d %H:%M UTC") if row.last_run_at else "-",
                row.freshness.value,
                "-" if row.curated_version is None else row.curated_version,
                row.quality_trend.value,
            )
        )
        + "</tr>"
        for row in rows
    )
    header = "".join(
        f"<th>{name}</th>"
        for name in ("source", "owner", "last run", "finished", "freshness", "version", "quality trend")
    )
    figures = "".join(
        f"<section><h2>{html.escape(row.source)}</h2>{_figure_html(row)}</section>"
        for row in rows
        if row.runs
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1><table><thead><tr>{header}</tr></thead><tbody>{cells}</tbody></table>"
        f"{figures}</body></html>\n"
    )


def write_status_page(rows: list[SourceStatusRow], path: Path) -> Path:
    """Write the page (parents created) and return where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(status_html(rows), encoding="utf-8")
    return path


def sparkline(values: list[float | None], top: float | None = None) -> str:
    """One character per value, ``·`` for none: a figure that renders in any markdown."""
    present = [v for v in values if v is not None]
    high = top if top is not None else max(present, default=0.0)
    if high <= 0:
        return "".join(_BARS[0] if v is not None else "·" for v in values)
    return "".join(
        "·" if v is None else _BARS[min(len(_BARS) - 1, int(v / high * (len(_BARS) - 1) + 0.5))]
        for v in values
    )


def _cell(value: object) -> str:
    return "-" if value is None else str(value).replace("|", "\\|")


def _quality(point: RunPoint) -> str:
    return "-" if point.quality is None else f"{point.quality:.1%}"


def trend_markdown(row: SourceStatusRow) -> str:
    """One source's recent runs as markdown: sparklines of quality and volume, then a table."""
    quality = sparkline([p.quality for p in row.runs], top=1.0)
    volume = sparkline([None if p.rows_out is None else float(p.rows_out) for p in row.runs])
    lines = [
        f"# {row.source}: quality and volume over the last {len(row.runs)} run(s)",
        "",
        f"Owner {row.owner}; freshness **{row.freshness.value}**; "
        f"quality trend **{row.quality_trend.value}**.",
        "",
        f"- quality `{quality}` (oldest → newest, full bar = 100%)",
        f"- rows out `{volume}`",
        "",
        "| run | finished (UTC) | status | quality | checks | rows in | rows out | quarantined |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {_cell(p.run_id)} | {p.finished_at:%Y-%m-%d %H:%M:%S} | {p.status} | {_quality(p)} | {p.checks} "
        f"| {_cell(p.rows_in)} | {_cell(p.rows_out)} | {p.rows_quarantined} |"
        for p in reversed(row.runs)
    ]
    return "\n".join(lines)
